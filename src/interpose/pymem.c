/* pymem.c: CPython's own allocator, routed.
 *
 * CPython serves small objects from its own arenas (pymalloc), which never
 * call malloc, so marking by malloc alone needs PYTHONMALLOC=malloc, and
 * that changes the program being measured. Instead the Python helper calls
 * cowguard__python_route(), which puts these functions in front of the
 * interpreter's allocators for objects and for the interpreter's own
 * memory (PyMem_SetAllocator): a request the marking rules want (inside
 * cowguard.readonly(), before the first fork under COWGUARD_PREFORK, ...)
 * gets a marked block; every other goes to the allocator that was there,
 * pymalloc as a rule. A pointer is cowguard's when it is the start of a
 * block in the arena; anything else goes back to the allocator that was
 * there, so blocks made before the routing are freed where they came
 * from. (The allocator that was there may itself take its memory from
 * malloc, which cowguard may mark: PYTHONMALLOC=malloc_debug hands out a
 * marked block 16 bytes in, after its own header.) The interpreter calls
 * these with its lock held. */
#include <dlfcn.h>
#include <string.h>

#include "interpose.h"

/* PyMemAllocatorEx and its domains, as in CPython's headers (3.5 on). */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} pyalloc_t;
enum { DOMAIN_MEM = 1, DOMAIN_OBJ = 2 };

static pyalloc_t before[3]; /* what each domain had */
static bool routed;

#define CALLER ((uintptr_t)__builtin_return_address(0))
#define SLOT ((const uintptr_t *)__builtin_frame_address(0) + 1) /* as in malloc.c */

static __attribute__((noinline)) void *route_malloc(void *ctx, size_t size)
{
    pyalloc_t *b = ctx;
    void *p = cg_marked_request(size ? size : 1, false, CALLER, SLOT); /* 0 bytes: a unique pointer */
    return p ? p : cg_watched_block(b->malloc(b->ctx, size), size, SLOT);
}

static __attribute__((noinline)) void *route_calloc(void *ctx, size_t nelem, size_t elsize)
{
    pyalloc_t *b = ctx;
    size_t total;
    if (__builtin_mul_overflow(nelem, elsize, &total)) return b->calloc(b->ctx, nelem, elsize);
    void *p = cg_marked_request(total ? total : 1, true, CALLER, SLOT);
    return p ? p : cg_watched_block(b->calloc(b->ctx, nelem, elsize), total, SLOT);
}

/* Is ptr cowguard's (a block of the arena, from its start), not the
 * other allocator's? A freed block still counts: freeing it again is then
 * caught as the double free it is. */
static bool routed_block(void *ptr)
{
    return cg_arena_owns(ptr) && cg_block_starts(ptr);
}

static __attribute__((noinline)) void *route_realloc(void *ctx, void *ptr, size_t size)
{
    pyalloc_t *b = ctx;
    if (!ptr) {
        void *p = cg_marked_request(size ? size : 1, false, CALLER, SLOT);
        return p ? p : cg_watched_block(b->realloc(b->ctx, NULL, size), size, SLOT);
    }
    if (routed_block(ptr)) return cg_marked_resize(ptr, size ? size : 1, SLOT);
    cg_heap_free(ptr); /* recorded under the watch: forgotten */
    void *q = b->realloc(b->ctx, ptr, size); /* the other allocator's block stays its own: its size is its own */
    return q || !size ? cg_watched_block(q, size, SLOT) : q;
}

static void route_free(void *ctx, void *ptr)
{
    pyalloc_t *b = ctx;
    if (routed_block(ptr)) {
        cg_free_marked(ptr, "PyObject_Free");
        return;
    }
    cg_heap_free(ptr); /* recorded under the watch: forgotten */
    b->free(b->ctx, ptr);
}

/* Route the interpreter's object and memory allocators through cowguard.
 * Called by the Python helper, with the interpreter's lock held. 0 done
 * (or done before), -1 when the process is not a CPython. */
CG_EXPORT int cowguard__python_route(void)
{
    cg_init();
    if (routed) return 0;
    cg_py_setup_late();
    void (*get)(int, pyalloc_t *) = (void (*)(int, pyalloc_t *))dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    void (*set)(int, pyalloc_t *) = (void (*)(int, pyalloc_t *))dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    if (!get || !set) return -1;
    for (int d = DOMAIN_MEM; d <= DOMAIN_OBJ; d++) {
        get(d, &before[d]);
        pyalloc_t mine = { &before[d], route_malloc, route_calloc, route_realloc, route_free };
        set(d, &mine);
    }
    routed = true;
    return 0;
}
