/* attrib.h: who allocated and who wrote (above freeze).
 *
 * Which allocations are marked, their stacks and the writers' stacks,
 * names for addresses, and the board: the memory the whole process tree
 * shares, where every process counts its writes and copies. The ledger
 * is the freeze layer's watcher: what that layer sees, it counts here. */
#ifndef CG_ATTRIB_H
#define CG_ATTRIB_H

#include "freeze.h"

#pragma GCC visibility push(hidden) /* as in base.h */

#define CG_BOARD_SLOTS 4096
#define CG_MAX_FRAMES 64
#define CG_SITE_SLOTS (1u << 18) /* stacks; ids 1..CG_SITE_SLOTS, 0 = none */
#define CG_SITE_BITS 20 /* an id, packed into a key */
#define CG_SITE_MASK ((1ull << CG_SITE_BITS) - 1)
#define CG_SITE_OTHER CG_SITE_SLOTS /* the stacks that found no room in a full table */
#define CG_WRITE_SLOTS 65536 /* (writer, allocation, cause, pid) entries */
#define CG_LOC_SLOTS 65536  /* Python locations (file, function, line) */
/* A stack entry that is a Python frame: this bit and the number of its
 * location; never a native address (user space ends below it). */
#define CG_PYFRAME ((uintptr_t)1 << 63)

/* What a trapped write hit. Python objects are told apart by the part of
 * the object written (python.c); other memory is data. */
typedef enum {
    CG_CAUSE_DATA = 0,  /* a buffer, or memory of a program that is not Python */
    CG_CAUSE_REFCOUNT,  /* a Python object's reference count */
    CG_CAUSE_GC,        /* a Python object's garbage-collector header */
    CG_CAUSE_HASH,      /* a hash a str, bytes or frozenset caches on first use */
    CG_CAUSE_FIELD,     /* another field of a Python object */
    CG_CAUSE_ALLOCATOR, /* cowguard's allocator, freeing or caching a block */
    CG_CAUSE_KERNEL,    /* the kernel, for a system call (read(2) into the block, say) */
    CG_CAUSES
} cg_cause_t;
/* Or-ed into a write's cause in the write table: the write hit memory
 * watched in place (COWGUARD_WATCH), not marked data. */
#define CG_CAUSE_WATCHED 8

typedef enum {
    CG_EXIT_RUNNING = 0, /* no exit seen (yet) */
    CG_EXIT_EXIT,        /* exit(), or return from main */
    CG_EXIT_UNDERSCORE,  /* _exit() or _Exit() */
    CG_EXIT_SIGNAL,      /* killed by a signal, as its reaper saw */
    CG_EXIT_REAPED,      /* exited without cowguard seeing it (after exec, say) */
} cg_exit_how_t;

/* One process of the tree, on the board. */
typedef struct cg_slot_s {
    _Atomic int32_t pid;           /* 0 = free */
    int32_t ppid;
    /* Counted as they happen, so a process killed by SIGKILL leaves them. */
    _Atomic uint64_t faults;       /* trapped writes while it worked (pages thawed for system calls included) */
    _Atomic uint64_t copies;       /* pages it copied while it worked: written while another process shared them */
    _Atomic uint64_t copies_nostack; /* of them, pages thawed in bulk (no writer stack) */
    _Atomic uint64_t copies_estimated; /* of them, counted without the kernel's record of writes */
    _Atomic uint64_t exit_faults;  /* the same after it began to exit (exit(), a terminating signal) */
    _Atomic uint64_t exit_copies;
    _Atomic uint64_t pending;      /* pages it may still copy uncounted (thawed without a trap, unsettled) */
    _Atomic uint64_t frozen_pages; /* frozen when it was forked (root: at its last freeze) */
    _Atomic uint64_t marked_bytes; /* live marked bytes at that time */
    _Atomic int32_t exit_how;      /* cg_exit_how_t */
    int32_t exit_code;
    int32_t exit_signal;
    _Atomic int32_t measured;      /* 1: the fields below are the kernel's, read as it ended */
    _Atomic int32_t reaped;        /* 1: its parent collected its status: it is gone, its memory too */
    int64_t private_dirty_kb;
    int64_t pss_kb;
    int64_t own_kb;                /* Private_Dirty but for the copies it holds (of frozen pages, and of the rest) */
    int64_t own_peak_kb;           /* resident set's high-water mark above its size at the fork */
    int64_t rss_at_fork_kb;        /* read in the child right after its fork; -1 unknown */
    int64_t file_at_fork_kb;       /* of it, file-backed or shared memory */
    int64_t shared_pages;          /* frozen pages still resident and shared with another process */
    /* Outside marked data (freeze/space.c): */
    _Atomic uint64_t watch_faults; /* first writes to pages watched in place (COWGUARD_WATCH) */
    _Atomic uint64_t watch_copies; /* of them, to pages another process shared */
    _Atomic int64_t outside_pages; /* pages shared at its fork that it copied, measured at its end; -1 not measured */
    _Atomic int64_t outside_exit_pages; /* of the rest, those it copied after it began to exit */
} cg_slot_t;

/* Pages copied outside marked data, by kind of mapping and object,
 * summed over the processes that measured themselves. */
#define CG_SPACE_ROWS 128
typedef struct cg_spacerow_s {
    _Atomic uint32_t state; /* 0 free, 1 being written, 2 ready */
    uint32_t kind;          /* cg_space_kind_t */
    char name[CG_SPACE_NAME];
    _Atomic uint64_t pages;
    _Atomic uint32_t processes;
    uint32_t unused;
} cg_spacerow_t;

/* Pages a watched write copied, and the blocks of another allocation site
 * that shared them: what marking that site would have kept shared. */
#define CG_NEIGHBOUR_SLOTS 16384
typedef struct cg_neighbour_s {
    _Atomic uint64_t key;    /* 0 empty, UINT64_MAX being written, else written << 20 | bystander, + 1 */
    _Atomic int32_t pid;
    _Atomic uint32_t pages;  /* copied pages the bystander's blocks were on */
    _Atomic uint64_t bytes;  /* of the bystander's blocks on them */
    _Atomic uint64_t blocks;
} cg_neighbour_t;

/* What `cowguard top` reads from another process (tools/cowguard-report):
 * where the slots are and where their fields lie. */
typedef struct cg_layout_s {
    char magic[16];         /* "cowguard board" */
    uint32_t version, slot_size, slots_offset, nslots_offset, root_pid_offset;
    uint32_t pid, ppid, faults, copies, watch_faults, watch_copies, frozen_pages, exit_how, reaped, outside_pages,
        private_dirty_kb, measured;
} cg_layout_t;

/* A deduplicated stack: an allocation site or a writer. */
typedef struct cg_site_s {
    _Atomic uint64_t hash; /* 0 empty, 1 being written, else the stack's hash */
    uint32_t nframes;
    uint32_t unused;
    uintptr_t frames[];    /* return addresses, innermost first */
} cg_site_t;

/* Pages one process wrote through one writer stack into blocks of one
 * allocation site. */
typedef struct cg_write_s {
    _Atomic uint64_t key;  /* 0 empty, UINT64_MAX being written, else cause<<41|late<<40|writer<<20|alloc, +1 */
    _Atomic int32_t pid;
    _Atomic uint32_t writes; /* trapped writes */
    _Atomic uint32_t pages;  /* pages these writes copied */
    uint32_t unused;
} cg_write_t;

/* A Python location, interned on the board (python.c copies the names
 * out of the interpreter as it finds them). */
typedef struct cg_pyloc_s {
    int32_t line;
    char file[180];    /* the tail, when longer */
    char function[72]; /* qualified name where the version has one */
} cg_pyloc_t;

typedef struct cg_locslot_s {
    _Atomic uint64_t hash; /* 0 empty, 1 being written */
    cg_pyloc_t loc;
} cg_locslot_t;

typedef struct cg_board_s {
    cg_layout_t layout;        /* first: read by other programs */
    int32_t root_pid;          /* the first process: the tree's name */
    _Atomic int32_t reporter;  /* the process that writes the tree's report (root_pid, or its daemon() child) */
    uint32_t site_frames;      /* frames per site entry (COWGUARD_BACKTRACE) */
    uint32_t site_stride;      /* bytes per site entry */
    size_t sites_offset;       /* from the board's start */
    size_t writes_offset;
    size_t locs_offset;
    size_t neighbours_offset;
    size_t size;               /* of the whole mapping */
    _Atomic uint32_t nslots;   /* slots handed out */
    _Atomic uint32_t lost;     /* processes that found no free slot */
    _Atomic uint32_t lost_sites;
    _Atomic uint32_t nsites;   /* entries of the stack table in use */
    _Atomic uint32_t lost_writes;
    _Atomic uint64_t lost_pages;   /* copies whose write the full table could not hold */
    _Atomic uint32_t dest_warned; /* a process said why the report went to stderr */
    _Atomic uint64_t forks;    /* forks that froze something, tree-wide */
    _Atomic int32_t aborted;   /* a process that COWGUARD_POLICY=abort ended: the run ends (exiting.c) */
    _Atomic uint64_t max_marked_bytes;
    _Atomic uint64_t max_frozen_pages;
    _Atomic uint64_t lost_neighbours;
    _Atomic uint64_t heap_lost;  /* heap blocks the watch's table had no room for */
    cg_spacerow_t space[CG_SPACE_ROWS];
    cg_slot_t slots[CG_BOARD_SLOTS];
} cg_board_t;

/* A frame, symbolized. */
typedef struct cg_frame_s {
    const char *function; /* NULL when the object has no symbol for it */
    const char *object;   /* path, or "?"; a Python frame's file */
    uintptr_t offset;     /* from the object's load address: what addr2line takes */
    int line;             /* a Python frame's line; 0 for native frames */
    bool python;          /* a Python frame (CG_PYFRAME) */
    bool interpreter;     /* a native frame in the Python interpreter's own object */
} cg_frame_t;

/* ---- "mark.c": the marking decision --------------------------------------- */
extern uint64_t cg_mark_min_size;          /* 0 = no size rule */
extern bool cg_mark_enabled;               /* the arena can take marked data */
extern size_t cg_mark_floor;               /* requests below it are never marked (mark.c) */
extern __thread uint32_t cg_region_depth CG_TLS; /* cowguard_readonly_begin() nesting */
bool cg_mark_decide(size_t size, uintptr_t caller);
/* Could a request of size be marked at all? One compare: the fast path of
 * every malloc wrapper. */
static inline bool cg_mark_maybe(size_t size)
{
    return size >= __atomic_load_n(&cg_mark_floor, __ATOMIC_RELAXED);
}
/* caller: the return address of the allocation call. */
static inline bool cg_mark_wanted(size_t size, uintptr_t caller)
{
    if (cg_likely(!cg_mark_maybe(size))) return false;
    return cg_mark_enabled && cg_tls.busy == 0 && cg_mark_decide(size, caller);
}
void cg_mark_setup(void);
void cg_mark_refresh(void);
void cg_mark_fork(void);
void cg_mark_child(void);
void cg_region_begin(void);
void cg_region_end(void);

/* ---- "backtrace.c": stacks with libunwind --------------------------------- */
uint32_t cg_backtrace(uintptr_t *frames, uint32_t max);
uint32_t cg_backtrace_signal(void *ucontext, uintptr_t *frames, uint32_t max, bool (*stop)(uintptr_t pc));
uint32_t cg_backtrace_slots(uintptr_t *frames, uintptr_t *slots, uint32_t max);
void cg_backtrace_prefork(void);
void cg_backtrace_postfork_parent(void);
void cg_backtrace_postfork_child(void);
bool cg_backtrace_owns_pipe(void);
int cg_backtrace_pipe(int fds[2], int flags);

/* ---- "symbolize.c": names for addresses ----------------------------------- */
void cg_symbolize(uintptr_t addr, cg_frame_t *out);
void cg_symbolize_lock(void);
void cg_symbolize_unlock(void);
void cg_symbolize_reset_lock(void);

/* ---- "srcline.c": file and line, when libdw and debug info are there ---- */
bool cg_srcline(uintptr_t addr, const char **file, int *line);

/* ---- "board.c": memory shared by the process tree ----------------------- */
extern cg_board_t *cg_board;
extern cg_slot_t *cg_self;
bool cg_board_setup(void);
uint32_t cg_board_reserve(void);
void cg_board_forked(uint32_t slot, pid_t pid);
void cg_board_child(uint32_t slot);
bool cg_board_is_root(void);
void cg_board_hand_over(pid_t from, pid_t to);
void cg_board_note_freeze(size_t marked_bytes, size_t pages);
void cg_board_note_write(bool copied, bool late);
void cg_board_note_copy(bool nostack, bool estimated, bool late);
void cg_board_note_pending(int delta);
void cg_board_note_exit(cg_slot_t *s, cg_exit_how_t how, int code, int sig);
bool cg_board_note_reaped(pid_t pid, int status);
bool cg_board_others_alive(void);
void cg_board_note_abort(void);
pid_t cg_board_aborted(void);
void cg_board_await_root(int ms);
void cg_board_each(void (*fn)(const cg_slot_t *s, void *arg), void *arg);
void cg_board_note_watched(bool copied);
void cg_board_note_space(cg_space_kind_t kind, const char *name, uint64_t pages);
void cg_board_note_neighbour(cg_site_id_t written, cg_site_id_t bystander, uint64_t bytes, uint64_t blocks);
void cg_board_neighbour_each(void (*fn)(const cg_neighbour_t *n, cg_site_id_t written, cg_site_id_t bystander, void *arg),
                             void *arg);

/* ---- "sites.c": the stack and write tables on the board ----------------- */
cg_site_id_t cg_site_id(const uintptr_t *frames, uint32_t n);
cg_site_id_t cg_site_here(const uintptr_t *slot);
const cg_site_t *cg_site_get(cg_site_id_t id);
void cg_write_note(cg_site_id_t writer, cg_site_id_t alloc, cg_cause_t cause, uint32_t writes, bool copied, bool late);
void cg_write_each(void (*fn)(const cg_write_t *w, cg_site_id_t writer, cg_site_id_t alloc, cg_cause_t cause, bool late,
                              void *arg),
                   void *arg);
cg_site_id_t cg_writer_site(const uintptr_t *native, uint32_t n);
uint64_t cg_site_fold(cg_site_id_t id);
bool cg_site_shown(const cg_site_t *s, uint32_t i);
const char *cg_cause_name(cg_cause_t cause);

/* ---- "python.c": CPython's frames and objects, read from the inside ----- */
void cg_py_setup(void);
bool cg_py_active(void);
const char *cg_py_version(bool *frames);
void cg_py_setup_late(void);
bool cg_py_eval_pc(uintptr_t pc);
bool cg_py_interpreter_pc(uintptr_t pc);
typedef struct {
    uint32_t n;
    uint64_t hash;
    uintptr_t code[CG_MAX_FRAMES];
    int offset[CG_MAX_FRAMES];
} cg_pystack_t;
uint32_t cg_py_stack(cg_pystack_t *ps, uint32_t max);
uint64_t cg_py_here(void);
uint32_t cg_py_resolve(const cg_pystack_t *ps, uint32_t *locs);
uint32_t cg_py_locs_probed(uint32_t *locs, uint32_t max);
uint32_t cg_py_splice(const uintptr_t *native, uint32_t n, const uint32_t *locs, uint32_t m, uintptr_t *out,
                      uint32_t max);
cg_cause_t cg_py_cause(uintptr_t addr, uintptr_t start, size_t size);
uint32_t cg_loc_id(const cg_pyloc_t *loc);
const cg_pyloc_t *cg_loc_get(uint32_t id);

/* ---- "heap.c": the program's heap blocks, recorded for the watch -------- */
typedef struct {
    uintptr_t start;
    size_t size;
    cg_site_id_t site;
} cg_heap_block_t;
void cg_heap_setup(void);
void cg_heap_alloc(void *p, size_t size, const uintptr_t *slot);
void cg_heap_free(void *p);
void cg_heap_child(void);
bool cg_heap_block(uintptr_t addr, cg_heap_block_t *b);
void cg_heap_page(uintptr_t page, uintptr_t skip, void (*fn)(cg_site_id_t site, uint64_t bytes, void *arg), void *arg);

/* ---- "sitecache.c": a thread's allocation stacks, remembered ------------- */
typedef enum {
    CG_SITECACHE_HIT,    /* a stack this thread has seen: its id */
    CG_SITECACHE_LEARN,  /* unwind with the slots, and remember the stack */
    CG_SITECACHE_UNWIND, /* unwind plainly (another stack, or the set learnt enough) */
} cg_sitecache_t;
cg_sitecache_t cg_sitecache_find(const uintptr_t *slot, cg_site_id_t *id);
void cg_sitecache_add(const uintptr_t *frames, const uintptr_t *slots, uint32_t n, cg_site_id_t id);

/* ---- "ledger.c": the freeze layer's watcher: writes and copies counted -- */
void cg_ledger_setup(void);
void cg_ledger_exiting(void);

/* ---- "diagnose.c": the abort policy's report of one write --------------- */
void cg_diagnose_write(uintptr_t addr, const uintptr_t *writer, uint32_t nwriter, bool kernel)
    __attribute__((noreturn));

#pragma GCC visibility pop
#endif /* CG_ATTRIB_H */
