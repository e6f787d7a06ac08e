/* test_writer.c: the malloc-free formatter and output (writer.c): cg_fmt's
 * conversions, flags and truncation, cg_bytes_text, sinks and cg_message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

/* Format with cg_fmt and compare with the expected text and length. */
#define FMT_EQ(want, ...)                                                        \
    do {                                                                         \
        char buf_[256];                                                          \
        size_t n_ = cg_fmt(buf_, sizeof buf_, __VA_ARGS__);                      \
        assert_string_equal(buf_, want);                                         \
        assert_int_equal(n_, strlen(want));                                      \
    } while (0)

/* The same as FMT_EQ for formats the compiler's printf check would flag on
 * purpose (unknown conversions, ignored flags): called through a wrapper
 * without the format attribute. */
static size_t raw_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = cg_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

#define RAW_EQ(want, ...)                                                        \
    do {                                                                         \
        char buf_[256];                                                          \
        size_t n_ = raw_fmt(buf_, sizeof buf_, __VA_ARGS__);                     \
        assert_string_equal(buf_, want);                                         \
        assert_int_equal(n_, strlen(want));                                      \
    } while (0)

/* ---- cg_fmt ------------------------------------------------------------- */

static void test_fmt_strings(void **state)
{
    (void)state;
    FMT_EQ("", "%s", "");
    FMT_EQ("plain text", "plain text");
    FMT_EQ("a=abc.", "a=%s.", "abc");
    FMT_EQ("  abc", "%5s", "abc");
    FMT_EQ("abc  |", "%-5s|", "abc");
    FMT_EQ("abcdef", "%3s", "abcdef"); /* width never truncates */
    FMT_EQ("ab", "%.2s", "abcdef");
    FMT_EQ("abc", "%.*s", 3, "abcdef");
    FMT_EQ("", "%.*s", 0, "abcdef");
    FMT_EQ("abcdef", "%.*s", 10, "abcdef");
    FMT_EQ("abcdef", "%.*s", -1, "abcdef"); /* negative precision: none */
    FMT_EQ("   ab", "%5.2s", "abcdef");
    RAW_EQ("(null)", "%s", (char *)NULL); /* unchecked: gcc flags a NULL %s */
    FMT_EQ("x", "%c", 'x');
    FMT_EQ("  x|x  |", "%3c|%-3c|", 'x', 'x');
    FMT_EQ("100%", "100%%");
    FMT_EQ("%d", "%%d");
}

static void test_fmt_integers(void **state)
{
    (void)state;
    FMT_EQ("0", "%d", 0);
    FMT_EQ("42", "%d", 42);
    FMT_EQ("-42", "%d", -42);
    FMT_EQ("-7", "%i", -7);
    FMT_EQ("2147483647", "%d", INT_MAX);
    FMT_EQ("-2147483648", "%d", INT_MIN);
    FMT_EQ("4294967295", "%u", UINT_MAX);
    FMT_EQ("ff", "%x", 255u);
    FMT_EQ("deadbeef", "%x", 0xdeadbeefu);
    FMT_EQ("   42", "%5d", 42);
    FMT_EQ("  -42", "%5d", -42);
    FMT_EQ("42   |", "%-5d|", 42);
    FMT_EQ("-42  |", "%-5d|", -42);
    FMT_EQ("00042", "%05d", 42);
    RAW_EQ("42   |", "%-05d|", 42); /* '-' wins over '0' */
    FMT_EQ("0000beef", "%08x", 0xbeefu);
    FMT_EQ("12345", "%3d", 12345);
    FMT_EQ("-9223372036854775808", "%ld", LONG_MIN);
    FMT_EQ("9223372036854775807", "%ld", LONG_MAX);
    FMT_EQ("18446744073709551615", "%lu", ULONG_MAX);
    FMT_EQ("-9223372036854775808", "%lld", (long long)INT64_MIN);
    FMT_EQ("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
    FMT_EQ("ffffffffffffffff", "%llx", (unsigned long long)UINT64_MAX);
    FMT_EQ("18446744073709551615", "%zu", SIZE_MAX);
    FMT_EQ("4096", "%zu", (size_t)4096);
    FMT_EQ("1000000000000", "%zx", (size_t)1 << 48);
    /* Arguments of different widths side by side stay in step. */
    FMT_EQ("1 2 3 4 five", "%d %ld %lld %zu %s", 1, 2L, 3LL, (size_t)4, "five");
}

/* Zero padding goes between the sign and the digits, as printf does. */
static void test_fmt_zero_pad_negative(void **state)
{
    (void)state;
    FMT_EQ("-0042", "%05d", -42);
    FMT_EQ("-000000000001", "%013lld", -1LL);
}

static void test_fmt_pointers(void **state)
{
    (void)state;
    FMT_EQ("0x1234", "%p", (void *)0x1234);
    FMT_EQ("0x7fffdeadbeef", "%p", (void *)0x7fffdeadbeefULL);
    FMT_EQ("0x0", "%p", (void *)0);
    FMT_EQ("  0x10", "%6p", (void *)0x10);
    FMT_EQ("0x10  |", "%-6p|", (void *)0x10);
}

static void test_fmt_unknown_conversion(void **state)
{
    (void)state;
    RAW_EQ("%q", "%q");  /* shown, not guessed */
    RAW_EQ("ab%", "ab%"); /* a lone '%' at the end is kept and ends the string */
    RAW_EQ("ab%", "ab%5");
}

static void test_fmt_truncation(void **state)
{
    (void)state;
    char buf[16];

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 6, "hello world"), 11); /* the full length */
    assert_string_equal(buf, "hello");
    assert_int_equal(buf[6], 'x'); /* nothing past size */

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 6, "hello"), 5); /* fits exactly with its NUL */
    assert_string_equal(buf, "hello");

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 5, "%d", 123456), 6);
    assert_string_equal(buf, "1234");
    assert_int_equal(buf[5], 'x');

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 4, "%-10s|", "ab"), 11); /* padding counts too */
    assert_string_equal(buf, "ab ");

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 1, "abc"), 3);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');

    memset(buf, 'x', sizeof buf);
    assert_int_equal(cg_fmt(buf, 0, "abc%d", 42), 5); /* size 0: nothing written */
    for (size_t i = 0; i < sizeof buf; i++) assert_int_equal(buf[i], 'x');
    assert_int_equal(cg_fmt(NULL, 0, "%s", "measure me"), 10);
}

/* Agrees with the C library over a spread of values and specs. */
static void test_fmt_matches_snprintf(void **state)
{
    (void)state;
    static const long long vals[] = { 0, 1, -1, 9, 10, -10, 255, 4096, -65536, 123456789,
                                      -2147483648LL, 4294967296LL, INT64_MAX, INT64_MIN + 1 };
    char a[64], b[64];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        long long v = vals[i];
        cg_fmt(a, sizeof a, "[%lld|%12lld|%-12lld|%llx|%20llu]", v, v, v, (unsigned long long)v,
               (unsigned long long)v);
        snprintf(b, sizeof b, "[%lld|%12lld|%-12lld|%llx|%20llu]", v, v, v, (unsigned long long)v,
                 (unsigned long long)v);
        assert_string_equal(a, b);
        if (v >= 0) { /* zero padding of non-negative numbers */
            cg_fmt(a, sizeof a, "%015lld|%012llx", v, (unsigned long long)v);
            snprintf(b, sizeof b, "%015lld|%012llx", v, (unsigned long long)v);
            assert_string_equal(a, b);
        }
    }
}

/* ---- cg_bytes_text ------------------------------------------------------ */

static void bytes_eq(uint64_t v, const char *want)
{
    char buf[32];
    cg_bytes_text(v, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("cg_bytes_text(%llu) = \"%s\", want \"%s\"", (unsigned long long)v, buf, want);
}

static void test_bytes_text(void **state)
{
    (void)state;
    bytes_eq(0, "0 B");
    bytes_eq(1, "1 B");
    bytes_eq(1023, "1023 B");
    bytes_eq(1024, "1.0 KiB");
    bytes_eq(1536, "1.5 KiB");
    bytes_eq(4096, "4.0 KiB");
    bytes_eq(10 * 1024 + 102, "10.1 KiB");
    bytes_eq(1048576, "1.0 MiB");
    bytes_eq(1048576 + 1048576 / 4, "1.3 MiB"); /* 1.25 rounds half up */
    bytes_eq(5ULL << 30, "5.0 GiB");
    bytes_eq(1ULL << 40, "1.0 TiB");
    bytes_eq(2048ULL << 40, "2048.0 TiB"); /* TiB is the largest unit */

    char small[6];
    cg_bytes_text(1536, small, sizeof small); /* truncated, still terminated */
    assert_string_equal(small, "1.5 K");
}

/* ---- sinks -------------------------------------------------------------- */

/* Everything in a file, from the start; the caller frees it. */
static char *slurp(FILE *f, size_t *len)
{
    fflush(f);
    long n = lseek(fileno(f), 0, SEEK_END);
    assert_true(n >= 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fileno(f), buf, (size_t)n, 0), n);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void test_sink_small(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    cg_sink_t s = { .fd = fileno(f), .len = 0 };
    size_t len;

    cg_sink_printf(&s, "pid %d: %s\n", 42, "hello");
    char *got = slurp(f, &len);
    assert_int_equal(len, 0); /* buffered until a flush */
    free(got);

    cg_sink_flush(&s);
    assert_int_equal(s.len, 0);
    got = slurp(f, &len);
    assert_string_equal(got, "pid 42: hello\n");
    free(got);

    cg_sink_flush(&s); /* an empty flush writes nothing */
    got = slurp(f, &len);
    assert_int_equal(len, strlen("pid 42: hello\n"));
    free(got);
    fclose(f);
}

/* More than the 4096-byte buffer, in lines of many lengths: all of it arrives,
 * in order, nothing doubled or lost at the buffer's edges. */
static void test_sink_large(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    cg_sink_t s = { .fd = fileno(f), .len = 0 };
    size_t cap = 1 << 20, off = 0;
    char *want = malloc(cap);
    char *pad = malloc(1024);
    assert_non_null(want);
    assert_non_null(pad);
    memset(pad, '.', 1023);
    pad[1023] = '\0';

    for (int i = 0; i < 2000; i++) {
        int plen = (i * 37) % 900; /* lines from ~10 to ~920 bytes */
        cg_sink_printf(&s, "%5d %.*s|\n", i, plen, pad);
        assert_true(s.len <= sizeof s.buf);
        off += (size_t)snprintf(want + off, cap - off, "%5d %.*s|\n", i, plen, pad);
    }
    /* A line of exactly the buffer's capacity for a line (1023 bytes). */
    cg_sink_printf(&s, "%s", pad);
    off += (size_t)snprintf(want + off, cap - off, "%s", pad);
    cg_sink_flush(&s);
    assert_true(off > 10 * sizeof s.buf);

    size_t len;
    char *got = slurp(f, &len);
    assert_int_equal(len, off);
    assert_memory_equal(got, want, off);
    free(got);
    free(want);
    free(pad);
    fclose(f);
}

/* The same through a pipe, read back by this thread after the flush (the
 * total stays well under a pipe's capacity, so the writes cannot block). */
static void test_sink_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    cg_sink_t s = { .fd = fds[1], .len = 0 };
    char want[16384];
    size_t off = 0;
    for (int i = 0; i < 300; i++) {
        cg_sink_printf(&s, "line %03d %s\n", i, "abcdefghijklmnopqrstuvwxyz");
        off += (size_t)snprintf(want + off, sizeof want - off, "line %03d %s\n", i,
                                "abcdefghijklmnopqrstuvwxyz");
    }
    cg_sink_flush(&s);
    close(fds[1]);
    char got[16384];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fds[0], got + total, sizeof got - total)) > 0) total += (size_t)n;
    close(fds[0]);
    assert_true(off > sizeof s.buf);
    assert_int_equal(total, off);
    assert_memory_equal(got, want, off);
}

/* ---- cg_message --------------------------------------------------------- */

/* Run fn with fd 2 sent to a temp file; return what it wrote (caller frees). */
static char *capture_stderr(void (*fn)(void), size_t *len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), 2) >= 0);
    fn();
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    char *got = slurp(f, len);
    fclose(f);
    return got;
}

static void say_short(void)
{
    cg_message("value %d of %s", 7, "x");
}

static char long_text[3000];
static void say_long(void)
{
    cg_message("%s", long_text);
}

static void say_debug(void)
{
    cg_debug("debug %d", 1);
}

static void test_message(void **state)
{
    (void)state;
    size_t len;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "==%d== cowguard: ", (int)getpid());

    char *got = capture_stderr(say_short, &len);
    char want[128];
    snprintf(want, sizeof want, "%svalue 7 of x\n", prefix);
    assert_string_equal(got, want);
    free(got);

    /* Too long for the line: cut, but still exactly one line. */
    memset(long_text, 'y', sizeof long_text - 1);
    got = capture_stderr(say_long, &len);
    assert_true(len > 1000 && len < 1024);
    assert_int_equal(got[len - 1], '\n');
    assert_null(memchr(got, '\n', len - 1));
    assert_memory_equal(got, prefix, strlen(prefix));
    free(got);

    /* cg_debug speaks only at COWGUARD_VERBOSE=2, as the options set it. */
    char *verbose1[] = { "COWGUARD_VERBOSE=1", NULL }, *verbose2[] = { "COWGUARD_VERBOSE=2", NULL },
         *none[] = { NULL };
    cg_options_load(verbose1);
    got = capture_stderr(say_debug, &len);
    assert_int_equal(len, 0);
    free(got);
    cg_options_load(verbose2);
    got = capture_stderr(say_debug, &len);
    snprintf(want, sizeof want, "%sdebug 1\n", prefix);
    assert_string_equal(got, want);
    free(got);
    cg_options_load(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_strings),
        cmocka_unit_test(test_fmt_integers),
        cmocka_unit_test(test_fmt_zero_pad_negative),
        cmocka_unit_test(test_fmt_pointers),
        cmocka_unit_test(test_fmt_unknown_conversion),
        cmocka_unit_test(test_fmt_truncation),
        cmocka_unit_test(test_fmt_matches_snprintf),
        cmocka_unit_test(test_bytes_text),
        cmocka_unit_test(test_sink_small),
        cmocka_unit_test(test_sink_large),
        cmocka_unit_test(test_sink_pipe),
        cmocka_unit_test(test_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
