/* writer.c: formatting and output that never allocate, never take a lock and
 * never touch stdio, so they can run in the fault handler, in a forked child
 * and at exit. The formatter knows %s %c %d %i %u %x %p %% with the flags '-'
 * and '0', a width, a precision ('.N' or '.*', for %s), and the length
 * modifiers l, ll, z. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

typedef struct {
    char *buf;
    size_t size, len; /* len counts what would have been written */
} cg_out_t;

static void put(cg_out_t *o, char c)
{
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}

static void put_padded(cg_out_t *o, const char *s, size_t n, int width, bool left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left) while (fill-- > 0) put(o, pad);
    for (size_t i = 0; i < n; i++) put(o, s[i]);
    if (left) while (fill-- > 0) put(o, ' ');
}

static void put_number(cg_out_t *o, unsigned long long v, bool neg, unsigned base,
                       int width, bool left, char pad, const char *prefix)
{
    char tmp[32];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    /* Sign and prefix go before zero padding ("-0042", "0x00ff"), after
     * space padding ("  -42"). */
    char lead[4];
    size_t nl = 0;
    if (neg) lead[nl++] = '-';
    for (const char *p = prefix; p && *p && nl < sizeof lead; p++) lead[nl++] = *p;
    char out[40];
    size_t len = 0;
    int digits_width = width - (int)nl;
    if (pad == '0' && !left) {
        for (size_t i = 0; i < nl; i++) put(o, lead[i]);
        for (int fill = digits_width - (int)n; fill > 0; fill--) put(o, '0');
    } else {
        for (size_t i = 0; i < nl; i++) out[len++] = lead[i];
    }
    for (size_t i = 0; i < n; i++) out[len++] = tmp[n - 1 - i];
    if (pad == '0' && !left) width = 0;
    put_padded(o, out, len, width, left, ' ');
}

size_t cg_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    cg_out_t o = { buf, size, 0 };
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        bool left = false;
        char pad = ' ';
        int width = 0, prec = -1, lng = 0;
        for (f++; *f == '-' || *f == '0'; f++) {
            if (*f == '-') left = true;
            else pad = '0';
        }
        for (; *f >= '0' && *f <= '9'; f++) width = width * 10 + (*f - '0');
        if (*f == '.') {
            f++;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                for (prec = 0; *f >= '0' && *f <= '9'; f++) prec = prec * 10 + (*f - '0');
            }
        }
        for (; *f == 'l' || *f == 'z'; f++) lng += *f == 'z' ? 2 : 1;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            size_t n = strlen(s);
            if (prec >= 0 && (size_t)prec < n) n = (size_t)prec;
            put_padded(&o, s, n, width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &c, 1, width, left, ' ');
            break;
        }
        case 'd':
        case 'i': {
            long long v = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            put_number(&o, u, v < 0, 10, width, left, pad, NULL);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
                                 : lng == 1 ? va_arg(ap, unsigned long)
                                            : va_arg(ap, unsigned);
            put_number(&o, v, false, *f == 'x' ? 16 : 10, width, left, pad, NULL);
            break;
        }
        case 'p':
            put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, width, left, pad, "0x");
            break;
        case '%':
            put(&o, '%');
            break;
        default: /* unknown conversion: show it rather than guess */
            put(&o, '%');
            if (!*f) f--;
            else put(&o, *f);
            break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

size_t cg_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = cg_vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Write all of buf; false when some of it could not be written. */
bool cg_write_all(int fd, const char *buf, size_t len)
{
    int saved = errno; /* callers may be on a user-facing path */
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf += n;
        len -= (size_t)n;
    }
    errno = saved;
    return len == 0;
}

static void vmessage(const char *fmt, va_list ap)
{
    char line[1024];
    size_t n = cg_fmt(line, sizeof line, "==%d== cowguard: ", (int)getpid());
    if (n < sizeof line) n += cg_vfmt(line + n, sizeof line - n, fmt, ap);
    if (n >= sizeof line - 1) n = sizeof line - 2;
    line[n++] = '\n';
    cg_write_all(2, line, n);
}

/* The name of an error number, without strerror (which may translate, lock
 * and allocate: these messages can come from _exit or a signal handler). */
const char *cg_strerror(int e)
{
    switch (e) {
    case EPERM: return "Operation not permitted";
    case ENOENT: return "No such file or directory";
    case EACCES: return "Permission denied";
    case EEXIST: return "File exists";
    case ENOTDIR: return "Not a directory";
    case EISDIR: return "Is a directory";
    case EINVAL: return "Invalid argument";
    case ENOMEM: return "Cannot allocate memory";
    case ENOSPC: return "No space left on device";
    case EROFS: return "Read-only file system";
    case ELOOP: return "Too many levels of symbolic links";
    case ENAMETOOLONG: return "File name too long";
    case EMFILE: return "Too many open files";
    case EDQUOT: return "Disk quota exceeded";
    default: return "error";
    }
}

/* One line on stderr, prefixed like every cowguard line. */
void cg_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

/* Debug lines are off until the options switch them on (COWGUARD_VERBOSE=2). */
static bool debugging;

void cg_debug_enable(bool on)
{
    debugging = on;
}

/* Like cg_message, only when debug lines are on. */
void cg_debug(const char *fmt, ...)
{
    if (!debugging) return;
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

/* ---- sinks: buffered output to a descriptor ----------------------------- */

void cg_sink_flush(cg_sink_t *s)
{
    if (!cg_write_all(s->fd, s->buf, s->len)) s->failed = true;
    s->len = 0;
}

void cg_sink_printf(cg_sink_t *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = cg_vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n >= sizeof line) n = sizeof line - 1;
    if (s->len + n > sizeof s->buf) cg_sink_flush(s);
    memcpy(s->buf + s->len, line, n);
    s->len += n;
}

/* "812 B", "4.0 KiB", "1.5 MiB": one decimal, integer arithmetic only. */
void cg_bytes_text(uint64_t v, char *buf, size_t size)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    uint64_t scale = 1;
    while (u < 4 && v >= scale * 1024) {
        scale *= 1024;
        u++;
    }
    if (u == 0) {
        cg_fmt(buf, size, "%llu B", (unsigned long long)v);
        return;
    }
    uint64_t tenths = (v * 10 + scale / 2) / scale;
    cg_fmt(buf, size, "%llu.%llu %s", (unsigned long long)(tenths / 10),
           (unsigned long long)(tenths % 10), units[u]);
}
