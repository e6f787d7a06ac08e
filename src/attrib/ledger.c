/* ledger.c: what the freeze layer sees, counted and attributed.
 *
 * The freeze layer tells its watcher (this) about every write to frozen
 * memory and every copy it settles. Here each becomes counts on the
 * process's board slot and, with backtraces on, an entry of the write
 * table: the writer's stack and the allocation site of the block written,
 * together. Writes and copies after the process began to exit (atexit
 * handlers, destructors, a terminating signal's way out) are counted
 * apart, so that they do not crowd out the ones made while it worked.
 * Everything here runs in the fault handler: async-signal-safe. */
#include "attrib.h"

static _Atomic bool exiting;

/* The process has begun to exit: writes from now on are counted apart. */
void cg_ledger_exiting(void)
{
    atomic_store(&exiting, true);
}

static bool late(void)
{
    return atomic_load_explicit(&exiting, memory_order_relaxed);
}

static bool stacks(void)
{
    return cg_board && cg_board->site_frames;
}

/* The writer's stack: unwound from the signal context, or, for a write the
 * kernel is about to do for the program (uc NULL), the caller's. In a
 * CPython the unwinding stops at the first frame of the eval loop: the
 * Python frames come next (sites.c), and the native frames beyond them are
 * the interpreter's, which the report folds away. Each step of the
 * unwinder costs a trapped write more than the rest of its work. */
static uint32_t writer_stack(void *uc, uintptr_t *frames)
{
    if (!stacks()) return 0;
    if (!uc) return cg_backtrace(frames, cg_board->site_frames);
    if (!cg_py_active()) return cg_backtrace_signal(uc, frames, cg_board->site_frames, NULL);
    frames[0] = cg_context_pc(uc) + 1; /* a return address, as every frame is stored */
    if (cg_py_eval_pc(frames[0])) return 1; /* the eval loop wrote (a reference count, mostly): nothing to unwind */
    return cg_backtrace_signal(uc, frames, cg_board->site_frames, cg_py_eval_pc);
}

/* What the write at addr hit: the allocator's own write, or, in a block,
 * the part of the Python object there (python.c); else data. */
static cg_cause_t cause_of(uintptr_t addr, const cg_block_info_t *b, bool in_block)
{
    if (cg_tls.alloc_writing) return CG_CAUSE_ALLOCATOR;
    return in_block ? cg_py_cause(addr, b->start, b->size) : CG_CAUSE_DATA;
}

/* The tag of a write: its writer stack, the allocation site of the block
 * at addr and the cause, cause << 40 | writer << 20 | alloc, + 1. */
static uint64_t write_tag(cg_site_id_t writer, uintptr_t addr, bool kernel)
{
    cg_block_info_t b;
    bool in_block = cg_block_info(addr, &b);
    cg_cause_t cause = kernel ? CG_CAUSE_KERNEL : cause_of(addr, &b, in_block);
    return ((uint64_t)cause << 2 * CG_SITE_BITS | (uint64_t)writer << CG_SITE_BITS | (in_block ? b.site : 0)) + 1;
}

static void note_tag(uint64_t tag, uint32_t writes, bool copied)
{
    tag--;
    if (stacks())
        cg_write_note((cg_site_id_t)(tag >> CG_SITE_BITS & CG_SITE_MASK), (cg_site_id_t)(tag & CG_SITE_MASK),
                      (cg_cause_t)(tag >> 2 * CG_SITE_BITS), writes, copied, late());
}

/* A kernel tag (writer << 20 | alloc, + 1) as a write tag, cause kernel. */
static uint64_t kernel_write(cg_tag_t tag)
{
    return ((uint64_t)CG_CAUSE_KERNEL << 2 * CG_SITE_BITS | (tag - 1)) + 1;
}

/* The writer of a trapped write, from its signal context: a site id, with
 * the thread's Python frames in a CPython. */
static cg_site_id_t writer_site(void *uc)
{
    uintptr_t frames[CG_MAX_FRAMES];
    uint32_t n = writer_stack(uc, frames);
    return cg_writer_site(frames, n);
}

/* A trapped write (uc), or the kernel's for a call (tag). */
static void on_write(uintptr_t addr, void *uc, bool copied, cg_tag_t tag)
{
    cg_board_note_write(copied, late());
    if (!stacks()) return;
    if (uc) {
        note_tag(write_tag(writer_site(uc), addr, false), 1, copied);
        return;
    }
    note_tag(kernel_write(tag), 1, copied);
}

/* The tag of the kernel's write at addr for a call, until it settles:
 * writer << 20 | alloc, + 1. memo keeps the call's writer site, + 1. */
static cg_tag_t kernel_tag(uintptr_t addr, cg_tag_t *memo)
{
    if (!*memo) {
        uintptr_t frames[CG_MAX_FRAMES];
        *memo = (cg_tag_t)cg_writer_site(frames, writer_stack(NULL, frames)) + 1;
    }
    cg_block_info_t b;
    cg_site_id_t alloc = cg_block_info(addr, &b) ? b.site : 0;
    return ((*memo - 1) << CG_SITE_BITS | alloc) + 1;
}

/* A copy settled: a pending page this process wrote, with what made it
 * pending (a call's tag, or none: a bulk thaw). */
static void on_copy(cg_tag_t tag, cg_copy_how_t how)
{
    if (how == CG_PENDING_MORE || how == CG_PENDING_LESS) {
        cg_board_note_pending(how == CG_PENDING_MORE ? 1 : -1);
        return;
    }
    cg_board_note_copy(tag == 0, how == CG_COPY_ESTIMATED, late());
    if (tag) note_tag(kernel_write(tag), 0, true);
}

static void on_abort(uintptr_t addr, void *uc, bool copied)
{
    uintptr_t frames[CG_MAX_FRAMES];
    uint32_t n = writer_stack(uc, frames);
    cg_board_note_write(copied, late());
    cg_board_note_abort();
    const cg_site_t *s = NULL;
    if (stacks()) {
        cg_site_id_t id = cg_writer_site(frames, n);
        note_tag(write_tag(id, addr, uc == NULL), 1, copied);
        s = cg_site_get(id); /* with the Python frames, in a CPython */
    }
    if (s) cg_diagnose_write(addr, s->frames, s->nframes, uc == NULL);
    else cg_diagnose_write(addr, frames, n, uc == NULL);
}

/* The blocks of other sites on a copied page, by site: up to 16 sites a
 * page (the rest are left out). */
typedef struct {
    uint32_t n;
    cg_site_id_t written; /* the site of the written block: its own blocks are not beside it */
    cg_site_id_t site[16];
    uint64_t bytes[16], blocks[16];
} beside_t;

static void add_beside(cg_site_id_t site, uint64_t bytes, void *arg)
{
    beside_t *b = arg;
    if (site == b->written) return;
    uint32_t i = 0;
    while (i < b->n && b->site[i] != site) i++;
    if (i == b->n) {
        if (b->n == 16) return;
        b->n++;
        b->site[i] = site;
        b->bytes[i] = b->blocks[i] = 0;
    }
    b->bytes[i] += bytes;
    b->blocks[i]++;
}

/* A first write to memory watched in place (freeze/space.c): the writer,
 * and the block it hit as the heap was at the fork (heap.c); a page it
 * copied also records the blocks of other sites that were on it. Outside
 * any recorded block (the allocator's own headers, an object's data) the
 * allocation is none: the report's rows by mapping name the object. */
static void on_watched(uintptr_t addr, void *uc, bool copied)
{
    cg_board_note_watched(copied);
    if (!stacks()) return;
    cg_heap_block_t b;
    bool in = cg_heap_block(addr, &b);
    cg_site_id_t alloc = 0;
    cg_cause_t cause = CG_CAUSE_DATA;
    if (in) {
        alloc = b.site;
        cause = cg_tls.alloc_writing ? CG_CAUSE_ALLOCATOR : cg_py_cause(addr, b.start, b.size);
    }
    cg_site_id_t writer = writer_site(uc);
    cg_write_note(writer, alloc, (cg_cause_t)(cause | CG_CAUSE_WATCHED), 1, copied, late());
    if (!copied) return;
    beside_t near = { .n = 0, .written = alloc };
    cg_heap_page(cg_page_down(addr), in ? b.start : 0, add_beside, &near);
    for (uint32_t i = 0; i < near.n; i++) cg_board_note_neighbour(alloc, near.site[i], near.bytes[i], near.blocks[i]);
}

static const cg_watch_t watch = {
    .watched = on_watched,
    .write = on_write,
    .kernel_tag = kernel_tag,
    .copy = on_copy,
    .abort = on_abort,
};

void cg_ledger_setup(void)
{
    cg_freeze_watch(&watch);
}
