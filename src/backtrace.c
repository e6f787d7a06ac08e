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
#include <libunwind.h>
#include <link.h>

#include "internal.h"

static uintptr_t self_lo, self_hi; /* the library's code */

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && probe >= lo && probe < lo + ph->p_memsz) {
            self_lo = lo;
            self_hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

void cg_backtrace_setup(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)cg_backtrace_setup);
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
    cg_tls.busy++; /* libunwind may allocate its caches */
    int n = unw_backtrace(raw, (int)max + 8);
    cg_tls.busy--;
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
    if (unw_init_local2(&cursor, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) < 0) return 0;
    uint32_t k = 0;
    bool first = true;
    do {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
        if (!own(ip)) frames[k++] = first ? ip + 1 : ip;
        first = false;
    } while (k < max && unw_step(&cursor) > 0);
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
