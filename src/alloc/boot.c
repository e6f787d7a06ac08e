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

size_t cg_boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof size);
    return size;
}
