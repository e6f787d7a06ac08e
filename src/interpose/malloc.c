/* malloc.c: the exported malloc family. Thin wrappers: a marked
 * request goes to the arena, anything else to the next allocator exactly
 * as the program made it; a pointer is the arena's when it lies in the
 * reservation. A successful call leaves errno as it found it. A bad free
 * of a marked pointer (twice, or not a block start) is reported and aborts,
 * as glibc does: a block must never be handed out twice.
 *
 * malloc, calloc, realloc and free each have a fast path, what a program
 * that marks nothing runs on every call: one compare with the floor
 * (attrib/mark.c) for a request, one range check (the arena) for a
 * pointer, and a jump to the next definition; the rest is out of line.
 * Before start-up is done the floor is 0, so every request takes the slow
 * path, which waits for it. A block of the bootstrap pool is no concern of
 * the fast path: when start-up used the pool, the next free and realloc
 * are replaced by two that know its blocks (alloc/boot.c). */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "interpose.h"

/* True while cowguard is being set up in this thread (inside dlsym): the
 * request is served from the bootstrap pool. The next allocator is not
 * used before set-up is complete: a failed dlsym allocates its message,
 * and jemalloc, say, is not ready to serve it then. Other threads wait in
 * cg_init. */
#define BOOTSTRAPPING() (cg_unlikely(!cg_is_ready()) && (cg_init(), !cg_is_ready()))

/* The caller's return address lets the C library's and the loader's own
 * requests through (attrib/mark.c). */
#define CALLER ((uintptr_t)__builtin_return_address(0))

/* In a slow path the fast path jumped to (malloc_slow, calloc_slow,
 * realloc_slow): the stack slot holding the program's return address, for
 * the thread's cache of stacks (attrib/sitecache.c). The function keeps a
 * frame pointer for it; a slot that turns out wrong only costs an unwind. */
#define SLOT ((const uintptr_t *)__builtin_frame_address(0) + 1)

/* A marked block, recorded with the calling stack. */
static void *marked_block(size_t size, size_t align, bool zero, const uintptr_t *slot)
{
    return cg_alloc(size, align, zero, cg_site_here(slot));
}

/* A marked block, or NULL for an unmarked request (or a full arena: it is
 * then passed to the next allocator, unmarked). */
static inline void *marked(size_t size, size_t align, bool zero, uintptr_t caller, const uintptr_t *slot)
{
    if (cg_likely(!cg_mark_wanted(size, caller))) return NULL;
    /* errno stays: the allocator's system calls are made under its lock,
     * which keeps it (alloc/arena.c), and unwinding keeps it too. */
    return cg_marking_ready() ? marked_block(size, align, zero, slot) : NULL;
}

/* The program handed free or realloc a marked pointer that is no live
 * block: the heap is not what the program believes. */
static void __attribute__((noreturn)) bad_pointer(const char *fn, const void *p, const char *why)
{
    cg_message("%s(): %s: %p (in cowguard's arena of marked data); aborting", fn, why, p);
    abort();
}

/* Free a marked block (fn: the call the program made, for the message). */
void cg_free_marked(void *p, const char *fn)
{
    const char *why = cg_alloc_free(p); /* keeps errno, as marked() says */
    if (why) bad_pointer(fn, p, why);
}

/* In a child watching its heap in place, the next allocator writes its
 * own headers and free lists on watched pages: those writes trap, and
 * must not do so with SIGSEGV blocked (glibc frees a thread's leftovers
 * with every signal blocked), so the call runs with SIGSEGV open. */
#define WATCHED_CALL(call)                                                   \
    __extension__({                                                          \
        bool opened_ = cg_signals_open_segv();                               \
        __typeof__(call) r_ = (call);                                        \
        cg_signals_close_segv(opened_);                                      \
        r_;                                                                  \
    })

/* free in such a child (every free, under the watch, comes by here). */
static __attribute__((noinline)) void watched_free(void *ptr)
{
    bool opened = cg_signals_open_segv();
    cg_next.free(ptr);
    cg_signals_close_segv(opened);
}

static void *do_malloc(size_t size, uintptr_t caller, const uintptr_t *slot)
{
    void *p = marked(size, 16, false, caller, slot);
    if (cg_likely(!p) && cg_unlikely(cg_space_watching()))
        return cg_watched_block(WATCHED_CALL(cg_next.malloc(size)), size, slot);
    return cg_likely(!p) ? cg_watched_block(cg_next.malloc(size), size, slot) : p;
}

static __attribute__((noinline)) void *malloc_slow(size_t size, uintptr_t caller)
{
    if (BOOTSTRAPPING()) return cg_boot_alloc(size, 16);
    return do_malloc(size, caller, SLOT);
}

CG_EXPORT void *malloc(size_t size)
{
    if (cg_likely(!cg_mark_maybe(size))) return cg_next.malloc(size);
    return malloc_slow(size, CALLER);
}

/* Could p be in the arena? A filter with plain loads: it may say yes for
 * a pointer that is not (the arena being set up at that moment), never no
 * for one that is; the slow path asks again, properly. */
static inline bool maybe_marked(const void *p)
{
    return (uintptr_t)p - cg_arena.base < cg_arena.size;
}

static __attribute__((noinline)) void free_slow(void *ptr)
{
    if (cg_arena_owns(ptr)) {
        cg_free_marked(ptr, "free");
        return;
    }
    uint8_t hooks = atomic_load_explicit(&cg_free_hooks, memory_order_relaxed);
    if (hooks & CG_FREE_RECORD) cg_heap_free(ptr);
    if (hooks & CG_FREE_WATCH) watched_free(ptr);
    else cg_next.free(ptr);
}

/* NULL goes to the next free too (cg_next.free ignores it before start-up). */
CG_EXPORT void free(void *ptr)
{
    if (cg_likely(!maybe_marked(ptr) && !atomic_load_explicit(&cg_free_hooks, memory_order_relaxed)))
        cg_next.free(ptr);
    else free_slow(ptr);
}


static __attribute__((noinline)) void *calloc_slow(size_t nmemb, size_t size, uintptr_t caller)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (BOOTSTRAPPING()) return cg_boot_alloc(total, 16);
    void *p = marked(total, 16, true, caller, SLOT);
    if (cg_likely(!p) && cg_unlikely(cg_space_watching()))
        return cg_watched_block(WATCHED_CALL(cg_next.calloc(nmemb, size)), total, SLOT);
    return cg_likely(!p) ? cg_watched_block(cg_next.calloc(nmemb, size), total, SLOT) : p;
}

CG_EXPORT void *calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (cg_likely(!__builtin_mul_overflow(nmemb, size, &total) && !cg_mark_maybe(total)))
        return cg_next.calloc(nmemb, size);
    return calloc_slow(nmemb, size, CALLER);
}

/* A marked block keeps being marked; a frozen one is always copied out.
 * A large one grows in place when the pages after it are free, else moves
 * with room to spare (alloc/block.c): appending is amortized O(1). */
static void *realloc_marked(void *ptr, size_t size, const uintptr_t *slot)
{
    size_t old = cg_block_usable_size(ptr);
    if (old == 0) bad_pointer("realloc", ptr, "not a live block cowguard handed out");
    if (size == 0) { /* as glibc: free, and return NULL */
        cg_free_marked(ptr, "realloc");
        return NULL;
    }
    if (size <= old && !cg_block_sealed(ptr)) return ptr;
    if (size > old && cg_block_grow(ptr, size)) return ptr;
    cg_site_id_t site = cg_site_here(slot);
    void *q = size > old ? cg_block_move(ptr, size, site) : NULL;
    if (q) return q;
    q = cg_alloc(size, 16, false, site);
    if (!q) q = cg_next.malloc(size);
    if (!q) return NULL;
    memcpy(q, ptr, old < size ? old : size);
    cg_free_marked(ptr, "realloc");
    return q;
}

/* For pymem.c, which routes CPython's own allocator: a marked block for
 * a request the marking rules want, else NULL; and a marked block resized. */
void *cg_marked_request(size_t size, bool zero, uintptr_t caller, const uintptr_t *slot)
{
    return marked(size, 16, zero, caller, slot);
}

void *cg_marked_resize(void *ptr, size_t size, const uintptr_t *slot)
{
    return realloc_marked(ptr, size, slot);
}

static void *do_realloc(void *ptr, size_t size, uintptr_t caller, const uintptr_t *slot)
{
    if (!ptr) return do_malloc(size, caller, slot);
    if (cg_unlikely(cg_arena_owns(ptr))) return realloc_marked(ptr, size, slot);
    if (cg_unlikely(cg_boot_owns(ptr))) {
        void *q = do_malloc(size, caller, slot);
        size_t old = cg_boot_size(ptr);
        if (q) memcpy(q, ptr, old < size ? old : size);
        return q;
    }
    /* A block that grows into a marked size moves into the arena. */
    if (cg_unlikely(cg_mark_wanted(size, caller)) && cg_next.malloc_usable_size) {
        void *q = marked(size, 16, false, caller, slot);
        if (q) {
            size_t old = cg_next.malloc_usable_size(ptr);
            memcpy(q, ptr, old < size ? old : size);
            cg_next.free(ptr);
            return q;
        }
    }
    if (cg_unlikely(cg_opt.watch != CG_WATCH_MARKED)) {
        size_t old = cg_next.malloc_usable_size ? cg_next.malloc_usable_size(ptr) : 0;
        cg_heap_free(ptr);
        /* A block watched in place may move with mremap (a large one does,
         * in glibc), its pages read-only where nothing knows them: they
         * are made writable first. */
        bool watching = cg_space_watching();
        if (watching) cg_space_thaw_range((uintptr_t)ptr, (uintptr_t)ptr + old);
        void *q = watching ? WATCHED_CALL(cg_next.realloc(ptr, size)) : cg_next.realloc(ptr, size);
        cg_watched_block(q ? q : size ? ptr : NULL, q ? size : old, slot);
        return q;
    }
    return cg_next.realloc(ptr, size);
}

/* While cowguard is being set up, only the bootstrap pool can serve. */
static void *boot_realloc(void *ptr, size_t size)
{
    void *q = cg_boot_alloc(size, 16);
    if (q && ptr && cg_boot_owns(ptr)) {
        size_t old = cg_boot_size(ptr);
        memcpy(q, ptr, old < size ? old : size);
    }
    return q;
}

static __attribute__((noinline)) void *realloc_slow(void *ptr, size_t size, uintptr_t caller)
{
    if (BOOTSTRAPPING()) return boot_realloc(ptr, size);
    return do_realloc(ptr, size, caller, SLOT);
}

CG_EXPORT void *realloc(void *ptr, size_t size)
{
    if (cg_likely(!maybe_marked(ptr) && !cg_mark_maybe(size))) return cg_next.realloc(ptr, size);
    return realloc_slow(ptr, size, CALLER);
}

CG_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (BOOTSTRAPPING()) return boot_realloc(ptr, total);
    return do_realloc(ptr, total, CALLER, NULL);
}

static bool power_of_two(size_t x)
{
    return x && !(x & (x - 1));
}

/* Aligned requests the next allocator lacks a function for go through
 * posix_memalign. */
static void *aligned_next(size_t align, size_t size)
{
    void *p = NULL;
    if (!cg_next.posix_memalign) {
        errno = ENOMEM;
        return NULL;
    }
    if (align < sizeof(void *)) align = sizeof(void *);
    int e = cg_next.posix_memalign(&p, align, size);
    if (e) errno = e;
    return e ? NULL : p;
}

CG_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (BOOTSTRAPPING()) {
        if (!power_of_two(align) || align % sizeof(void *)) return EINVAL;
        void *p = cg_boot_alloc(size, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    /* A bad alignment is the next allocator's to judge, as without cowguard. */
    void *p = power_of_two(align) && align % sizeof(void *) == 0 ? marked(size, align, false, CALLER, NULL) : NULL;
    if (cg_likely(!p)) {
        if (!cg_next.posix_memalign) return ENOMEM;
        int e = cg_next.posix_memalign(out, align, size);
        if (e == 0) cg_watched_block(*out, size, NULL);
        return e;
    }
    *out = p;
    return 0;
}

/* aligned_alloc, memalign, valloc and pvalloc: only a request with a
 * power-of-two alignment is marked; every other one goes to the next
 * allocator as it is, which accepts or rejects it as it would without
 * cowguard (glibc before 2.38 rounds aligned_alloc's alignment up). */
CG_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (BOOTSTRAPPING()) return power_of_two(align) ? cg_boot_alloc(size, align) : NULL;
    void *p = power_of_two(align) ? marked(size, align, false, CALLER, NULL) : NULL;
    if (p) return p;
    return cg_watched_block(cg_next.aligned_alloc ? cg_next.aligned_alloc(align, size) : aligned_next(align, size), size,
                            NULL);
}

CG_EXPORT void *memalign(size_t align, size_t size)
{
    if (BOOTSTRAPPING()) return power_of_two(align) ? cg_boot_alloc(size, align) : NULL;
    void *p = power_of_two(align) ? marked(size, align, false, CALLER, NULL) : NULL;
    if (p) return p;
    return cg_watched_block(cg_next.memalign ? cg_next.memalign(align, size) : aligned_next(align, size), size,
                            NULL);
}

CG_EXPORT void *valloc(size_t size)
{
    if (BOOTSTRAPPING()) return cg_boot_alloc(size, CG_PAGE);
    void *p = marked(size, CG_PAGE, false, CALLER, NULL);
    if (p) return p;
    return cg_next.valloc ? cg_next.valloc(size) : aligned_next(CG_PAGE, size);
}

CG_EXPORT void *pvalloc(size_t size)
{
    size_t rounded = (size + CG_PAGE - 1) & ~(CG_PAGE - 1);
    if (BOOTSTRAPPING()) return rounded >= size ? cg_boot_alloc(rounded ? rounded : CG_PAGE, CG_PAGE) : NULL;
    void *p = rounded >= size ? marked(rounded ? rounded : CG_PAGE, CG_PAGE, false, CALLER, NULL) : NULL;
    if (p) return p;
    if (cg_next.pvalloc) return cg_next.pvalloc(size);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_next(CG_PAGE, rounded ? rounded : CG_PAGE);
}

CG_EXPORT size_t malloc_usable_size(void *ptr)
{
    if (!ptr) return 0;
    if (cg_arena_owns(ptr)) return cg_block_usable_size(ptr);
    if (cg_boot_owns(ptr)) return cg_boot_size(ptr);
    if (BOOTSTRAPPING()) return 0;
    return cg_next.malloc_usable_size ? cg_next.malloc_usable_size(ptr) : 0;
}
