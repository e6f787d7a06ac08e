/* stdio.c: the exported stdio input calls.
 *
 * glibc refills a stream's buffer, and reads a large fread straight into
 * the caller's buffer, with its internal read, which no wrapper sees: a
 * frozen page there gives a short count with ferror set instead of a
 * fault. So each input call keeps the stream's buffer (and fread's
 * destination) writable while it runs, as the read wrapper does for its
 * buffer. A program that marks nothing pays one load and one test. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>

#include "interpose.h"

/* Functions, not the inline macros of glibc's headers. */
#undef getc
#undef fread_unlocked
#undef fgets_unlocked
#undef fgetwc_unlocked
#undef getwc_unlocked
#undef getc_unlocked
#undef getchar
#undef getchar_unlocked
#undef fgetc_unlocked
#undef getwc
#undef getwchar

/* The stream's buffer (for an unbuffered stream, the one byte inside the
 * FILE); a buffer not made yet is made now, after any freeze. */
static void keep_stream(cg_keeps_t *k, FILE *fp)
{
    if (fp && fp->_IO_buf_base && fp->_IO_buf_end > fp->_IO_buf_base)
        cg_keeps_add(k, fp->_IO_buf_base, (size_t)(fp->_IO_buf_end - fp->_IO_buf_base));
}

/* A call that reads from stream fp: kept buffer, the call, release. */
#define STREAM_CALL(fp, call)                                                \
    do {                                                                     \
        if (cg_likely(!cg_kernel_writes_matter()) || !next_) return call;               \
        cg_keeps_t k_ = { .n = 0 };                                          \
        keep_stream(&k_, fp);                                                \
        __typeof__(call) r_ = call;                                          \
        cg_keeps_end(&k_);                                                   \
        return r_;                                                           \
    } while (0)

/* fread and its variants: the destination too (a large read goes there
 * directly). */
#define FREAD_CALL(fp, dst, len, call)                                       \
    do {                                                                     \
        if (cg_likely(!cg_kernel_writes_matter()) || !next_) return call;               \
        cg_keeps_t k_ = { .n = 0 };                                          \
        keep_stream(&k_, fp);                                                \
        cg_keeps_add(&k_, dst, len);                                         \
        __typeof__(call) r_ = call;                                          \
        cg_keeps_end(&k_);                                                   \
        return r_;                                                           \
    } while (0)

static size_t total(size_t size, size_t n)
{
    size_t t;
    return __builtin_mul_overflow(size, n, &t) ? SIZE_MAX : t;
}

/* A missing definition answers as end of file would. */
#define OR(v) (next_ ? (v) : 0)

CG_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *fp)
{
    NEXT_LAZY(fread);
    FREAD_CALL(fp, p, total(size, n), OR(next_(p, size, n, fp)));
}

CG_EXPORT size_t fread_unlocked(void *p, size_t size, size_t n, FILE *fp)
{
    NEXT_LAZY(fread_unlocked);
    FREAD_CALL(fp, p, total(size, n), OR(next_(p, size, n, fp)));
}

size_t __fread_chk(void *p, size_t plen, size_t size, size_t n, FILE *fp);
CG_EXPORT size_t __fread_chk(void *p, size_t plen, size_t size, size_t n, FILE *fp)
{
    NEXT_LAZY(__fread_chk);
    FREAD_CALL(fp, p, total(size, n), OR(next_(p, plen, size, n, fp)));
}

size_t __fread_unlocked_chk(void *p, size_t plen, size_t size, size_t n, FILE *fp);
CG_EXPORT size_t __fread_unlocked_chk(void *p, size_t plen, size_t size, size_t n, FILE *fp)
{
    NEXT_LAZY(__fread_unlocked_chk);
    FREAD_CALL(fp, p, total(size, n), OR(next_(p, plen, size, n, fp)));
}

#define EOF_OR(v) (next_ ? (v) : EOF)
#define NULL_OR(v) (next_ ? (v) : NULL)

CG_EXPORT char *fgets(char *s, int n, FILE *fp)
{
    NEXT_LAZY(fgets);
    STREAM_CALL(fp, NULL_OR(next_(s, n, fp)));
}

CG_EXPORT char *fgets_unlocked(char *s, int n, FILE *fp)
{
    NEXT_LAZY(fgets_unlocked);
    STREAM_CALL(fp, NULL_OR(next_(s, n, fp)));
}

char *__fgets_chk(char *s, size_t size, int n, FILE *fp);
CG_EXPORT char *__fgets_chk(char *s, size_t size, int n, FILE *fp)
{
    NEXT_LAZY(__fgets_chk);
    STREAM_CALL(fp, NULL_OR(next_(s, size, n, fp)));
}

char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *fp);
CG_EXPORT char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *fp)
{
    NEXT_LAZY(__fgets_unlocked_chk);
    STREAM_CALL(fp, NULL_OR(next_(s, size, n, fp)));
}

/* One character at a time: getc and friends, and __uflow and __underflow,
 * which the inline getc of glibc's headers calls to refill. */
#define ONE(name)                                                            \
    CG_EXPORT int name(FILE *fp)                                             \
    {                                                                        \
        NEXT_LAZY(name);                                                     \
        STREAM_CALL(fp, EOF_OR(next_(fp)));                                  \
    }
int _IO_getc(FILE *fp);
int __uflow(FILE *fp);
int __underflow(FILE *fp);
ONE(fgetc)
ONE(getc)
ONE(_IO_getc)
ONE(fgetc_unlocked)
ONE(getc_unlocked)
ONE(__uflow)
ONE(__underflow)

CG_EXPORT int getchar(void)
{
    NEXT_LAZY(getchar);
    STREAM_CALL(stdin, EOF_OR(next_()));
}

CG_EXPORT int getchar_unlocked(void)
{
    NEXT_LAZY(getchar_unlocked);
    STREAM_CALL(stdin, EOF_OR(next_()));
}

#define ONE_WIDE(name)                                                       \
    CG_EXPORT wint_t name(FILE *fp)                                          \
    {                                                                        \
        NEXT_LAZY(name);                                                     \
        STREAM_CALL(fp, next_ ? next_(fp) : WEOF);                           \
    }
ONE_WIDE(fgetwc)
ONE_WIDE(getwc)
ONE_WIDE(fgetwc_unlocked)
ONE_WIDE(getwc_unlocked)

CG_EXPORT wint_t getwchar(void)
{
    NEXT_LAZY(getwchar);
    STREAM_CALL(stdin, next_ ? next_() : WEOF);
}

CG_EXPORT wchar_t *fgetws(wchar_t *s, int n, FILE *fp)
{
    NEXT_LAZY(fgetws);
    STREAM_CALL(fp, NULL_OR(next_(s, n, fp)));
}

CG_EXPORT wchar_t *fgetws_unlocked(wchar_t *s, int n, FILE *fp)
{
    NEXT_LAZY(fgetws_unlocked);
    STREAM_CALL(fp, NULL_OR(next_(s, n, fp)));
}

CG_EXPORT ssize_t getdelim(char **line, size_t *n, int delim, FILE *fp)
{
    NEXT_LAZY(getdelim);
    STREAM_CALL(fp, next_ ? next_(line, n, delim, fp) : -1);
}

ssize_t __getdelim(char **line, size_t *n, int delim, FILE *fp);
CG_EXPORT ssize_t __getdelim(char **line, size_t *n, int delim, FILE *fp)
{
    NEXT_LAZY(__getdelim);
    STREAM_CALL(fp, next_ ? next_(line, n, delim, fp) : -1);
}

CG_EXPORT ssize_t getline(char **line, size_t *n, FILE *fp)
{
    NEXT_LAZY(getline);
    STREAM_CALL(fp, next_ ? next_(line, n, fp) : -1);
}

/* A seek may read the block it lands in. */
CG_EXPORT int fseek(FILE *fp, long off, int whence)
{
    NEXT_LAZY(fseek);
    STREAM_CALL(fp, next_ ? next_(fp, off, whence) : -1);
}

CG_EXPORT int fseeko(FILE *fp, off_t off, int whence)
{
    NEXT_LAZY(fseeko);
    STREAM_CALL(fp, next_ ? next_(fp, off, whence) : -1);
}

int fseeko64(FILE *fp, off_t off, int whence);
CG_EXPORT int fseeko64(FILE *fp, off_t off, int whence)
{
    NEXT_LAZY(fseeko64);
    STREAM_CALL(fp, next_ ? next_(fp, off, whence) : -1);
}

CG_EXPORT int fsetpos(FILE *fp, const fpos_t *pos)
{
    NEXT_LAZY(fsetpos);
    STREAM_CALL(fp, next_ ? next_(fp, pos) : -1);
}

/* The scanf family reads through the stream's buffer: the variadic ones go
 * to the next v-variant of the same flavour, GNU (fscanf) or C99
 * (__isoc99_fscanf). glibc's header renames fscanf to __isoc99_fscanf, so
 * the exported names are given explicitly. */
static int (*next_vfscanf[2])(FILE *, const char *, va_list);
static const char *const vfscanf_name[2] = { "vfscanf", "__isoc99_vfscanf" };

static int scan(int flavour, FILE *fp, const char *fmt, va_list ap)
{
    int (*next_)(FILE *, const char *, va_list) = next_vfscanf[flavour];
    if (cg_unlikely(!next_)) {
        cg_init();
        next_ = (int (*)(FILE *, const char *, va_list))dlsym(RTLD_NEXT, vfscanf_name[flavour]);
        __atomic_store_n(&next_vfscanf[flavour], next_, __ATOMIC_RELAXED);
    }
    STREAM_CALL(fp, EOF_OR(next_(fp, fmt, ap)));
}

#define SCAN_FAMILY(flavour, vf, f, s, vs)                                   \
    int vf##_(FILE *fp, const char *fmt, va_list ap) __asm__(#vf);           \
    CG_EXPORT int vf##_(FILE *fp, const char *fmt, va_list ap)               \
    {                                                                        \
        return scan(flavour, fp, fmt, ap);                                   \
    }                                                                        \
    int f##_(FILE *fp, const char *fmt, ...) __asm__(#f);                    \
    CG_EXPORT int f##_(FILE *fp, const char *fmt, ...)                       \
    {                                                                        \
        va_list ap;                                                          \
        va_start(ap, fmt);                                                   \
        int r = scan(flavour, fp, fmt, ap);                                  \
        va_end(ap);                                                          \
        return r;                                                            \
    }                                                                        \
    int s##_(const char *fmt, ...) __asm__(#s);                              \
    CG_EXPORT int s##_(const char *fmt, ...)                                 \
    {                                                                        \
        va_list ap;                                                          \
        va_start(ap, fmt);                                                   \
        int r = scan(flavour, stdin, fmt, ap);                               \
        va_end(ap);                                                          \
        return r;                                                            \
    }                                                                        \
    int vs##_(const char *fmt, va_list ap) __asm__(#vs);                     \
    CG_EXPORT int vs##_(const char *fmt, va_list ap)                         \
    {                                                                        \
        return scan(flavour, stdin, fmt, ap);                                \
    }
SCAN_FAMILY(0, vfscanf, fscanf, scanf, vscanf)
SCAN_FAMILY(1, __isoc99_vfscanf, __isoc99_fscanf, __isoc99_scanf, __isoc99_vscanf)
