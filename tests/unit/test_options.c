/* test_options.c: the COWGUARD_* parser (options.c): sizes, each option type
 * through its row of the table, "did you mean", and loading from an envp,
 * including the one line a bad value or an unknown name writes to stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)

/* ---- helpers ------------------------------------------------------------ */

/* The table row for an option, by name: tests must not depend on row order. */
static const cg_option_t *row(const char *name)
{
    for (size_t i = 0; i < cg_option_count; i++)
        if (strcmp(cg_option_table[i].name, name) == 0) return &cg_option_table[i];
    fail_msg("no row for %s", name);
    return NULL;
}

static void size_ok(const char *s, uint64_t want)
{
    uint64_t v = 0xdeadbeef;
    if (cg_parse_size(s, &v) != 0) fail_msg("cg_parse_size(\"%s\") refused", s);
    if (v != want)
        fail_msg("cg_parse_size(\"%s\") = %llu, want %llu", s, (unsigned long long)v,
                 (unsigned long long)want);
}

static void size_bad(const char *s)
{
    uint64_t v = 0xdeadbeef;
    if (cg_parse_size(s, &v) == 0) fail_msg("cg_parse_size(\"%s\") accepted (%llu)", s,
                                            (unsigned long long)v);
    assert_int_equal(v, 0xdeadbeef); /* a refusal leaves the output alone */
}

static void opt_ok(const char *name, const char *value, uint64_t want)
{
    uint64_t v = 0xdeadbeef;
    if (cg_option_parse(row(name), value, &v) != 0) fail_msg("%s='%s' refused", name, value);
    if (v != want)
        fail_msg("%s='%s' gave %llu, want %llu", name, value, (unsigned long long)v,
                 (unsigned long long)want);
}

static void opt_bad(const char *name, const char *value)
{
    uint64_t v = 0xdeadbeef;
    if (cg_option_parse(row(name), value, &v) == 0)
        fail_msg("%s='%s' accepted (%llu)", name, value, (unsigned long long)v);
    assert_int_equal(v, 0xdeadbeef);
}

/* Run cg_options_load with fd 2 sent to a temp file (cg_message write()s to
 * fd 2 directly, so stdio redirection would not catch it); return what was
 * written, NUL-terminated, in out. */
static void load_capturing(char **envp, char *out, size_t size)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    cg_options_load(envp);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    assert_int_equal(lseek(fileno(tmp), 0, SEEK_SET), 0);
    ssize_t n = read(fileno(tmp), out, size - 1);
    assert_true(n >= 0);
    out[n] = '\0';
    fclose(tmp);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- cg_parse_size ------------------------------------------------------ */

static void test_parse_size_good(void **state)
{
    (void)state;
    size_ok("0", 0);
    size_ok("4096", 4096);
    size_ok("64k", 64 * KiB);
    size_ok("64K", 64 * KiB);
    size_ok("64KB", 64 * KiB);
    size_ok("64kb", 64 * KiB);
    size_ok("64KiB", 64 * KiB);
    size_ok("1M", MiB);
    size_ok("1MiB", MiB);
    size_ok("1m", MiB);
    size_ok("2G", 2 * GiB);
    size_ok("2GB", 2 * GiB);
    size_ok("1T", TiB);
    size_ok("512B", 512);
    size_ok("007", 7);
    /* The largest values that still fit in 64 bits after the shift. */
    size_ok("17179869183G", (((uint64_t)1 << 34) - 1) << 30);
    size_ok("16777215T", (((uint64_t)1 << 24) - 1) << 40);
    size_ok("1844674407370955161", UINT64_C(1844674407370955161));
}

static void test_parse_size_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "k", "K", "B", "-1", "+1", "1X", "1.5M", "1 M", "1MM", "1Mi", "1MiBB", "1iB",
        " 1M", "1M ", "1KBB", "0x10", "1e6",
        "99999999999999999999",   /* more than 64 bits of digits */
        "17179869184G",           /* 2^34 G = 2^64: overflows in the shift */
        "16777216T",              /* 2^24 T = 2^64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) size_bad(bad[i]);
}

/* ---- cg_option_parse, one type at a time -------------------------------- */

static void test_option_enum(void **state)
{
    (void)state;
    assert_int_equal(row("COWGUARD_POLICY")->type, CG_OPT_ENUM);
    opt_ok("COWGUARD_POLICY", "report", CG_POLICY_REPORT);
    opt_ok("COWGUARD_POLICY", "abort", CG_POLICY_ABORT);
    opt_ok("COWGUARD_POLICY", "off", CG_POLICY_OFF);
    opt_bad("COWGUARD_POLICY", "Report"); /* case-sensitive, like the docs */
    opt_bad("COWGUARD_POLICY", "");
    opt_bad("COWGUARD_POLICY", "aborts");
    opt_bad("COWGUARD_POLICY", "abor");
    opt_bad("COWGUARD_POLICY", "report|abort");
    opt_bad("COWGUARD_POLICY", "|");
    opt_bad("COWGUARD_POLICY", "0");
}

static void test_option_bool(void **state)
{
    (void)state;
    assert_int_equal(row("COWGUARD_FREEZE_PARENT")->type, CG_OPT_BOOL);
    opt_ok("COWGUARD_FREEZE_PARENT", "0", 0);
    opt_ok("COWGUARD_FREEZE_PARENT", "1", 1);
    static const char *const bad[] = { "", "2", "01", "00", "true", "yes", "on", " 1", "1 " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        opt_bad("COWGUARD_FREEZE_PARENT", bad[i]);
}

static void test_option_uint(void **state)
{
    (void)state;
    assert_int_equal(row("COWGUARD_VERBOSE")->type, CG_OPT_UINT);
    opt_ok("COWGUARD_VERBOSE", "0", 0);
    opt_ok("COWGUARD_VERBOSE", "1", 1);
    opt_ok("COWGUARD_VERBOSE", "2", 2);
    opt_ok("COWGUARD_VERBOSE", "02", 2);
    static const char *const bad[] = { "3", "-1", "1a", "", " 1", "1k", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) opt_bad("COWGUARD_VERBOSE", bad[i]);
}

static void test_option_size(void **state)
{
    (void)state;
    const cg_option_t *am = row("COWGUARD_ARENA_MAX");
    assert_int_equal(am->type, CG_OPT_SIZE);
    opt_ok("COWGUARD_ARENA_MAX", "16M", 16 * MiB);       /* the minimum */
    opt_ok("COWGUARD_ARENA_MAX", "64G", 64 * GiB);
    opt_ok("COWGUARD_ARENA_MAX", "64T", 64 * TiB);       /* the maximum */
    opt_ok("COWGUARD_ARENA_MAX", "16384k", 16 * MiB);
    opt_bad("COWGUARD_ARENA_MAX", "16777215");           /* 16M - 1 */
    opt_bad("COWGUARD_ARENA_MAX", "15M");
    opt_bad("COWGUARD_ARENA_MAX", "1k");
    opt_bad("COWGUARD_ARENA_MAX", "70368744177665");     /* 64T + 1 */
    opt_bad("COWGUARD_ARENA_MAX", "65T");
    opt_bad("COWGUARD_ARENA_MAX", "1M ");
    opt_bad("COWGUARD_ARENA_MAX", "");

    /* MIN_SIZE: 0 means "off" and is in range; the maximum is 256T. */
    opt_ok("COWGUARD_MIN_SIZE", "0", 0);
    opt_ok("COWGUARD_MIN_SIZE", "1", 1);
    opt_ok("COWGUARD_MIN_SIZE", "64k", 64 * KiB);
    opt_ok("COWGUARD_MIN_SIZE", "256T", 256 * TiB);
    opt_bad("COWGUARD_MIN_SIZE", "257T");
    opt_bad("COWGUARD_MIN_SIZE", "1.5M");
}

/* The documented range of COWGUARD_ARENA_MAX is 16M to 64T; 0 is below it. */
static void test_option_size_zero_below_min(void **state)
{
    (void)state;
    opt_bad("COWGUARD_ARENA_MAX", "0");
}

static void test_option_string(void **state)
{
    (void)state;
    assert_int_equal(row("COWGUARD_REPORT")->type, CG_OPT_STRING);
    const char *value = "/tmp/report.%p";
    opt_ok("COWGUARD_REPORT", value, (uint64_t)(uintptr_t)value); /* kept as a pointer */
    opt_bad("COWGUARD_REPORT", "");
}

/* Every default in the table parses as its own row's value (NULL: none). */
static void test_defaults_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < cg_option_count; i++) {
        uint64_t v;
        if (cg_option_table[i].deflt && cg_option_parse(&cg_option_table[i], cg_option_table[i].deflt, &v) != 0)
            fail_msg("default of %s ('%s') does not parse", cg_option_table[i].name,
                     cg_option_table[i].deflt);
    }
}

static void test_option_expected(void **state)
{
    (void)state;
    char buf[160];
    cg_option_expected(row("COWGUARD_POLICY"), buf, sizeof buf);
    assert_string_equal(buf, "one of report,abort,off");
    cg_option_expected(row("COWGUARD_FREEZE_PARENT"), buf, sizeof buf);
    assert_string_equal(buf, "0 or 1");
    cg_option_expected(row("COWGUARD_VERBOSE"), buf, sizeof buf);
    assert_string_equal(buf, "a whole number from 0 to 2");
    cg_option_expected(row("COWGUARD_ARENA_MAX"), buf, sizeof buf);
    assert_string_equal(buf, "a size such as 64k, 1M or 2G, from 16M to 64T");
    cg_option_expected(row("COWGUARD_MIN_SIZE"), buf, sizeof buf);
    assert_string_equal(buf, "a size such as 4096, 64k, 1M or 2G, at most 256T");
    cg_option_expected(row("COWGUARD_REPORT"), buf, sizeof buf);
    assert_string_equal(buf, "a non-empty value");
}

/* ---- cg_option_suggest -------------------------------------------------- */

static const char *suggest(const char *name)
{
    return cg_option_suggest(name, strlen(name));
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(suggest("COWGUARD_POLICI"), "COWGUARD_POLICY");
    assert_string_equal(suggest("COWGUARD_MINSIZE"), "COWGUARD_MIN_SIZE");
    assert_string_equal(suggest("COWGUARD_VERBOS"), "COWGUARD_VERBOSE");
    assert_string_equal(suggest("COWGUARD_FREEZEPARENT"), "COWGUARD_FREEZE_PARENT");
    assert_string_equal(suggest("cowguard_policy"), "COWGUARD_POLICY"); /* case is an easy slip */
    assert_null(suggest("COWGUARD_SOMETHING_ELSE"));
    assert_null(suggest("COWGUARD_X"));
    assert_null(suggest(""));
    /* Only the first len bytes count, as the name comes straight from NAME=value. */
    assert_string_equal(cg_option_suggest("COWGUARD_POLICI=abort", 15), "COWGUARD_POLICY");
}

/* ---- cg_options_load ---------------------------------------------------- */

static void test_load_defaults(void **state)
{
    (void)state;
    char *envp[] = { "PATH=/bin", "HOME=/", NULL };
    char err[4096];
    memset(&cg_opt, 0xa5, sizeof cg_opt); /* defaults must be written, not assumed */
    load_capturing(envp, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT);
    assert_int_equal(cg_opt.min_size, 0);
    assert_int_equal(cg_opt.freeze_parent, 1);
    assert_string_equal((const char *)(uintptr_t)cg_opt.report, "stderr");
    assert_int_equal(cg_opt.verbose, 0);
    assert_int_equal(cg_opt.arena_max, 64 * GiB);

    /* A NULL envp is the same as an empty one. */
    memset(&cg_opt, 0xa5, sizeof cg_opt);
    load_capturing(NULL, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT);
    assert_int_equal(cg_opt.arena_max, 64 * GiB);
}

static void test_load_good_values(void **state)
{
    (void)state;
    char report[] = "COWGUARD_REPORT=/tmp/cg.%p";
    char *envp[] = {
        "COWGUARD_POLICY=abort", "COWGUARD_MIN_SIZE=64k", "USER=x", "COWGUARD_FREEZE_PARENT=0",
        report, "COWGUARD_VERBOSE=2", "COWGUARD_ARENA_MAX=1G", NULL,
    };
    char err[4096];
    load_capturing(envp, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(cg_opt.policy, CG_POLICY_ABORT);
    assert_int_equal(cg_opt.min_size, 64 * KiB);
    assert_int_equal(cg_opt.freeze_parent, 0);
    /* The string is a copy: programs rewrite their environment (their process
     * title), and the value must survive that. */
    const char *kept = (const char *)(uintptr_t)cg_opt.report;
    assert_string_equal(kept, "/tmp/cg.%p");
    memset(report, 'X', strlen(report));
    assert_string_equal(kept, "/tmp/cg.%p");
    assert_int_equal(cg_opt.verbose, 2);
    assert_int_equal(cg_opt.arena_max, GiB);

    /* A later load starts again from the defaults. */
    char *none[] = { NULL };
    load_capturing(none, err, sizeof err);
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT);
    assert_int_equal(cg_opt.verbose, 0);
}

/* One bad value: the default stays, and one line says what and why. */
static void bad_value_case(const char *entry, const char *name, const char *value,
                           const char *expected)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", entry);
    char *envp[] = { "COWGUARD_VERBOSE=1", buf, NULL };
    char err[4096];
    load_capturing(envp, err, sizeof err);
    if (count_lines(err) != 1) fail_msg("%s: want one line, got: %s", entry, err);
    assert_int_equal(err[strlen(err) - 1], '\n');
    assert_non_null(strstr(err, "cowguard: "));
    assert_non_null(strstr(err, name));
    char quoted[128];
    snprintf(quoted, sizeof quoted, "'%s'", value);
    if (!strstr(err, quoted)) fail_msg("%s: bad value not shown: %s", entry, err);
    if (!strstr(err, expected))
        fail_msg("%s: expected form '%s' not shown: %s", entry, expected, err);
    assert_int_equal(cg_opt.verbose, 1); /* the other, good variable still counts */
}

static void test_load_bad_values(void **state)
{
    (void)state;
    bad_value_case("COWGUARD_POLICY=Abort", "COWGUARD_POLICY", "Abort", "one of report,abort,off");
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT);

    bad_value_case("COWGUARD_FREEZE_PARENT=yes", "COWGUARD_FREEZE_PARENT", "yes", "0 or 1");
    assert_int_equal(cg_opt.freeze_parent, 1);

    bad_value_case("COWGUARD_MIN_SIZE=1.5M", "COWGUARD_MIN_SIZE", "1.5M", "a size such as");
    assert_int_equal(cg_opt.min_size, 0);

    bad_value_case("COWGUARD_ARENA_MAX=1M", "COWGUARD_ARENA_MAX", "1M", "from 16M to 64T");
    assert_int_equal(cg_opt.arena_max, 64 * GiB);

    bad_value_case("COWGUARD_REPORT=", "COWGUARD_REPORT", "", "a non-empty value");
    assert_string_equal((const char *)(uintptr_t)cg_opt.report, "stderr");

    /* The bad variable here is VERBOSE itself; it sits second, after a good one. */
    char err[4096];
    char *envp[] = { "COWGUARD_POLICY=off", "COWGUARD_VERBOSE=3", NULL };
    load_capturing(envp, err, sizeof err);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "COWGUARD_VERBOSE='3'"));
    assert_non_null(strstr(err, "a whole number from 0 to 2"));
    assert_int_equal(cg_opt.verbose, 0);
    assert_int_equal(cg_opt.policy, CG_POLICY_OFF);
}

static void test_load_unknown_name(void **state)
{
    (void)state;
    char err[4096];
    char *envp[] = { "COWGUARD_POLICI=abort", NULL };
    load_capturing(envp, err, sizeof err);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "COWGUARD_POLICI"));
    assert_non_null(strstr(err, "did you mean COWGUARD_POLICY"));
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT); /* not applied to the near name */

    /* Nothing close: still one line, without a suggestion. */
    char *far[] = { "COWGUARD_TOTALLY_UNRELATED=1", NULL };
    load_capturing(far, err, sizeof err);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "COWGUARD_TOTALLY_UNRELATED"));
    assert_null(strstr(err, "did you mean"));

    /* Not COWGUARD_ names, or no '=': silently ignored. */
    char *other[] = { "COWGUARDX=1", "XCOWGUARD_POLICY=abort", "COWGUARD_POLICY", NULL };
    load_capturing(other, err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(cg_opt.policy, CG_POLICY_REPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size_good),
        cmocka_unit_test(test_parse_size_bad),
        cmocka_unit_test(test_option_enum),
        cmocka_unit_test(test_option_bool),
        cmocka_unit_test(test_option_uint),
        cmocka_unit_test(test_option_size),
        cmocka_unit_test(test_option_size_zero_below_min),
        cmocka_unit_test(test_option_string),
        cmocka_unit_test(test_defaults_parse),
        cmocka_unit_test(test_option_expected),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_load_defaults),
        cmocka_unit_test(test_load_good_values),
        cmocka_unit_test(test_load_bad_values),
        cmocka_unit_test(test_load_unknown_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
