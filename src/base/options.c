/* options.c: the COWGUARD_* variables. Read once from the environment by
 * scanning it directly (no getenv, no allocation: this can run inside the
 * first malloc). A bad value is reported in one line and the default kept;
 * an unknown COWGUARD_* name gets the closest known name. */
#include <string.h>

#include "base.h"

const cg_option_t cg_option_table[] = {
#define CG_OPT(field, name, type, deflt, words, min, max, doc) \
    { name, CG_OPT_##type, deflt, words, min, max, doc },
#include "options.def"
#undef CG_OPT
};
const size_t cg_option_count = sizeof cg_option_table / sizeof cg_option_table[0];

cg_options_t cg_opt;

/* Where each row's value is stored, in table order. */
static uint64_t *const option_slot[] = {
#define CG_OPT(field, name, type, deflt, words, min, max, doc) &cg_opt.field,
#include "options.def"
#undef CG_OPT
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* "4096", "64k", "64K", "64KB", "64KiB", "1M", "2G", "1T": binary units. */
int cg_parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    switch (lower(*p)) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    case 'b': break;
    case '\0': break;
    default: return -1;
    }
    if (shift) {
        p++;
        if (lower(*p) == 'i') {
            p++;
            if (lower(*p) != 'b') return -1;
        }
        if (lower(*p) == 'b') p++;
    } else if (lower(*p) == 'b') {
        p++;
    }
    if (*p) return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = v << shift;
    return 0;
}

static int parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* Index of s among the '|'-separated words, case-sensitive like the docs. */
static int parse_enum(const char *s, const char *words, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t i = 0;
    for (const char *w = words; *w; i++) {
        const char *bar = strchr(w, '|');
        size_t wl = bar ? (size_t)(bar - w) : strlen(w);
        if (n && wl == n && memcmp(w, s, n) == 0) {
            *out = i;
            return 0;
        }
        if (!bar) break;
        w = bar + 1;
    }
    return -1;
}

int cg_option_parse(const cg_option_t *o, const char *value, uint64_t *out)
{
    uint64_t v;
    switch (o->type) {
    case CG_OPT_ENUM:
        return parse_enum(value, o->words, out);
    case CG_OPT_BOOL:
        if (strcmp(value, "0") == 0) v = 0;
        else if (strcmp(value, "1") == 0) v = 1;
        else return -1;
        break;
    case CG_OPT_SIZE:
        if (cg_parse_size(value, &v) != 0 || v < o->min || v > o->max) return -1;
        break;
    case CG_OPT_UINT:
        if (parse_uint(value, &v) != 0 || v < o->min || v > o->max) return -1;
        break;
    case CG_OPT_STRING:
        if (!*value) return -1;
        v = (uint64_t)(uintptr_t)value;
        break;
    default:
        return -1;
    }
    *out = v;
    return 0;
}

/* The word an enum option's value stands for ("abort" for
 * COWGUARD_POLICY's 1), copied into buf; "?" for a value out of range. */
const char *cg_option_word(const cg_option_t *o, uint64_t value, char *buf, size_t size)
{
    const char *w = o->type == CG_OPT_ENUM ? o->words : NULL;
    for (uint64_t i = 0; w && i < value; i++) {
        w = strchr(w, '|');
        if (w) w++;
    }
    if (!w || !size) return "?";
    const char *bar = strchr(w, '|');
    cg_fmt(buf, size, "%.*s", (int)(bar ? (size_t)(bar - w) : strlen(w)), w);
    return buf;
}

/* A size in the largest binary unit that divides it. */
static void size_text(uint64_t v, char *buf, size_t size)
{
    static const char units[] = "kMGT";
    int u = -1;
    while (u < 3 && v && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0) cg_fmt(buf, size, "%llu", (unsigned long long)v);
    else cg_fmt(buf, size, "%llu%c", (unsigned long long)v, units[u]);
}

/* The accepted form of an option, for error messages. */
void cg_option_expected(const cg_option_t *o, char *buf, size_t size)
{
    switch (o->type) {
    case CG_OPT_ENUM: {
        char words[128];
        cg_fmt(words, sizeof words, "%s", o->words);
        for (char *p = words; *p; p++)
            if (*p == '|') *p = ',';
        cg_fmt(buf, size, "one of %s", words);
        break;
    }
    case CG_OPT_BOOL:
        cg_fmt(buf, size, "0 or 1");
        break;
    case CG_OPT_SIZE: {
        char lo[24], hi[24];
        size_text(o->min, lo, sizeof lo);
        size_text(o->max, hi, sizeof hi);
        if (o->min)
            cg_fmt(buf, size, "a size such as 64k, 1M or 2G, from %s to %s", lo, hi);
        else
            cg_fmt(buf, size, "a size such as 4096, 64k, 1M or 2G, at most %s", hi);
        break;
    }
    case CG_OPT_UINT:
        cg_fmt(buf, size, "a whole number from %llu to %llu", (unsigned long long)o->min,
               (unsigned long long)o->max);
        break;
    case CG_OPT_STRING:
        cg_fmt(buf, size, "a non-empty value");
        break;
    }
}

/* Edit distance, for "did you mean". Names are short: a row of 64 suffices. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known name closest to name[0..len), or NULL when none is close. */
const char *cg_option_suggest(const char *name, size_t len)
{
    const char *best = NULL;
    size_t best_d = 4; /* more edits than this is a different word */
    for (size_t i = 0; i < cg_option_count; i++) {
        const char *k = cg_option_table[i].name;
        size_t d = edit_distance(name, len, k, strlen(k));
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

static const cg_option_t *find(const char *name, size_t len)
{
    for (size_t i = 0; i < cg_option_count; i++) {
        const char *k = cg_option_table[i].name;
        if (strlen(k) == len && memcmp(k, name, len) == 0) return &cg_option_table[i];
    }
    return NULL;
}

/* String values are copied: programs rewrite their environment (redis and
 * nginx put their process title there). Static storage: no malloc here.
 * NULL when the pool is full: the variable then keeps its default. */
static const char *keep(const char *value)
{
    static char pool[16384];
    static size_t used;
    size_t n = strlen(value) + 1;
    if (n > sizeof pool - used) return NULL;
    char *copy = memcpy(pool + used, value, n);
    used += n;
    return copy;
}

void cg_options_load(char **envp)
{
    for (size_t i = 0; i < cg_option_count; i++)
        if (!cg_option_table[i].deflt || cg_option_parse(&cg_option_table[i], cg_option_table[i].deflt,
                                                         option_slot[i]) != 0)
            *option_slot[i] = 0;
    for (char **e = envp; e && *e; e++) {
        const char *var = *e;
        if (strncmp(var, "COWGUARD_", 9) != 0) continue;
        const char *eq = strchr(var, '=');
        if (!eq) continue;
        size_t len = (size_t)(eq - var);
        const cg_option_t *o = find(var, len);
        if (!o) {
            const char *near = cg_option_suggest(var, len);
            if (near)
                cg_message("unknown variable %.*s (did you mean %s?); ignored", (int)len, var, near);
            else
                cg_message("unknown variable %.*s; ignored", (int)len, var);
            continue;
        }
        uint64_t v;
        if (cg_option_parse(o, eq + 1, &v) == 0) {
            if (o->type == CG_OPT_STRING) {
                const char *copy = keep(eq + 1);
                if (!copy) {
                    cg_message("%s: value too long (%.40s...); using %s", o->name, eq + 1,
                               o->deflt ? o->deflt : "none");
                    continue;
                }
                v = (uint64_t)(uintptr_t)copy;
            }
            *option_slot[o - cg_option_table] = v;
        } else {
            char expected[160];
            cg_option_expected(o, expected, sizeof expected);
            cg_message("%s='%s' is not valid: expected %s; using %s", o->name, eq + 1, expected,
                       o->deflt ? o->deflt : "none");
        }
    }
    cg_debug_enable(cg_opt.verbose >= 2);
}

_Atomic uint8_t cg_free_hooks;
