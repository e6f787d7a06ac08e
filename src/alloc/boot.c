/* boot.c: the bootstrap pool.
 *
 * Until start-up has found the next malloc (dlsym, which itself allocates),
 * the malloc wrappers serve requests from this static pool. Its blocks are
 * never freed; free recognises them by address and ignores them. Each block
 * is preceded by a 16-byte header holding its size, for realloc. */
#include <string.h>

#include "alloc.h"

static _Alignas(64) char pool[CG_BOOT_POOL_SIZE];
static _Atomic size_t used;

char *const cg_boot_pool = pool;

void *cg_boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > CG_BOOT_POOL_SIZE) return NULL;
    size_t old = atomic_load(&used), start, next;
    do {
        start = CG_ALIGN_UP(old + 16, align);
        next = start + size;
        if (next > CG_BOOT_POOL_SIZE) return NULL;
    } while (!atomic_compare_exchange_weak(&used, &old, next));
    memcpy(pool + start - sizeof(size_t), &size, sizeof size);
    return pool + start; /* static storage: already zero */
}

/* The next free and realloc, for a process whose start-up handed out
 * blocks of the pool (glibc before 2.34 callocs in dlsym): those blocks are
 * never freed, and one reallocated moves to the next allocator. The malloc
 * wrappers' fast paths then need not look for them. */
static void (*free_next)(void *);
static void *(*realloc_next)(void *, size_t);

static void free_past_boot(void *ptr)
{
    if (!cg_boot_owns(ptr)) free_next(ptr);
}

static void *realloc_past_boot(void *ptr, size_t size)
{
    if (!cg_boot_owns(ptr)) return realloc_next(ptr, size);
    void *q = cg_next.malloc(size);
    size_t old = cg_boot_size(ptr);
    if (q) memcpy(q, ptr, old < size ? old : size);
    return q;
}

/* At the end of start-up, when the pool is what it will stay: the next
 * free is installed, and if the pool handed out anything, the next free and
 * realloc learn its blocks. */
void cg_boot_guard_next(cg_free_fn next_free)
{
    if (!atomic_load(&used)) {
        cg_next.free = next_free;
        return;
    }
    free_next = next_free;
    realloc_next = cg_next.realloc;
    cg_next.realloc = realloc_past_boot;
    cg_next.free = free_past_boot;
}

size_t cg_boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof size);
    return size;
}
