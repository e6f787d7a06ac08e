/* base.h: the bottom layer. What every other layer may use and nothing of
 * theirs: the options table, output that never allocates, sorting and
 * globbing, the next definitions of the functions cowguard interposes, the
 * /proc and pagemap readers, and the per-thread state every layer reads.
 *
 * The layers, each a folder with one header, each calling only the ones
 * below it (tests/integration/layers.sh fails on an include or a call that
 * points upward):
 *
 *   interpose  the exported libc symbols and the public API; start-up, fork
 *              and exit orchestration
 *   report     measuring at exit, the report in text and JSON
 *   attrib     backtraces, sites, symbols, the board, marking rules, the
 *              ledger of writes and copies
 *   freeze     freezing and thawing, the kernel's writes, the fault handler
 *              and the program's view of its signals
 *   alloc      the arena of marked blocks: reservation, runs, slabs, caches
 *   base       this
 *
 * A lower layer that must tell a higher one something (a copy settled, a
 * terminating signal) calls a function pointer the higher layer gave it.
 * Names: cowguard_* public, cg_* internal, static local. */
#ifndef CG_BASE_H
#define CG_BASE_H

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* Every name the layer headers declare is the library's own: hidden, so
 * that the code reaches it directly, not through the GOT (one load less on
 * every malloc and free). The system headers come before this. */
#pragma GCC visibility push(hidden)

#define CG_EXPORT __attribute__((visibility("default")))
#define CG_TLS __attribute__((tls_model("initial-exec")))
#define cg_likely(x) __builtin_expect(!!(x), 1)
#define cg_unlikely(x) __builtin_expect(!!(x), 0)
#define CG_STR_(x) #x
#define CG_STR(x) CG_STR_(x) /* a macro's value as a string, for inline assembly */

/* Pages are 4 KiB; start-up refuses other sizes and passes everything through. */
#define CG_PAGE_SHIFT 12
#define CG_PAGE ((size_t)1 << CG_PAGE_SHIFT)
#define CG_ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1)) /* a: a power of two */
static inline uintptr_t cg_page_down(uintptr_t a)
{
    return a & ~(uintptr_t)(CG_PAGE - 1);
}
static inline uintptr_t cg_page_up(uintptr_t a)
{
    return CG_ALIGN_UP(a, CG_PAGE);
}

/* A range of addresses [lo, hi). */
typedef struct cg_range_s {
    uintptr_t lo, hi;
} cg_range_t;

/* ---- per-thread state ("thread.c") ------------------------------------------ */

typedef struct cg_tls_s {
    uint32_t busy;    /* inside cowguard: the thread's allocations pass through unmarked */
    uint32_t no_wait; /* in the fault handler or on the exit path: take no lock another thread may hold */
    uint32_t alloc_writing; /* the allocator writes a block not handed out (a cache tag, calloc's
                             * zeroing) with no lock: a fork may have frozen its page just now, and
                             * the trapped write is the allocator's, never to be aborted on */
    void *probe;      /* a sigjmp_buf: while set, a fault returns there instead of reaching the
                       * program (reads of another runtime's memory, attrib/python.c) */
} cg_tls_t;
extern __thread cg_tls_t cg_tls CG_TLS;

/* Memory of cowguard's own (a table, a cache, a stack): private,
 * read-write, and paid for only as it is touched (MAP_NORESERVE). NULL
 * when it cannot be had. Async-signal-safe. */
void cg_own_map_note(const void *p, size_t size, bool mine);
bool cg_own_map_overlap(uintptr_t lo, uintptr_t hi, cg_range_t *first);
void cg_own_map_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);
static inline void *cg_map_anon(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    cg_own_map_note(p, size, true); /* never measured or watched as the program's (freeze/space.c) */
    return p;
}
size_t cg_own_transient(bool reset);
void cg_own_transient_note(size_t size);
static inline void cg_unmap_anon(void *p, size_t size)
{
    cg_own_map_note(p, size, false);
    munmap(p, size);
}

/* The interrupted instruction's address and stack pointer, from a signal
 * handler's context (0 on other machines). */
static inline uintptr_t cg_context_pc(const void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
#else
    return 0;
#endif
}

static inline uintptr_t cg_context_sp(const void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
#else
    return 0;
#endif
}

/* ---- "options.c": the one options table (options.def) ------------------------ */

typedef enum { CG_POLICY_REPORT, CG_POLICY_ABORT, CG_POLICY_OFF } cg_policy_t;
typedef enum { CG_FORMAT_TEXT, CG_FORMAT_JSON } cg_format_t;
typedef enum { CG_WATCH_MARKED, CG_WATCH_HEAP, CG_WATCH_ALL } cg_watch_mode_t;
typedef enum { CG_MEASURE_MARKED, CG_MEASURE_ALL } cg_measure_t;

typedef enum {
    CG_OPT_ENUM,   /* one of a list of words, stored as its index */
    CG_OPT_BOOL,   /* 0 or 1 */
    CG_OPT_SIZE,   /* bytes, with an optional k/M/G/T suffix */
    CG_OPT_UINT,   /* a plain number within [min, max] */
    CG_OPT_STRING, /* a copy of the value, in static storage (the environment may be rewritten) */
} cg_opt_type_t;

typedef struct cg_option_s {
    const char *name;    /* COWGUARD_... */
    cg_opt_type_t type;
    const char *deflt;   /* default, as text (parsed like a user's value) */
    const char *words;   /* CG_OPT_ENUM: the accepted words, '|'-separated */
    uint64_t min, max;   /* CG_OPT_UINT and CG_OPT_SIZE: accepted range */
    const char *doc;     /* one line for the man page, cowguard(7) */
} cg_option_t;

/* The parsed values, one field per row of options.def. */
typedef struct cg_options_s {
#define CG_OPT(field, name, type, deflt, words, min, max, doc) uint64_t field;
#include "options.def"
#undef CG_OPT
} cg_options_t;

/* The table's rows by field name: CG_OPTION_ROW(policy). */
enum {
#define CG_OPT(field, name, type, deflt, words, min, max, doc) CG_ROW_##field,
#include "options.def"
#undef CG_OPT
};
#define CG_OPTION_ROW(field) (&cg_option_table[CG_ROW_##field])

extern cg_options_t cg_opt;
/* free's fast path looks at one byte: nonzero while the watch records
 * heap blocks (attrib/heap.c, bit 1) or watches them in place
 * (freeze/space.c, bit 2), and every free then takes the slow path. */
extern _Atomic uint8_t cg_free_hooks;
#define CG_FREE_RECORD 1
#define CG_FREE_WATCH 2

/* Is every forked child's copying measured, marked data or not
 * (COWGUARD_MEASURE=all, or a watch in place)? */
static inline bool cg_outside_wanted(void)
{
    return cg_opt.measure == CG_MEASURE_ALL || cg_opt.watch != CG_WATCH_MARKED;
}
extern const cg_option_t cg_option_table[];
extern const size_t cg_option_count;
int cg_parse_size(const char *s, uint64_t *out);
int cg_option_parse(const cg_option_t *o, const char *value, uint64_t *out);
void cg_option_expected(const cg_option_t *o, char *buf, size_t size);
const char *cg_option_suggest(const char *name, size_t len);
const char *cg_option_word(const cg_option_t *o, uint64_t value, char *buf, size_t size);
void cg_options_load(char **envp);

/* ---- "writer.c": output without malloc, locks or stdio ----------------------- */

size_t cg_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t cg_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool cg_write_all(int fd, const char *buf, size_t len);
void cg_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cg_debug_enable(bool on);
const char *cg_strerror(int e);
void cg_bytes_text(uint64_t v, char *buf, size_t size);
typedef struct cg_sink_s {
    int fd;
    bool failed; /* a write fell short */
    size_t len;
    char buf[4096];
} cg_sink_t;
void cg_sink_printf(cg_sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cg_sink_flush(cg_sink_t *s);

/* ---- "sort.c", "glob.c" ---------------------------------------------------------- */

void cg_sort(void *base, size_t n, size_t size, bool (*before)(const void *, const void *));
bool cg_glob_match(const char *pattern, size_t plen, const char *name, size_t nlen);

/* ---- "next.c": the definitions cowguard passes through to ------------------------ */

typedef struct cg_next_s {
    void *(*dlopen)(const char *, int); /* first: interpose/dlopen.c's assembly reads it at offset 0 */
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    pid_t (*fork)(void);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    void (*_exit)(int) __attribute__((noreturn));
    pid_t (*wait)(int *);
    pid_t (*waitpid)(pid_t, int *, int);
    pid_t (*wait3)(int *, int, struct rusage *);
    pid_t (*wait4)(pid_t, int *, int, struct rusage *);
    int (*waitid)(idtype_t, id_t, siginfo_t *, int);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*pread)(int, void *, size_t, off_t);
    ssize_t (*pread64)(int, void *, size_t, off_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*preadv)(int, const struct iovec *, int, off_t);
    ssize_t (*preadv64)(int, const struct iovec *, int, off_t);
    ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
    ssize_t (*preadv64v2)(int, const struct iovec *, int, off_t, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
    int (*sigprocmask)(int, const sigset_t *, sigset_t *);
    int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
    int (*sigsuspend)(const sigset_t *);
    int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    int (*mprotect)(void *, size_t, int);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*getsockname)(int, struct sockaddr *, socklen_t *);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*pipe)(int[2]);
    int (*pipe2)(int[2], int);
    int (*socketpair)(int, int, int, int[2]);
    int (*stat)(const char *, struct stat *);
    int (*fstat)(int, struct stat *);
    int (*lstat)(const char *, struct stat *);
    int (*fstatat)(int, const char *, struct stat *, int);
    ssize_t (*readlink)(const char *, char *, size_t);
    ssize_t (*getrandom)(void *, size_t, unsigned int);
    ssize_t (*getdents64)(int, void *, size_t);
    int (*statx)(int, const char *, int, unsigned int, struct statx *);
    struct dirent *(*readdir)(DIR *);
    struct dirent64 *(*readdir64)(DIR *);
    int (*readdir_r)(DIR *, struct dirent *, struct dirent **);
    int (*readdir64_r)(DIR *, struct dirent64 *, struct dirent64 **);
    int (*sigaltstack)(const stack_t *, stack_t *);
    int (*pthread_attr_setstack)(pthread_attr_t *, void *, size_t);
    void (*makecontext)(ucontext_t *, void (*)(void), int, ...);
    int (*daemon)(int, int);
} cg_next_t;
extern cg_next_t cg_next;
/* Resolves every definition but free, which it returns: a failed dlsym
 * frees its last message, a block of the bootstrap pool, so the next free
 * is installed only when start-up is over (cg_boot_guard_next). */
typedef void (*cg_free_fn)(void *);
cg_free_fn cg_next_resolve(void);
void *cg_next_versioned(const char *name, const char *version);
/* mprotect for cowguard's own pages: the next definition (a test's failing
 * shim, say), or the system call. */
static inline int cg_mprotect(void *addr, size_t len, int prot)
{
    return cg_next.mprotect ? cg_next.mprotect(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
}

/* ---- "proc.c": what the kernel says: /proc, pagemap, loaded objects ------------- */

size_t cg_proc_read(const char *path, char *buf, size_t size);
int64_t cg_proc_field_kb(const char *text, const char *name);
size_t cg_count_mappings(void);
int cg_pagemap_read(uintptr_t addr, size_t n, uint64_t *entries);
int cg_pagemap_fd(void);
void cg_pagemap_child(void);
bool cg_pagemap_shared(uint64_t entry);
bool cg_pagemap_private(uint64_t entry);
bool cg_code_range(uintptr_t probe, uintptr_t *lo, uintptr_t *hi);
bool cg_loader_range(uintptr_t *lo, uintptr_t *hi);
void cg_own_code_setup(void);
bool cg_own_code(uintptr_t ip);

#pragma GCC visibility pop
#endif /* CG_BASE_H */
