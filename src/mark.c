/* mark.c: which allocations are marked read-only.
 *
 * The test on every malloc is inline (cg_mark_wanted in internal.h): the
 * calling thread's region depth and one size compare. */
#include "internal.h"

uint64_t cg_mark_min_size;
bool cg_mark_enabled;

void cg_mark_setup(void)
{
    cg_mark_min_size = cg_opt.min_size;
    cg_mark_enabled = true;
}

void cg_region_begin(void)
{
    cg_tls.region_depth++;
}

void cg_region_end(void)
{
    static _Atomic int warned;
    if (cg_tls.region_depth > 0) cg_tls.region_depth--;
    else if (!atomic_exchange(&warned, 1))
        cg_message("cowguard_readonly_end() without a matching cowguard_readonly_begin(); ignored");
}
