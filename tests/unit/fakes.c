/* fakes.c: test doubles for what arena.c, slab.c and freeze.c take from the
 * rest of the library (init.c, mark.c, board.c, fault.c), so the arena can
 * be tested alone. */
#include <sys/mman.h>

#include "internal.h"

/* As in init.c, mark.c and next.c: the real mprotect is the next one. */
__thread cg_tls_t cg_tls CG_TLS;
cg_next_t cg_next = { .mprotect = mprotect };
bool cg_mark_enabled;

/* No process-tree board: nothing to count into. */
cg_board_t *cg_board = NULL;
cg_slot_t *cg_self = NULL;

bool cg_board_setup(void)
{
    return true;
}

void cg_board_note_freeze(size_t marked_bytes, size_t pages)
{
    (void)marked_bytes;
    (void)pages;
}

void cg_board_note_fault(bool copied)
{
    (void)copied;
}

/* No SIGSEGV handler: a write to a frozen page must crash the test, which is
 * what proves that the allocator's bookkeeping never writes one. */
void cg_fault_install(void)
{
}

/* No wrappers call keep.c here; a kept range's pages are simply thawed. */
void cg_before_kernel_write(uintptr_t a, size_t len)
{
    cg_thaw_range(a, a + len);
}
