/* board.c: the memory shared by the whole process tree.
 *
 * One MAP_SHARED anonymous mapping, made by the first process that marks
 * anything (the root) before it can fork, and inherited by every descendant:
 * a slot per process, then the site and write tables (sites.c). Each process
 * updates its own slot with atomic operations only, so a child that dies by
 * a signal or leaves through _exit has left its numbers behind, and the root
 * reports them at its exit. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"
#include "sys.h"


cg_board_t *cg_board;
cg_slot_t *cg_self;

/* A slot for a process whose parent is ppid; UINT32_MAX when the board is full. */
static uint32_t reserve(cg_board_t *b, int32_t ppid, uint64_t frozen_pages, uint64_t marked_bytes)
{
    uint32_t i = atomic_fetch_add(&b->nslots, 1);
    if (i >= CG_BOARD_SLOTS) {
        atomic_fetch_add(&b->lost, 1);
        atomic_store(&b->nslots, CG_BOARD_SLOTS);
        return UINT32_MAX;
    }
    cg_slot_t *s = &b->slots[i];
    s->ppid = ppid;
    s->rss_at_fork_kb = -1; /* the child reads its own */
    atomic_store(&s->outside_pages, -1);
    atomic_store(&s->frozen_pages, frozen_pages);
    atomic_store(&s->marked_bytes, marked_bytes);
    return i;
}

/* The slot gets its pid, from whichever of parent and child gets there first. */
static void publish(uint32_t i, pid_t pid)
{
    int32_t expected = 0;
    if (i < CG_BOARD_SLOTS) atomic_compare_exchange_strong(&cg_board->slots[i].pid, &expected, (int32_t)pid);
}

/* The board's memory: shared with every descendant. A memfd's, so that
 * `cowguard top` finds it by name in /proc/PID/maps and reads it through
 * /proc/PID/mem (no descriptor stays open); an anonymous shared mapping
 * when there is none. Untouched pages cost nothing; the tables fill
 * sparsely. */
static void *map_board(size_t size)
{
    int saved = errno;
    int fd = (int)syscall(SYS_memfd_create, "cowguard-board", 1u /* MFD_CLOEXEC */);
    void *p = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)size) == 0)
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (fd >= 0) cg_sys_close(fd);
    if (p == MAP_FAILED)
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = saved;
    return p == MAP_FAILED ? NULL : p;
}

static void describe(cg_layout_t *l)
{
    memcpy(l->magic, "cowguard board", 15);
    l->version = 1;
    l->slot_size = sizeof(cg_slot_t);
    l->slots_offset = offsetof(cg_board_t, slots);
    l->nslots_offset = offsetof(cg_board_t, nslots);
    l->root_pid_offset = offsetof(cg_board_t, root_pid);
    l->pid = offsetof(cg_slot_t, pid);
    l->ppid = offsetof(cg_slot_t, ppid);
    l->faults = offsetof(cg_slot_t, faults);
    l->copies = offsetof(cg_slot_t, copies);
    l->watch_faults = offsetof(cg_slot_t, watch_faults);
    l->watch_copies = offsetof(cg_slot_t, watch_copies);
    l->frozen_pages = offsetof(cg_slot_t, frozen_pages);
    l->exit_how = offsetof(cg_slot_t, exit_how);
    l->reaped = offsetof(cg_slot_t, reaped);
    l->outside_pages = offsetof(cg_slot_t, outside_pages);
    l->private_dirty_kb = offsetof(cg_slot_t, private_dirty_kb);
    l->measured = offsetof(cg_slot_t, measured);
}

bool cg_board_setup(void)
{
    size_t frames = cg_opt.backtrace;
    size_t stride = sizeof(cg_site_t) + frames * sizeof(uintptr_t);
    size_t sites = CG_ALIGN_UP(sizeof(cg_board_t), 64);
    size_t writes = CG_ALIGN_UP(sites + (frames ? CG_SITE_SLOTS * stride : 0), 64);
    size_t locs = CG_ALIGN_UP(writes + (frames ? CG_WRITE_SLOTS * sizeof(cg_write_t) : 0), 64);
    /* Python locations (python.c): 4 MiB of address space, touched only in a CPython. */
    size_t neighbours = CG_ALIGN_UP(locs + (frames ? CG_LOC_SLOTS * sizeof(cg_locslot_t) : 0), 64);
    size_t size = CG_ALIGN_UP(neighbours + (frames ? CG_NEIGHBOUR_SLOTS * sizeof(cg_neighbour_t) : 0), CG_PAGE);
    void *p = map_board(size);
    if (!p) return false;
    cg_board_t *b = p;
    describe(&b->layout);
    b->root_pid = (int32_t)getpid();
    atomic_store(&b->reporter, b->root_pid);
    b->site_frames = (uint32_t)frames;
    b->site_stride = (uint32_t)stride;
    b->sites_offset = sites;
    b->writes_offset = writes;
    b->locs_offset = frames ? locs : 0;
    b->neighbours_offset = frames ? neighbours : 0;
    b->size = size;
    cg_board = b;
    uint32_t i = reserve(b, (int32_t)getppid(), 0, 0);
    publish(i, getpid());
    cg_self = &b->slots[i];
    return true;
}

/* Before a fork (arena lock held): a slot for the child, reserved by the
 * parent, so that the child is on the board even if the parent exits before
 * the child first runs. */
uint32_t cg_board_reserve(void)
{
    if (!cg_board) return UINT32_MAX;
    return reserve(cg_board, cg_self ? atomic_load(&cg_self->pid) : (int32_t)getpid(),
                   cg_self ? atomic_load(&cg_self->frozen_pages) : 0,
                   cg_self ? atomic_load(&cg_self->marked_bytes) : 0);
}

/* In the parent after fork (pid > 0; -1: the fork failed, the slot stays empty). */
void cg_board_forked(uint32_t slot, pid_t pid)
{
    if (cg_board && pid > 0) publish(slot, pid);
}

/* In the child, before it returns from fork. */
void cg_board_child(uint32_t slot)
{
    if (!cg_board) return;
    publish(slot, getpid());
    cg_self = slot < CG_BOARD_SLOTS ? &cg_board->slots[slot] : NULL;
}

static void raise_max(_Atomic uint64_t *max, uint64_t v)
{
    uint64_t old = atomic_load(max);
    while (v > old && !atomic_compare_exchange_weak(max, &old, v)) {}
}

void cg_board_note_freeze(size_t marked_bytes, size_t pages)
{
    if (!cg_board) return;
    if (cg_self) {
        atomic_store(&cg_self->frozen_pages, pages);
        atomic_store(&cg_self->marked_bytes, marked_bytes);
    }
    raise_max(&cg_board->max_marked_bytes, marked_bytes);
    raise_max(&cg_board->max_frozen_pages, pages);
}

/* A trapped write by this process (late: after it began to exit), and
 * whether it copied its page. Async-signal-safe, like the three below. */
void cg_board_note_write(bool copied, bool late)
{
    if (!cg_self) return;
    atomic_fetch_add_explicit(late ? &cg_self->exit_faults : &cg_self->faults, 1, memory_order_relaxed);
    if (copied) atomic_fetch_add_explicit(late ? &cg_self->exit_copies : &cg_self->copies, 1, memory_order_relaxed);
}

/* A copy settled after the write: of a page thawed in bulk (no writer
 * stack), counted without the kernel's record of writes (estimated). */
void cg_board_note_copy(bool nostack, bool estimated, bool late)
{
    if (!cg_self) return;
    if (late) {
        atomic_fetch_add_explicit(&cg_self->exit_copies, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&cg_self->copies, 1, memory_order_relaxed);
    if (nostack) atomic_fetch_add_explicit(&cg_self->copies_nostack, 1, memory_order_relaxed);
    if (estimated) atomic_fetch_add_explicit(&cg_self->copies_estimated, 1, memory_order_relaxed);
}

void cg_board_note_pending(int delta)
{
    if (cg_self) atomic_fetch_add_explicit(&cg_self->pending, (uint64_t)(int64_t)delta, memory_order_relaxed);
}

/* Does this process write the tree's report? */
bool cg_board_is_root(void)
{
    return cg_board && getpid() == atomic_load(&cg_board->reporter);
}

/* daemon(): the reporting process leaves at once, and its child carries
 * on as the program; that child writes the tree's report at its exit.
 * Called in both (whichever runs first), from reporter `from` to `to`. */
void cg_board_hand_over(pid_t from, pid_t to)
{
    int32_t expected = (int32_t)from;
    if (cg_board) atomic_compare_exchange_strong(&cg_board->reporter, &expected, (int32_t)to);
}

/* In the process that took the tree's report over with daemon(): wait, at
 * most about ms milliseconds, for the first process (the one that left) to
 * record its own exit, so that the report does not show it running. It
 * leaves at once, but measuring itself takes it a few milliseconds. */
void cg_board_await_root(int ms)
{
    if (!cg_board || getpid() == cg_board->root_pid) return;
    int saved = errno;
    const cg_slot_t *root = &cg_board->slots[0]; /* the first slot is the root's */
    for (int i = 0; i < ms && atomic_load(&root->exit_how) == CG_EXIT_RUNNING; i++) {
        if (kill(cg_board->root_pid, 0) != 0 && errno == ESRCH) break; /* gone without a word */
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    errno = saved;
}

/* This process is about to abort on a write to frozen memory. */
void cg_board_note_abort(void)
{
    int32_t none = 0;
    if (cg_board) atomic_compare_exchange_strong(&cg_board->aborted, &none, (int32_t)getpid());
}

/* The process of the tree that aborted on a write to frozen memory, or 0. */
pid_t cg_board_aborted(void)
{
    return cg_board ? atomic_load(&cg_board->aborted) : 0;
}

void cg_board_note_exit(cg_slot_t *s, cg_exit_how_t how, int code, int sig)
{
    if (!s) return;
    s->exit_code = code;
    s->exit_signal = sig;
    atomic_store(&s->exit_how, (int32_t)how);
}

/* A reaper learnt how a child ended (wait and friends). A child that ran
 * its own exit path already said how it left; a signal death it could not. */
bool cg_board_note_reaped(pid_t pid, int status)
{
    cg_slot_t *s = NULL;
    uint32_t n = cg_board ? atomic_load(&cg_board->nslots) : 0;
    for (uint32_t i = n; pid > 0 && i-- > 0;) /* the newest not reaped: pids are reused */
        if (atomic_load(&cg_board->slots[i].pid) == pid && !atomic_load(&cg_board->slots[i].reaped)) {
            s = &cg_board->slots[i];
            break;
        }
    if (!s) return false;
    atomic_store(&s->reaped, 1);
    if (atomic_load(&s->exit_how) != CG_EXIT_RUNNING) return true; /* it said how it left */
    if (WIFSIGNALED(status)) cg_board_note_exit(s, CG_EXIT_SIGNAL, 0, WTERMSIG(status));
    else if (WIFEXITED(status)) cg_board_note_exit(s, CG_EXIT_REAPED, WEXITSTATUS(status), 0);
    return true;
}

/* Is any other process of the tree not yet reaped? Until it is, it may
 * share this process's frozen pages: a process that has said it is
 * exiting still maps them until the kernel has torn it down, and an
 * orphan is reaped by no one here. */
bool cg_board_others_alive(void)
{
    if (!cg_board) return true;
    int32_t me = (int32_t)getpid();
    uint32_t n = atomic_load(&cg_board->nslots);
    for (uint32_t i = 0; i < n; i++) {
        int32_t pid = atomic_load(&cg_board->slots[i].pid);
        if (pid && pid != me && !atomic_load(&cg_board->slots[i].reaped)) return true;
    }
    return false;
}

/* fn for every process on the board, in the order they got their slots. */
void cg_board_each(void (*fn)(const cg_slot_t *s, void *arg), void *arg)
{
    if (!cg_board) return;
    uint32_t n = atomic_load(&cg_board->nslots);
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load(&cg_board->slots[i].pid)) fn(&cg_board->slots[i], arg);
}

/* A first write to a page watched in place; copied: it was shared. */
void cg_board_note_watched(bool copied)
{
    if (!cg_self) return;
    atomic_fetch_add_explicit(&cg_self->watch_faults, 1, memory_order_relaxed);
    if (copied) atomic_fetch_add_explicit(&cg_self->watch_copies, 1, memory_order_relaxed);
}

/* This process copied pages of a mapping outside marked data (its end's
 * measurement): added to the row of its kind and object. */
void cg_board_note_space(cg_space_kind_t kind, const char *name, uint64_t pages)
{
    if (!cg_board) return;
    size_t len = strlen(name);
    for (int i = 0; i < CG_SPACE_ROWS; i++) {
        cg_spacerow_t *r = &cg_board->space[i];
        uint32_t st = atomic_load(&r->state);
        if (st == 0) {
            uint32_t expected = 0;
            if (atomic_compare_exchange_strong(&r->state, &expected, 1)) {
                r->kind = (uint32_t)kind;
                memcpy(r->name, name, len + 1);
                atomic_store(&r->state, 2);
                st = 2;
            } else {
                st = expected;
            }
        }
        while (st == 1) st = atomic_load(&r->state);
        if (r->kind == (uint32_t)kind && strcmp(r->name, name) == 0) {
            atomic_fetch_add(&r->pages, pages);
            atomic_fetch_add(&r->processes, 1);
            return;
        }
    }
}

static cg_neighbour_t *neighbours(void)
{
    return cg_board && cg_board->neighbours_offset ? (cg_neighbour_t *)((char *)cg_board + cg_board->neighbours_offset)
                                                   : NULL;
}

/* A watched write copied a page on which blocks of site bystander (blocks
 * of them, bytes in all) lay beside the written block of site written. */
void cg_board_note_neighbour(cg_site_id_t written, cg_site_id_t bystander, uint64_t bytes, uint64_t blocks)
{
    cg_neighbour_t *t = neighbours();
    if (!t) return;
    uint64_t key = ((uint64_t)written << CG_SITE_BITS | bystander) + 1;
    int32_t pid = (int32_t)getpid();
    uint64_t h = (key * 31 + (uint64_t)pid) * 0x9e3779b97f4a7c15ULL;
    for (uint32_t probe = 0; probe < 64; probe++) {
        cg_neighbour_t *n = &t[(h >> 20) % CG_NEIGHBOUR_SLOTS];
        h += 0x9e3779b97f4a7c15ULL;
        uint64_t cur = atomic_load(&n->key);
        while (cur == UINT64_MAX) cur = atomic_load(&n->key);
        if (cur == 0) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&n->key, &expected, UINT64_MAX)) {
                atomic_store(&n->pid, pid);
                atomic_store(&n->key, key);
                cur = key;
            } else {
                cur = expected;
                while (cur == UINT64_MAX) cur = atomic_load(&n->key);
            }
        }
        if (cur == key && atomic_load(&n->pid) == pid) {
            atomic_fetch_add(&n->pages, 1);
            atomic_fetch_add(&n->bytes, bytes);
            atomic_fetch_add(&n->blocks, blocks);
            return;
        }
    }
    atomic_fetch_add(&cg_board->lost_neighbours, 1);
}

void cg_board_neighbour_each(void (*fn)(const cg_neighbour_t *n, cg_site_id_t written, cg_site_id_t bystander, void *arg),
                             void *arg)
{
    cg_neighbour_t *t = neighbours();
    for (uint32_t i = 0; t && i < CG_NEIGHBOUR_SLOTS; i++) {
        uint64_t key = atomic_load(&t[i].key);
        if (key == 0 || key == UINT64_MAX) continue;
        key--;
        fn(&t[i], (cg_site_id_t)(key >> CG_SITE_BITS & CG_SITE_MASK), (cg_site_id_t)(key & CG_SITE_MASK), arg);
    }
}
