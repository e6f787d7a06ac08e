/* interpose_malloc.c: the exported malloc family. Thin wrappers: a marked
 * request goes to the arena, anything else to the next allocator; a pointer
 * is the arena's when it lies in the reservation. */
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "internal.h"

/* True while the next definition of fn is not known yet (cowguard is being
 * set up, inside dlsym): the request is served from the bootstrap pool. */
#define BOOTSTRAPPING(fn) (cg_unlikely(!cg_is_ready()) && (cg_init(), cg_next.fn == NULL))

/* A marked block, or NULL for an unmarked request (or a full arena). The
 * caller's return address lets the C library's own requests through. */
#define CALLER ((uintptr_t)__builtin_return_address(0))
/* A marked block, from this thread's cache when it has one of the class. */
static void *marked_block(size_t size, size_t align, bool zero)
{
    uint16_t site = cg_site_here();
    int cls = align <= 16 && size <= CG_SMALL_MAX ? cg_size_class(size, 16) : -1;
    void *p = cls >= 0 ? cg_tcache_alloc(cls, site) : NULL;
    if (p) {
        if (zero) memset(p, 0, size);
        return p;
    }
    return cg_arena_alloc(size, align, zero, site);
}

/* A marked block goes to this thread's cache when it can, else to the arena. */
static void free_marked(void *ptr)
{
    int cls = cg_arena_cacheable(ptr);
    if (cls < 0 || !cg_tcache_free(ptr, cls)) cg_arena_free(ptr);
}

static inline void *marked(size_t size, size_t align, bool zero, uintptr_t caller)
{
    if (cg_likely(!cg_mark_wanted(size, caller)) || !cg_arena_ensure()) return NULL;
    return marked_block(size, align, zero);
}


CG_EXPORT void *malloc(size_t size)
{
    if (BOOTSTRAPPING(malloc)) return cg_boot_alloc(size, 16);
    void *p = marked(size, 16, false, CALLER);
    return cg_likely(!p) ? cg_next.malloc(size) : p;
}

CG_EXPORT void free(void *ptr)
{
    if (cg_unlikely(cg_arena_owns(ptr))) free_marked(ptr);
    else if (cg_unlikely(cg_boot_owns(ptr) || !ptr)) return;
    else cg_next.free(ptr);
}

CG_EXPORT void *calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (BOOTSTRAPPING(calloc)) return cg_boot_alloc(total, 16);
    void *p = marked(total, 16, true, CALLER);
    return cg_likely(!p) ? cg_next.calloc(nmemb, size) : p;
}

/* A marked block keeps being marked; a frozen one is always copied out. */
static void *realloc_marked(void *ptr, size_t size)
{
    size_t old = cg_arena_usable_size(ptr);
    if (old == 0) {
        cg_message("realloc(%p): not the start of a live marked block", ptr);
        errno = EINVAL;
        return NULL;
    }
    if (size == 0) { /* as glibc: free, and return NULL */
        cg_arena_free(ptr);
        return NULL;
    }
    cg_span_t *s = cg_arena_span_of((uintptr_t)ptr);
    if (size <= old && !s->frozen) return ptr;
    void *q = marked_block(size, 16, false);
    if (!q) q = cg_next.malloc(size);
    if (!q) return NULL;
    memcpy(q, ptr, old < size ? old : size);
    free_marked(ptr);
    return q;
}

CG_EXPORT void *realloc(void *ptr, size_t size)
{
    if (!ptr) return malloc(size);
    if (cg_unlikely(cg_arena_owns(ptr))) return realloc_marked(ptr, size);
    if (cg_unlikely(cg_boot_owns(ptr))) {
        void *q = malloc(size);
        size_t old = cg_boot_size(ptr);
        if (q) memcpy(q, ptr, old < size ? old : size);
        return q;
    }
    /* A block that grows into a marked size moves into the arena. */
    if (cg_unlikely(cg_mark_wanted(size, CALLER)) && cg_next.malloc_usable_size) {
        void *q = cg_arena_alloc(size, 16, false, cg_site_here());
        if (q) {
            size_t old = cg_next.malloc_usable_size(ptr);
            memcpy(q, ptr, old < size ? old : size);
            cg_next.free(ptr);
            return q;
        }
    }
    return cg_next.realloc(ptr, size);
}

CG_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, total);
}

static bool power_of_two(size_t x)
{
    return x && !(x & (x - 1));
}

CG_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!power_of_two(align) || align % sizeof(void *)) return EINVAL;
    if (BOOTSTRAPPING(posix_memalign)) {
        void *p = cg_boot_alloc(size, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    void *p = marked(size, align, false, CALLER);
    if (cg_likely(!p)) return cg_next.posix_memalign(out, align, size);
    *out = p;
    return 0;
}

/* Aligned requests the next allocator lacks a function for go through
 * posix_memalign, which every allocator has. */
static void *aligned_next(size_t align, size_t size)
{
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    int e = cg_next.posix_memalign(&p, align, size);
    if (e) errno = e;
    return e ? NULL : p;
}

CG_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    if (BOOTSTRAPPING(malloc)) return cg_boot_alloc(size, align);
    void *p = marked(size, align, false, CALLER);
    if (p) return p;
    return cg_next.aligned_alloc ? cg_next.aligned_alloc(align, size) : aligned_next(align, size);
}

CG_EXPORT void *memalign(size_t align, size_t size)
{
    if (!power_of_two(align)) { /* as glibc: round up to a power of two */
        size_t a = 1;
        while (a < align && a) a <<= 1;
        if (!a) {
            errno = EINVAL;
            return NULL;
        }
        align = a;
    }
    if (BOOTSTRAPPING(malloc)) return cg_boot_alloc(size, align);
    void *p = marked(size, align, false, CALLER);
    if (p) return p;
    return cg_next.memalign ? cg_next.memalign(align, size) : aligned_next(align, size);
}

CG_EXPORT void *valloc(size_t size)
{
    if (BOOTSTRAPPING(malloc)) return cg_boot_alloc(size, CG_PAGE);
    void *p = marked(size, CG_PAGE, false, CALLER);
    if (p) return p;
    return cg_next.valloc ? cg_next.valloc(size) : aligned_next(CG_PAGE, size);
}

CG_EXPORT void *pvalloc(size_t size)
{
    size_t rounded = (size + CG_PAGE - 1) & ~(CG_PAGE - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    if (rounded == 0) rounded = CG_PAGE;
    if (BOOTSTRAPPING(malloc)) return cg_boot_alloc(rounded, CG_PAGE);
    void *p = marked(rounded, CG_PAGE, false, CALLER);
    if (p) return p;
    return cg_next.pvalloc ? cg_next.pvalloc(size) : aligned_next(CG_PAGE, rounded);
}

CG_EXPORT size_t malloc_usable_size(void *ptr)
{
    if (!ptr) return 0;
    if (cg_arena_owns(ptr)) return cg_arena_usable_size(ptr);
    if (cg_boot_owns(ptr)) return cg_boot_size(ptr);
    if (BOOTSTRAPPING(malloc)) return 0;
    return cg_next.malloc_usable_size ? cg_next.malloc_usable_size(ptr) : 0;
}
