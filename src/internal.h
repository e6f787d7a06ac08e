/* internal.h: the index of cowguard's internal functions, grouped under the
 * file that owns them. Names: cowguard_* public, cg_* internal, static local. */
#ifndef CG_INTERNAL_H
#define CG_INTERNAL_H

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <poll.h>
#include <ucontext.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "types.h"

/* ---- "init.c": once-init, passive mode, exit ---------------------------- */
extern __thread cg_tls_t cg_tls CG_TLS;
extern _Atomic int cg_state;          /* 0 new, 1 resolving, 2 ready */
void cg_init(void);
static inline bool cg_is_ready(void)
{
    return atomic_load_explicit(&cg_state, memory_order_acquire) == 2;
}

/* ---- "next.c": the next definitions and the dlsym bootstrap ------------- */
typedef struct cg_next_s {
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
    void *(*dlopen)(const char *, int);
    int (*daemon)(int, int);
} cg_next_t;
extern cg_next_t cg_next;
/* The next definition of fn, resolving cowguard first if need be; NULL
 * when the C library has none. */
#define CG_NEXT(fn) (cg_likely(cg_is_ready()) ? cg_next.fn : (cg_init(), cg_next.fn))
void *cg_next_versioned(const char *name, const char *version);
/* mprotect for cowguard's own pages: the next definition (a test's failing
 * shim, say), or the system call. */
static inline int cg_mprotect(void *addr, size_t len, int prot)
{
    return cg_next.mprotect ? cg_next.mprotect(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
}
extern void *(*cg_dlopen_next)(const char *, int); /* interpose_dl.c's jump target */

/* ---- "deepbind.c": RTLD_DEEPBIND objects get cowguard's malloc ---------- */
void cg_deepbind_fix(void);
extern cg_next_t cg_next;
void cg_next_resolve(void);
void *cg_boot_alloc(size_t size, size_t align);
extern char *const cg_boot_pool;
#define CG_BOOT_POOL_SIZE (64 * 1024)
static inline bool cg_boot_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)cg_boot_pool < CG_BOOT_POOL_SIZE;
}
size_t cg_boot_size(const void *p);

/* ---- "interpose_exit.c": _exit and _Exit -------------------------------- */
void cg_exit_now(int code) __attribute__((noreturn));

/* ---- "interpose_malloc.c": the malloc family --------------------------- */
void cg_free_marked(void *p, const char *fn);

/* ---- "options.c": the one options table --------------------------------- */
extern cg_options_t cg_opt;
extern const cg_option_t cg_option_table[];
extern const size_t cg_option_count;
int cg_parse_size(const char *s, uint64_t *out);
int cg_option_parse(const cg_option_t *o, const char *value, uint64_t *out);
void cg_option_expected(const cg_option_t *o, char *buf, size_t size);
const char *cg_option_suggest(const char *name, size_t len);
void cg_options_load(char **envp);

/* ---- "writer.c": output without malloc or stdio ------------------------- */
size_t cg_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t cg_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool cg_write_all(int fd, const char *buf, size_t len);
void cg_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
typedef struct cg_sink_s {
    int fd;
    bool failed; /* a write fell short */
    size_t len;
    char buf[4096];
} cg_sink_t;
void cg_sink_printf(cg_sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cg_sink_flush(cg_sink_t *s);
void cg_bytes_text(uint64_t v, char *buf, size_t size);
const char *cg_strerror(int e);

/* ---- "mark.c": the marking decision ------------------------------------- */
extern uint64_t cg_mark_min_size;     /* 0 = no size rule */
extern bool cg_mark_enabled;          /* the arena can take marked data */
extern bool cg_mark_slow;             /* COWGUARD_PREFORK or COWGUARD_SITES in force */
bool cg_mark_decide(size_t size, uintptr_t caller);
/* caller: the return address of the allocation call. */
static inline bool cg_mark_wanted(size_t size, uintptr_t caller)
{
    if (cg_likely(cg_tls.region_depth == 0)
        && cg_likely(cg_mark_min_size == 0 || size < cg_mark_min_size) && cg_likely(!cg_mark_slow))
        return false;
    return cg_mark_enabled && cg_tls.busy == 0 && cg_mark_decide(size, caller);
}
void cg_mark_setup(void);
void cg_mark_fork(void);
void cg_region_begin(void);
void cg_region_end(void);

/* ---- "sort.c": a sort that does not allocate ---------------------------- */
void cg_sort(void *base, size_t n, size_t size, bool (*before)(const void *, const void *));

/* ---- "glob.c": shell patterns ------------------------------------------- */
bool cg_glob_match(const char *pattern, size_t plen, const char *name, size_t nlen);

/* ---- "arena.c": the reservation, page runs, descriptors ----------------- */
extern cg_arena_t cg_arena;
static inline bool cg_arena_owns(const void *p)
{
    uintptr_t size = __atomic_load_n(&cg_arena.size, __ATOMIC_ACQUIRE); /* published after base */
    return (uintptr_t)p - cg_arena.base < size;
}
bool cg_arena_setup(size_t reserve);
bool cg_arena_ensure(void);
void *cg_arena_alloc(size_t size, size_t align, bool zero, uint16_t site);
const char *cg_arena_free(void *p);
int cg_arena_alloc_batch(int cls, void **out, int n);
int cg_arena_cache_put(const void *p, const char **why);
bool cg_arena_cache_take(void *p, uint16_t site);
void cg_arena_cache_return(void *p);
void cg_arena_cache_return_unlocked(void *p);
size_t cg_arena_usable_size(const void *p);
bool cg_arena_block_info(uintptr_t addr, cg_block_info_t *out);
cg_span_t *cg_arena_span_of(uintptr_t addr);
cg_span_t *cg_run_alloc(size_t npages, size_t align);
void cg_run_free(cg_span_t *s);
bool cg_span_reclaim(cg_span_t *s);
void cg_list_push(cg_list_t *l, cg_span_t *s);
void cg_list_remove(cg_list_t *l, cg_span_t *s);
void cg_arena_lock(void);
void cg_arena_unlock(void);
void cg_arena_reset_lock(void);

/* ---- "tcache.c": per-thread caches of free marked blocks ---------------- */
void cg_tcache_setup(void);
void *cg_tcache_alloc(int cls, uint16_t site);
int cg_tcache_free(void *p, uint64_t generation, const char **why);

/* ---- "slab.c": size classes and small blocks ---------------------------- */
int cg_size_class(size_t size, size_t align);
size_t cg_class_size(int cls);
uint32_t cg_class_pages(int cls);
void *cg_slab_alloc(int cls);
int cg_slab_free(cg_span_t *s, uintptr_t p);
long cg_slab_index(const cg_span_t *s, uintptr_t p);
void cg_slab_thaw(cg_span_t *s);
void cg_slab_freeze(cg_span_t *s);

/* ---- "freeze.c": freeze, thaw ------------------------------------------- */
int cg_freeze_all(void);
int cg_thaw_all(void);
bool cg_page_frozen(uintptr_t addr);
size_t cg_frozen_pages(void);
int cg_thaw_page(uintptr_t addr, bool *was_frozen, bool *copied);
uint64_t cg_freeze_generation(void);
int cg_reclaim_range(uintptr_t from, uintptr_t to);
void cg_note_program_protect(uintptr_t addr, size_t len, int prot);
bool cg_page_program_protected(uintptr_t addr);
void cg_freeze_child(void);
void cg_thaw_range(uintptr_t lo, uintptr_t hi);
void cg_thaw_for_kernel(uintptr_t addr, uint32_t site, bool *was_frozen);
void cg_settle(uintptr_t lo, uintptr_t hi, bool final);
void cg_freeze_on_copy(cg_copy_fn fn);

/* ---- "track.c": the kernel's record of writes ----------------------------- */
bool cg_track_arm(uintptr_t lo, uintptr_t hi);
bool cg_track_armed(void);
int cg_track_scan(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t page, void *arg), void *arg);
void cg_track_child(void);
void cg_refreeze_range(uintptr_t lo, uintptr_t hi);

/* ---- "keep.c": memory the kernel writes, kept writable ------------------ */
void cg_keep_stack(uintptr_t lo, size_t len);
void cg_keep_altstack(uintptr_t lo, size_t len);
int cg_keep_call_register(uintptr_t lo, uintptr_t hi);
int cg_keep_call_begin(uintptr_t a, size_t len);
void cg_keep_call_end(int slot);
size_t cg_keep_ranges(uintptr_t lo, uintptr_t hi, cg_range_t *out, size_t max);
void cg_keep_child(void);
void cg_keeps_add(cg_keeps_t *k, const void *p, size_t n);
void cg_keeps_end(cg_keeps_t *k);
void cg_keep_block(cg_keeps_t *k, const void *p);

/* ---- "fault.c": the SIGSEGV handler and the write policy ---------------- */
void cg_fault_handler(int sig, siginfo_t *si, void *uc);
void cg_fault_setup(void);
void cg_fault_exiting(void);
void cg_before_kernel_write(uintptr_t a, size_t len);

/* ---- "stack.c": a stack of cowguard's own for the fault handler -------- */
void cg_stack_setup(void);
void cg_run_on_big_stack(void (*fn)(void *), void *arg);

/* ---- "signals.c": the program's view of SIGSEGV: action and masks ------- */
void cg_fault_install(void);
void cg_fault_lock(void);
void cg_fault_unlock(void);
void cg_fault_reset_lock(void);
int cg_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int cg_sigmask(int how, const sigset_t *set, sigset_t *old, int (*next)(int, const sigset_t *, sigset_t *));
const sigset_t *cg_mask_without_segv(const sigset_t *set, sigset_t *copy);
void cg_signal_chain(int sig, siginfo_t *si, void *uc);
void cg_async_signals(sigset_t *set);
void cg_signals_setup(void);

/* ---- "fork.c": what a fork does to cowguard's state --------------------- */
void cg_fork_setup(void);
void cg_fork_done(pid_t pid);

/* ---- "board.c": memory shared by the process tree ----------------------- */
extern cg_board_t *cg_board;
extern cg_slot_t *cg_self;
bool cg_board_setup(void);
uint32_t cg_board_reserve(void);
void cg_board_forked(uint32_t slot, pid_t pid);
void cg_board_child(uint32_t slot);
bool cg_board_is_root(void);
void cg_board_hand_over(pid_t from, pid_t to);
void cg_board_note_freeze(size_t marked_bytes, size_t pages);
void cg_board_note_write(bool copied, bool late);
void cg_board_note_copy(bool nostack, bool estimated, bool late);
void cg_board_note_pending(int delta);
void cg_board_note_exit(cg_slot_t *s, cg_exit_how_t how, int code, int sig);
void cg_board_note_reaped(pid_t pid, int status);
cg_slot_t *cg_board_find(pid_t pid);

/* ---- "sites.c": the stack and write tables on the board ----------------- */
uint16_t cg_site_id(const uintptr_t *frames, uint32_t n);
const cg_site_t *cg_site_get(uint16_t id);
void cg_write_note(uint16_t writer, uint16_t alloc, uint32_t writes, bool copied, bool late);
void cg_write_each(void (*fn)(const cg_write_t *w, uint16_t writer, uint16_t alloc, bool late, void *arg), void *arg);

/* ---- "backtrace.c": stacks with libunwind ------------------------------- */
void cg_backtrace_setup(void);
bool cg_code_range(uintptr_t probe, uintptr_t *lo, uintptr_t *hi);
bool cg_loader_range(uintptr_t *lo, uintptr_t *hi);
uint32_t cg_backtrace(uintptr_t *frames, uint32_t max);
uint32_t cg_backtrace_signal(void *ucontext, uintptr_t *frames, uint32_t max);
uint16_t cg_site_here(void);
bool cg_backtrace_own(uintptr_t ip);
void cg_backtrace_prefork(void);
void cg_backtrace_postfork_parent(void);
void cg_backtrace_postfork_child(void);
int cg_backtrace_pipe(int fds[2], int flags);

/* ---- "symbolize.c": names for addresses --------------------------------- */
void cg_symbolize(uintptr_t addr, cg_frame_t *out);
void cg_symbolize_lock(void);
void cg_symbolize_unlock(void);
void cg_symbolize_reset_lock(void);

/* ---- "srcline.c": file and line, when libdw and debug info are there ---- */
bool cg_srcline(uintptr_t addr, const char **file, int *line);

/* ---- "measure.c": what the kernel says ---------------------------------- */
size_t cg_proc_read(const char *path, char *buf, size_t size);
void cg_measure_self(cg_slot_t *s);
void cg_measure_fork(cg_slot_t *s);
int cg_pagemap_read(uintptr_t addr, size_t n, uint64_t *entries);
void cg_measure_child(void);
bool cg_pagemap_shared(uint64_t entry);
bool cg_pagemap_private(uint64_t entry);
int cg_pagemap_fd(void);

/* ---- "report.c": when, where, and the numbers ------------------------- */
void cg_process_exit(cg_exit_how_t how, int code);
void cg_process_killed(int sig);
void cg_begin_exit(void);
void cg_report_keep_stderr(void);
void cg_report_process(const cg_slot_t *s, cg_proc_t *p);
const char *cg_exit_how_name(cg_exit_how_t how);
const char *cg_signal_name(int sig);

/* ---- "report_text.c", "report_json.c": the two forms ------------------- */
void cg_report_text(const cg_report_t *r, cg_sink_t *out);
void cg_report_json(const cg_report_t *r, cg_sink_t *out);

#endif /* CG_INTERNAL_H */
