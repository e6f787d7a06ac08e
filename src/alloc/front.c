/* front.c: the allocator's two entry points for the layers above. A marked
 * block comes from the thread's cache when it has one of the class, else
 * from the arena; a freed one goes back the same way. */
#include <string.h>

#include "alloc.h"

/* A marked block, or NULL when the arena cannot give one. */
void *cg_alloc(size_t size, size_t align, bool zero, cg_site_id_t site)
{
    int cls = align <= 16 && size <= CG_SMALL_MAX ? cg_size_class(size, 16) : -1;
    void *p = cls >= 0 ? cg_tcache_alloc(cls, site) : NULL;
    if (p) {
        if (zero) {
            cg_tls.alloc_writing++; /* a fork in another thread may freeze it meanwhile */
            memset(p, 0, size);
            cg_tls.alloc_writing--;
        }
        return p;
    }
    return cg_block_alloc(size, align, zero, site);
}

/* Free the marked block p: NULL, or why p is no live block (nothing was
 * freed then). The epoch is read before the block is looked at: a seal
 * in between sends it to the arena, not to the cache. */
const char *cg_alloc_free(void *p)
{
    const char *why;
    int r = cg_tcache_free(p, cg_alloc_epoch(), &why);
    if (r == 0) why = cg_block_free(p);
    return why; /* NULL when the cache kept it */
}
