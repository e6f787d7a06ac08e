/* api.c: the public API of include/cowguard.h. */
#define COWGUARD_NO_WRAPPERS
#include <errno.h>
#include <string.h>

#include "cowguard.h"
#include "interpose.h"

CG_EXPORT void cowguard_readonly_begin(void)
{
    cg_init();
    cg_region_begin();
}

CG_EXPORT void cowguard_readonly_end(void)
{
    cg_region_end();
}

CG_EXPORT void *cowguard_malloc(size_t size)
{
    cg_init();
    void *p = cg_mark_enabled && cg_marking_ready() ? cg_block_alloc(size, 16, false, cg_site_here(NULL)) : NULL;
    return p ? p : cg_next.malloc(size);
}

CG_EXPORT void *cowguard_calloc(size_t nmemb, size_t size)
{
    cg_init();
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = cg_mark_enabled && cg_marking_ready() ? cg_block_alloc(total, 16, true, cg_site_here(NULL)) : NULL;
    return p ? p : cg_next.calloc(nmemb, size);
}

CG_EXPORT void cowguard_free(void *ptr)
{
    if (!ptr) return;
    if (cg_arena_owns(ptr)) cg_free_marked(ptr, "cowguard_free");
    else if (!cg_boot_owns(ptr)) cg_next.free(ptr);
}

CG_EXPORT int cowguard_freeze(void)
{
    cg_init();
    if (!cg_mark_enabled) return -1;
    if (cg_opt.policy == CG_POLICY_OFF) return 0;
    return cg_freeze_now();
}

CG_EXPORT int cowguard_thaw(void)
{
    cg_init();
    if (!cg_mark_enabled) return -1;
    cg_arena_lock();
    int r = cg_thaw_all();
    cg_arena_unlock();
    return r;
}

CG_EXPORT int cowguard_is_frozen(const void *ptr)
{
    return cg_page_frozen((uintptr_t)ptr);
}

CG_EXPORT int cowguard_active(void)
{
    cg_init();
    return cg_mark_enabled;
}

static void add_faults(const cg_slot_t *s, void *arg)
{
    *(unsigned long long *)arg += atomic_load(&s->faults);
}

CG_EXPORT int cowguard_stats(cowguard_stats_t *out)
{
    cg_init();
    if (!out || !cg_mark_enabled) return -1;
    cowguard_stats_t s = { .size = sizeof s };
    if (cg_arena.ready) {
        cg_arena_lock();
        s.marked_bytes = cg_arena.live_bytes;
        s.marked_blocks = cg_arena.live_blocks;
        s.arena_bytes = cg_arena.top - cg_arena.base;
        s.frozen_bytes = cg_frozen_pages() * CG_PAGE;
        cg_arena_unlock();
    }
    if (cg_self) s.faults = atomic_load(&cg_self->faults);
    if (cg_board) {
        s.processes = atomic_load(&cg_board->nslots);
        cg_board_each(add_faults, &s.tree_faults);
        s.is_root = cg_board_is_root();
    }
    /* A caller built against an older header gets the fields it knows. */
    size_t size = out->size && out->size < sizeof s ? out->size : sizeof s;
    memcpy(out, &s, size);
    out->size = size;
    return 0;
}
