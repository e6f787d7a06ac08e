/* glob.c: shell-style patterns for COWGUARD_SITES: '*' any run, '?' any one
 * character, '[abc]', '[a-z]', '[!x]' a set. Iterative with one backtrack
 * point, so it neither allocates nor recurses (it runs inside malloc). */
#include "base.h"

/* Does c match the set starting at p (just after '[')? *end gets the
 * character after ']'; a set without ']' is taken literally. */
static bool set_match(const char *p, const char *pend, char c, const char **end)
{
    bool neg = p < pend && (*p == '!' || *p == '^');
    if (neg) p++;
    bool hit = false;
    const char *q = p;
    for (bool first = true; q < pend && (first || *q != ']'); first = false) {
        if (q + 2 < pend && q[1] == '-' && q[2] != ']') {
            if ((unsigned char)c >= (unsigned char)q[0] && (unsigned char)c <= (unsigned char)q[2]) hit = true;
            q += 3;
        } else {
            if (*q == c) hit = true;
            q++;
        }
    }
    if (q >= pend) { /* no closing ']' */
        *end = NULL;
        return false;
    }
    *end = q + 1;
    return hit != neg;
}

/* pattern[0..plen) against the whole of name[0..nlen). */
bool cg_glob_match(const char *pattern, size_t plen, const char *name, size_t nlen)
{
    const char *p = pattern, *pend = pattern + plen, *n = name, *nend = name + nlen;
    const char *star = NULL, *star_n = NULL;
    while (n < nend) {
        if (p < pend && *p == '*') {
            star = ++p;
            star_n = n;
            continue;
        }
        if (p < pend) {
            const char *next = p + 1;
            bool ok;
            if (*p == '?') {
                ok = true;
            } else if (*p == '[') {
                ok = set_match(p + 1, pend, *n, &next);
                if (!next) { /* literal '[' */
                    ok = *n == '[';
                    next = p + 1;
                }
            } else {
                ok = *p == *n;
            }
            if (ok) {
                p = next;
                n++;
                continue;
            }
        }
        if (!star) return false;
        p = star; /* let the last '*' take one more character */
        n = ++star_n;
    }
    while (p < pend && *p == '*') p++;
    return p == pend;
}
