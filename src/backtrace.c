/* backtrace.c: stacks, captured with libunwind.
 *
 * Allocation sites come from unw_backtrace (libunwind's fast path, with its
 * per-thread cache); writers from the signal context, with unw_init_local2,
 * which only reads memory and is safe in the fault handler. cowguard's own
 * frames are dropped: they lie in the library's executable segment, found
 * once at start-up. Every frame is stored as a return address (the
 * faulting instruction's address plus one), so the symbolizer treats all
 * frames alike. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <sched.h>
#include <libunwind.h>
#include <link.h>

#include "internal.h"

static uintptr_t self_lo, self_hi; /* the library's code */

/* libunwind takes locks of its own while it unwinds. A fork while another
 * thread holds one would leave it held in the child, and the child's next
 * unwind (in the fault handler) would hang. So the prepare handler stops
 * new unwinds and waits for those under way; meanwhile stacks come back
 * empty. */
static _Atomic int unwinding;   /* unwinds under way */
static _Atomic int fork_pending; /* a fork is being prepared */

static bool unwind_begin(void)
{
    atomic_fetch_add(&unwinding, 1);
    if (!atomic_load(&fork_pending)) return true;
    atomic_fetch_sub(&unwinding, 1);
    return false;
}

static void unwind_end(void)
{
    atomic_fetch_sub(&unwinding, 1);
}

void cg_backtrace_prefork(void)
{
    atomic_store(&fork_pending, 1);
    while (atomic_load(&unwinding) > 0) sched_yield();
}

void cg_backtrace_postfork(void)
{
    atomic_store(&unwinding, 0);
    atomic_store(&fork_pending, 0);
}

typedef struct {
    uintptr_t probe, lo, hi;
} code_range_t;

static int find_code(struct dl_phdr_info *info, size_t size, void *arg)
{
    code_range_t *r = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && r->probe >= lo && r->probe < lo + ph->p_memsz) {
            r->lo = lo;
            r->hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* The executable segment of the loaded object that holds probe. */
bool cg_code_range(uintptr_t probe, uintptr_t *lo, uintptr_t *hi)
{
    code_range_t r = { probe, 0, 0 };
    if (!dl_iterate_phdr(find_code, &r)) return false;
    *lo = r.lo;
    *hi = r.hi;
    return true;
}

void cg_backtrace_setup(void)
{
    cg_code_range((uintptr_t)cg_backtrace_setup, &self_lo, &self_hi);
}

static inline bool own(uintptr_t ip)
{
    return ip >= self_lo && ip < self_hi;
}

/* Is ip in cowguard's own code? */
bool cg_backtrace_own(uintptr_t ip)
{
    return own(ip);
}

/* The caller's stack, cowguard's frames left out. Not for signal context. */
uint32_t cg_backtrace(uintptr_t *frames, uint32_t max)
{
    void *raw[CG_MAX_FRAMES + 8];
    if (max > CG_MAX_FRAMES) max = CG_MAX_FRAMES;
    if (!unwind_begin()) return 0;
    cg_tls.busy++; /* libunwind may allocate its caches */
    int n = unw_backtrace(raw, (int)max + 8);
    cg_tls.busy--;
    unwind_end();
    uint32_t k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (!own((uintptr_t)raw[i])) frames[k++] = (uintptr_t)raw[i];
    return k;
}

/* The interrupted stack of a signal context. Async-signal-safe. */
uint32_t cg_backtrace_signal(void *ucontext, uintptr_t *frames, uint32_t max)
{
    unw_cursor_t cursor;
    if (max > CG_MAX_FRAMES) max = CG_MAX_FRAMES;
    if (!unwind_begin()) return 0;
    uint32_t k = 0;
    if (unw_init_local2(&cursor, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) == 0) {
        bool first = true;
        do {
            unw_word_t ip;
            if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
            if (!own(ip)) frames[k++] = first ? ip + 1 : ip;
            first = false;
        } while (k < max && unw_step(&cursor) > 0);
    }
    unwind_end();
    return k;
}

/* The site id of the current stack, for a marked allocation; 0 when
 * backtraces are off. The arena is set up first: the board holding the
 * site table comes with it. */
uint16_t cg_site_here(void)
{
    if (!cg_opt.backtrace || !cg_arena_ensure() || !cg_board) return 0;
    uintptr_t frames[CG_MAX_FRAMES];
    uint32_t n = cg_backtrace(frames, (uint32_t)cg_opt.backtrace);
    return cg_site_id(frames, n);
}
