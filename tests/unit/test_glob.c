/* test_glob.c: the COWGUARD_SITES patterns, against fnmatch(3) where the two
 * agree by definition (no '/' or leading-dot rules are involved). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fnmatch.h>
#include <string.h>

#include "base.h"

static bool match(const char *p, const char *n)
{
    return cg_glob_match(p, strlen(p), n, strlen(n));
}

static void test_literals_and_wildcards(void **state)
{
    (void)state;
    assert_true(match("build_table", "build_table"));
    assert_false(match("build_table", "build_tables"));
    assert_false(match("build_table", "build_tabl"));
    assert_true(match("build_*", "build_table"));
    assert_true(match("build_*", "build_"));
    assert_false(match("build_*", "rebuild_table"));
    assert_true(match("*table", "build_table"));
    assert_true(match("*_t*e", "build_table"));
    assert_true(match("b?ild_table", "build_table"));
    assert_false(match("b?ild_table", "bild_table"));
    assert_true(match("*", ""));
    assert_true(match("", ""));
    assert_false(match("", "x"));
    assert_true(match("**a**", "banana"));
    assert_true(match("*a*a*a", "banana"));
    assert_false(match("*a*a*a*a", "banana"));
}

static void test_sets(void **state)
{
    (void)state;
    assert_true(match("lib[fb]oo.so", "libfoo.so"));
    assert_true(match("lib[fb]oo.so", "libboo.so"));
    assert_false(match("lib[fb]oo.so", "libzoo.so"));
    assert_true(match("v[0-9]", "v7"));
    assert_false(match("v[!0-9]", "v7"));
    assert_true(match("v[!0-9]", "vx"));
    assert_true(match("a[]]b", "a]b"));
    assert_true(match("a[b", "a[b")); /* an unclosed set is literal */
}

/* A length bounds the pattern: "build_*,other" is matched one glob at a time. */
static void test_lengths(void **state)
{
    (void)state;
    const char *list = "build_*,other";
    assert_true(cg_glob_match(list, 7, "build_x", 7));
    assert_false(cg_glob_match(list, 7, "other", 5));
    assert_true(cg_glob_match(list + 8, 5, "other", 5));
}

/* Many pairs, compared with the C library's fnmatch. */
static void test_against_fnmatch(void **state)
{
    (void)state;
    const char *patterns[] = { "*", "a*", "*a", "a?c", "[ab]*", "*[!a]", "a*b*c", "?*?", "[a-c]?[!b]*", "*.so" };
    const char *names[] = { "", "a", "abc", "acb", "bca", "aaa", "abcabc", "libx.so", "x.so.1", "b" };
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
        for (size_t j = 0; j < sizeof names / sizeof *names; j++) {
            bool want = fnmatch(patterns[i], names[j], 0) == 0;
            if (match(patterns[i], names[j]) != want)
                fail_msg("'%s' vs '%s': expected %d", patterns[i], names[j], want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_wildcards),
        cmocka_unit_test(test_sets),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_against_fnmatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
