/* backtrace.c: stacks, captured with libunwind.
 *
 * Allocation sites come from unw_backtrace (libunwind's fast path, with its
 * per-thread cache); writers from the signal context, with unw_init_local2,
 * which only reads memory and is safe in the fault handler. cowguard's own
 * frames are dropped (cg_own_code). Every frame is stored as a return address (the
 * faulting instruction's address plus one), so the symbolizer treats all
 * frames alike. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <libunwind.h>

#include "attrib.h"
#include "sys.h"

/* libunwind takes locks of its own while it unwinds. A fork while another
 * thread holds one would leave it held in the child, and the child's next
 * unwind (in the fault handler) would hang. So the prepare handler stops
 * new unwinds and waits for those under way; meanwhile stacks come back
 * empty.
 *
 * libunwind also validates memory by writing it into a pipe, which it
 * opens with pipe2 (through cowguard's wrapper, see cg_backtrace_pipe).
 * Those two descriptors must not stay where the program sees them (a test
 * suite listing its descriptors) or can reuse their numbers (libunwind
 * would then write into the program's file). So the pipe lives only while
 * unwinds are under way: the last one to finish closes it and sets
 * libunwind's copy of the numbers back to -1, and libunwind opens it again
 * next time. Closing excludes new unwinds the way a fork does.
 *
 * The count of unwinds under way is kept in shards, a cache line each,
 * threads spread over them: every marked allocation with backtraces
 * counts, and one shared counter bounced between threads cost more than
 * the unwind. */
#define SHARDS 64
static struct {
    _Alignas(64) _Atomic int n;
} shards[SHARDS];
static _Atomic unsigned next_shard;
static _Atomic int fork_pending; /* a fork is being prepared */
static _Atomic int closing;      /* the pipe is being closed */
static int *lu_pipe;             /* libunwind's array of the two numbers */
static _Atomic int lu_fds[2] = { -1, -1 }; /* what cowguard opened there */
static _Atomic int broken;       /* 1: a fork went ahead mid-unwind, no stacks here; 2: that fork is under way */
static __thread struct {
    uint32_t unwinding;  /* inside libunwind for cowguard (its pipe2 is cowguard's) */
    uint32_t shard;      /* this thread's shard, + 1; 0 before its first unwind */
    bool closing_pipe;   /* this thread is closing libunwind's validation pipe */
} me CG_TLS;

static _Atomic int *my_shard(void)
{
    if (cg_unlikely(!me.shard)) me.shard = atomic_fetch_add(&next_shard, 1) % SHARDS + 1;
    return &shards[me.shard - 1].n;
}

/* Unwinds under way in all threads. */
static int under_way(void)
{
    int n = 0;
    for (int i = 0; i < SHARDS; i++) n += atomic_load(&shards[i].n);
    return n;
}

static bool unwind_begin(void)
{
    _Atomic int *shard = my_shard();
    for (;;) {
        if (atomic_load(&fork_pending) || atomic_load(&broken)) return false;
        if (atomic_load(&closing)) {
            if (me.closing_pipe) return false; /* a signal handler interrupted the close */
            sched_yield();
            continue;
        }
        atomic_fetch_add(shard, 1); /* then the flags again: a fork or a close sees it, or it sees them */
        if (!atomic_load(&fork_pending) && !atomic_load(&closing)) break;
        atomic_fetch_sub(shard, 1);
    }
    me.unwinding++;
    return true;
}

static void close_pipe(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&closing, &expected, 1)) return;
    me.closing_pipe = true;
    if (under_way() == 0) { /* nobody can be using it now */
        int a = atomic_exchange(&lu_fds[0], -1), b = atomic_exchange(&lu_fds[1], -1);
        if (lu_pipe && lu_pipe[0] == a && lu_pipe[1] == b) lu_pipe[0] = lu_pipe[1] = -1;
        if (a >= 0) cg_sys_close(a);
        if (b >= 0) cg_sys_close(b);
    }
    me.closing_pipe = false;
    atomic_store(&closing, 0);
}

static void unwind_end(void)
{
    me.unwinding--;
    atomic_fetch_sub(my_shard(), 1);
    if (atomic_load(&lu_fds[0]) >= 0 && under_way() == 0) close_pipe();
}

/* Is this thread inside one of cowguard's unwinds? Then a pipe or pipe2
 * call is libunwind's, for cg_backtrace_pipe. */
bool cg_backtrace_owns_pipe(void)
{
    return me.unwinding != 0;
}

/* libunwind's pipe2, from inside one of cowguard's unwinds: the pipe is
 * made here, and remembered so that unwind_end can close it. */
int cg_backtrace_pipe(int fds[2], int flags)
{
    int saved = errno;
    int r = (int)syscall(SYS_pipe2, fds, flags | O_CLOEXEC);
    if (r != 0) return r;
    errno = saved;
    lu_pipe = fds;
    atomic_store(&lu_fds[0], fds[0]);
    atomic_store(&lu_fds[1], fds[1]);
    return 0;
}

/* Unwinds of other threads finish in microseconds; one that does not
 * finish in two seconds was abandoned (a signal handler jumped out of it).
 * The fork then goes on, and the child takes no more stacks: a libunwind
 * lock may be held there for good. */
void cg_backtrace_prefork(void)
{
    atomic_store(&fork_pending, 1);
    int mine = (int)me.unwinding; /* a fork from inside an unwind: do not wait for itself */
    for (long spins = 0; under_way() > mine; spins++) {
        if (spins > 20000) { /* ~2 s of 100 us sleeps */
            cg_message("an unwind in another thread did not finish; children forked now record no stacks");
            atomic_store(&broken, 2);
            break;
        }
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
}

void cg_backtrace_postfork_parent(void)
{
    if (atomic_load(&broken) == 2) atomic_store(&broken, 0);
    atomic_store(&fork_pending, 0);
}

/* In the child only the forking thread exists: other threads' unwinds are
 * gone with them, and so are the counts. */
void cg_backtrace_postfork_child(void)
{
    for (int i = 0; i < SHARDS; i++) atomic_store(&shards[i].n, 0);
    if (me.unwinding) atomic_store(my_shard(), (int)me.unwinding);
    atomic_store(&closing, 0);
    me.closing_pipe = false;
    if (atomic_load(&broken) == 2) atomic_store(&broken, 1);
    atomic_store(&fork_pending, 0);
}

/* The caller's stack, cowguard's frames left out. Not for signal context.
 * errno is kept: this runs inside malloc. */
uint32_t cg_backtrace(uintptr_t *frames, uint32_t max)
{
    void *raw[CG_MAX_FRAMES + 8];
    if (max > CG_MAX_FRAMES) max = CG_MAX_FRAMES;
    if (!unwind_begin()) return 0;
    int saved = errno;
    cg_tls.busy++; /* libunwind may allocate its caches */
    int n = unw_backtrace(raw, (int)max + 8);
    cg_tls.busy--;
    unwind_end();
    errno = saved;
    uint32_t k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (!cg_own_code((uintptr_t)raw[i])) frames[k++] = (uintptr_t)raw[i];
    return k;
}

/* The caller's stack as cg_backtrace gives it, and for each frame the
 * address of the stack slot that holds its return address (x86-64: just
 * below the caller's stack pointer), for sitecache.c to check a stack
 * against later. A full unwind, slower than cg_backtrace's cached one: for
 * stacks not seen before. 0 frames on other machines. */
uint32_t cg_backtrace_slots(uintptr_t *frames, uintptr_t *slots, uint32_t max)
{
#if defined(__x86_64__)
    unw_context_t context;
    unw_cursor_t cursor;
    if (max > CG_MAX_FRAMES) max = CG_MAX_FRAMES;
    if (!unwind_begin()) return 0;
    int saved = errno;
    cg_tls.busy++;
    uint32_t k = 0;
    if (unw_getcontext(&context) == 0 && unw_init_local(&cursor, &context) == 0) {
        while (k < max && unw_step(&cursor) > 0) {
            unw_word_t ip, sp;
            if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0 || ip == 0)
                break;
            if (cg_own_code(ip)) continue;
            frames[k] = ip;
            slots[k] = sp - sizeof(uintptr_t);
            k++;
        }
    }
    cg_tls.busy--;
    errno = saved;
    unwind_end();
    return k;
#else
    return 0;
#endif
}

/* The interrupted stack of a signal context. Async-signal-safe. */
/* stop: when it says yes of a frame, that frame is the last (NULL: none). */
uint32_t cg_backtrace_signal(void *ucontext, uintptr_t *frames, uint32_t max, bool (*stop)(uintptr_t pc))
{
    unw_cursor_t cursor;
    if (max > CG_MAX_FRAMES) max = CG_MAX_FRAMES;
    if (!unwind_begin()) return 0;
    int saved = errno;
    uint32_t k = 0;
    if (unw_init_local2(&cursor, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) == 0) {
        bool first = true;
        do {
            unw_word_t ip;
            if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
            if (!cg_own_code(ip)) frames[k++] = first ? ip + 1 : ip;
            first = false;
            if (stop && k && stop(frames[k - 1])) break;
        } while (k < max && unw_step(&cursor) > 0);
    }
    unwind_end();
    errno = saved;
    return k;
}
