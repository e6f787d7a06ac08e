/* board.c: counters shared by the whole process tree.
 *
 * One MAP_SHARED anonymous mapping, made by the first process that marks
 * anything (the root) before it can fork, and inherited by every descendant.
 * Each process owns one slot and updates it with atomic operations only, so
 * a child that dies by a signal or leaves through _exit has left its numbers
 * behind, and the root can report them at its exit. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define BOARD_MAGIC 0x636f7767u /* "cowg" */

cg_board_t *cg_board;
cg_slot_t *cg_self;

static void claim(cg_board_t *b, int32_t ppid, uint64_t frozen_bytes)
{
    uint32_t i = atomic_fetch_add(&b->nslots, 1);
    if (i >= CG_BOARD_SLOTS) {
        atomic_fetch_add(&b->lost, 1);
        atomic_store(&b->nslots, CG_BOARD_SLOTS);
        cg_self = NULL;
        return;
    }
    cg_slot_t *s = &b->slots[i];
    s->ppid = ppid;
    atomic_store(&s->frozen_bytes, frozen_bytes);
    atomic_store(&s->pid, (int32_t)getpid()); /* last: the slot is now complete */
    cg_self = s;
}

bool cg_board_setup(void)
{
    void *p = mmap(NULL, sizeof(cg_board_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    cg_board_t *b = p;
    b->magic = BOARD_MAGIC;
    b->root_pid = (int32_t)getpid();
    claim(b, (int32_t)getppid(), 0);
    cg_board = b;
    return true;
}

/* In a forked child, before it returns from fork. */
void cg_board_child(void)
{
    if (!cg_board) return;
    int32_t ppid = cg_self ? atomic_load(&cg_self->pid) : (int32_t)getppid();
    uint64_t frozen = cg_self ? atomic_load(&cg_self->frozen_bytes) : 0;
    claim(cg_board, ppid, frozen);
}

void cg_board_note_freeze(size_t bytes, size_t pages)
{
    if (!cg_board) return;
    if (cg_self) atomic_store(&cg_self->frozen_bytes, bytes);
    uint64_t old = atomic_load(&cg_board->max_frozen_bytes);
    while (bytes > old && !atomic_compare_exchange_weak(&cg_board->max_frozen_bytes, &old, bytes)) {}
    old = atomic_load(&cg_board->max_frozen_pages);
    while (pages > old && !atomic_compare_exchange_weak(&cg_board->max_frozen_pages, &old, pages)) {}
}

/* Async-signal-safe. */
void cg_board_note_fault(void)
{
    if (cg_self) atomic_fetch_add_explicit(&cg_self->faults, 1, memory_order_relaxed);
}

void cg_board_note_exit(cg_exit_how_t how, int code, int sig)
{
    if (!cg_self) return;
    cg_self->exit_code = code;
    cg_self->exit_signal = sig;
    atomic_store(&cg_self->exit_how, (int32_t)how);
}
