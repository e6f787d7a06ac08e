/* api.c: the public API of include/cowguard.h. */
#define COWGUARD_NO_WRAPPERS
#include <errno.h>

#include "../include/cowguard.h"
#include "internal.h"

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
    void *p = cg_mark_enabled ? cg_arena_alloc(size, 16, false, cg_site_here()) : NULL;
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
    void *p = cg_mark_enabled ? cg_arena_alloc(total, 16, true, cg_site_here()) : NULL;
    return p ? p : cg_next.calloc(nmemb, size);
}

CG_EXPORT void cowguard_free(void *ptr)
{
    if (!ptr) return;
    if (cg_arena_owns(ptr)) cg_arena_free(ptr);
    else if (!cg_boot_owns(ptr)) cg_next.free(ptr);
}

CG_EXPORT int cowguard_freeze(void)
{
    cg_init();
    if (!cg_mark_enabled) return -1;
    if (cg_opt.policy == CG_POLICY_OFF) return 0;
    cg_arena_lock();
    int r = cg_freeze_all();
    cg_arena_unlock();
    return r;
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
