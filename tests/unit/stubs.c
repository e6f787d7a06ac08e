/* stubs.c: test doubles for what arena.c, slab.c, freeze.c and mark.c take
 * from the rest of the library (init.c, board.c, fault.c), so the arena can
 * be tested alone. */
#include "internal.h"

/* As in init.c: the per-thread state mark.c reads. */
__thread cg_tls_t cg_tls CG_TLS;

/* No process-tree board: nothing to count into. */
cg_board_t *cg_board = NULL;
cg_slot_t *cg_self = NULL;

bool cg_board_setup(void)
{
    return true;
}

void cg_board_note_freeze(size_t bytes, size_t pages)
{
    (void)bytes;
    (void)pages;
}

void cg_board_note_fault(void)
{
}

/* No SIGSEGV handler: a write to a frozen page must crash the test, which is
 * what proves that the allocator's bookkeeping never writes one. */
void cg_fault_install(void)
{
}
