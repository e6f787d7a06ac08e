/* types.h: the structures shared between cowguard's source files. */
#ifndef CG_TYPES_H
#define CG_TYPES_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CG_EXPORT __attribute__((visibility("default")))
#define CG_TLS __attribute__((tls_model("initial-exec")))
#define cg_likely(x) __builtin_expect(!!(x), 1)
#define cg_unlikely(x) __builtin_expect(!!(x), 0)
#define CG_STR_(x) #x
#define CG_STR(x) CG_STR_(x) /* a macro's value as a string, for inline assembly */

/* Frozen state is kept per 4 KiB page; init.c refuses other page sizes. */
#define CG_PAGE_SHIFT 12
#define CG_PAGE ((size_t)1 << CG_PAGE_SHIFT)

/* ---- options ------------------------------------------------------------ */

typedef enum { CG_POLICY_REPORT, CG_POLICY_ABORT, CG_POLICY_OFF } cg_policy_t;

typedef enum {
    CG_OPT_ENUM,   /* one of a list of words, stored as its index */
    CG_OPT_BOOL,   /* 0 or 1 */
    CG_OPT_SIZE,   /* bytes, with an optional k/M/G/T suffix */
    CG_OPT_UINT,   /* a plain number within [min, max] */
    CG_OPT_STRING, /* kept as a pointer into the environment */
} cg_opt_type_t;

typedef struct cg_option_s {
    const char *name;    /* COWGUARD_... */
    cg_opt_type_t type;
    const char *deflt;   /* default, as text (parsed like a user's value) */
    const char *words;   /* CG_OPT_ENUM: the accepted words, '|'-separated */
    uint64_t min, max;   /* CG_OPT_UINT and CG_OPT_SIZE: accepted range */
    const char *doc;     /* one line for the man page, cowguard(7) */
} cg_option_t;

/* The parsed values, one field per row of options.def. */
typedef struct cg_options_s {
#define CG_OPT(field, name, type, deflt, words, min, max, doc) uint64_t field;
#include "options.def"
#undef CG_OPT
} cg_options_t;

/* ---- the arena ---------------------------------------------------------- */

/* Slabs hold at most this many blocks, so their bitmaps are fixed in size. */
#define CG_SLAB_MAX_BLOCKS 512
#define CG_SLAB_WORDS (CG_SLAB_MAX_BLOCKS / 64)
#define CG_SMALL_MAX 16384 /* larger blocks get page runs of their own */
#define CG_NUM_CLASSES 36

typedef enum {
    CG_SPAN_FREE = 0, /* unused pages, on a free list */
    CG_SPAN_SLAB,     /* blocks of one size class */
    CG_SPAN_LARGE,    /* one block of a page run */
} cg_span_state_t;

/* The out-of-band descriptor of a page run. Nothing about a block is ever
 * stored in the data pages themselves, so bookkeeping never writes a frozen
 * page. */
typedef struct cg_span_s {
    uintptr_t start;          /* first page */
    uint32_t npages;
    uint8_t state;            /* cg_span_state_t */
    uint8_t frozen;           /* pages were frozen: no block is handed out */
    uint8_t cls;              /* CG_SPAN_SLAB: size class */
    uint8_t listed;           /* cg_listed_t: which list it is on */
    uint8_t dirty;            /* CG_SPAN_FREE: pages may hold old data */
    uint32_t block_size;      /* CG_SPAN_SLAB */
    uint64_t block_recip;     /* CG_SPAN_SLAB: 2^40 / block_size, rounded up: offset * it >> 40 is the index */
    uint32_t nblocks;         /* CG_SPAN_SLAB */
    uint32_t nused;           /* blocks handed out, quarantined ones included */
    uint32_t nquar;           /* of them, quarantined */
    uint32_t hint;            /* CG_SPAN_SLAB: first bitmap word worth a look */
    uintptr_t user;           /* CG_SPAN_LARGE: the block (aligned in the run) */
    size_t req_size;          /* CG_SPAN_LARGE: the size asked for */
    struct cg_span_s *next, *prev;
    uint16_t site;            /* CG_SPAN_LARGE: allocation site */
    uint64_t used[CG_SLAB_WORDS]; /* 1 = block handed out (or quarantined) */
    uint64_t quar[CG_SLAB_WORDS]; /* 1 = freed while frozen, not reusable */
    /* 1 = free in some thread's cache (still "used" here). Written by every
     * cached free and hand-out, from any thread: a cache line of its own, so
     * the fields read on those paths are not invalidated with it. */
    _Alignas(64) _Atomic uint64_t cached[CG_SLAB_WORDS];
    uint16_t block_site[CG_SLAB_MAX_BLOCKS]; /* CG_SPAN_SLAB: allocation site per block */
} cg_span_t;

typedef enum { CG_LISTED_NONE = 0, CG_LISTED_PARTIAL, CG_LISTED_RUNS, CG_LISTED_FROZEN } cg_listed_t;

typedef struct cg_list_s {
    cg_span_t *head;
} cg_list_t;

/* Free runs of up to this many pages are kept on exact-size lists. */
#define CG_RUN_LISTS 64

typedef struct cg_arena_s {
    /* Read on every free and marked request, written almost never: one
     * cache line of its own, apart from the lock and what it guards. */
    uintptr_t base, end;         /* the reservation */
    uintptr_t size;              /* end - base once set up, 0 before: "ours" is p - base < size */
    uintptr_t frozen_end;        /* pages below frozen_end were frozen at least once */
    cg_span_t **pagemap;         /* page index -> descriptor (out of band) */
    _Atomic uint64_t *frozen;    /* page index -> 1 bit: read-only now, by a freeze */
    _Atomic uint64_t *pending;   /* page index -> 1 bit: made writable without a trapped write while
                                  * another process shared it; whether this process then wrote (so
                                  * copied) it is settled later (freeze.c, cg_settle) */
    _Atomic uint32_t *pending_site; /* page index -> what made it pending: (writer << 16 | alloc) + 1 of
                                     * a system call's write, 0 for a bulk thaw */
    _Atomic uint64_t *copied;    /* page index -> 1 bit: this process copied it (and counted the copy) */
    _Atomic uint64_t *user;      /* page index -> 1 bit: the program protected it itself */
    bool ready;
    _Alignas(64) pthread_mutex_t lock;
    uintptr_t top;               /* pages below top belong to spans */
    uintptr_t commit;            /* pages below commit are accessible; above, PROT_NONE */
    cg_list_t partial[CG_NUM_CLASSES]; /* slabs with free blocks */
    cg_list_t runs[CG_RUN_LISTS + 1];  /* free runs by size; last: larger */
    cg_list_t frozen_runs;       /* free runs whose pages were frozen, for reclaiming */
    cg_span_t *spare;            /* unused descriptors */
    size_t live_bytes;           /* sum of live block sizes */
    size_t live_blocks;
} cg_arena_t;

/* A range of addresses [lo, hi). */
typedef struct cg_range_s {
    uintptr_t lo, hi;
} cg_range_t;

/* Memory the kernel writes, kept writable through freezes (keep.c). */
#define CG_KEEP_SLOTS 4096
typedef enum {
    CG_KEEP_ALTSTACK = 1, /* a thread's alternate signal stack */
    CG_KEEP_STACK,        /* a stack the program gave a thread or a context */
    CG_KEEP_CALL,         /* the destination of a system call in flight */
} cg_keep_t;

/* The destinations of one system call, kept writable while it runs. */
typedef struct cg_keeps_s {
    int slot[4];
    int n;
} cg_keeps_t;

/* How a copy came to be counted (freeze.c tells the layer that counts). */
typedef enum {
    CG_COPY_SETTLED,   /* a pending page the kernel says was written */
    CG_COPY_ESTIMATED, /* a pending page the kernel shows private, its writes not recorded */
    CG_PENDING_MORE,   /* not a copy: one more page pending */
    CG_PENDING_LESS,   /* not a copy: one page less pending */
} cg_copy_how_t;
typedef void (*cg_copy_fn)(uint32_t site, cg_copy_how_t how);

/* What a pointer into the arena belongs to, for diagnostics. */
typedef struct cg_block_info_s {
    uintptr_t start;
    size_t size;
    bool live;
    uint16_t site; /* allocation site, 0 = unknown */
} cg_block_info_t;

/* ---- the board: state shared by the whole process tree ------------------ */

#define CG_BOARD_SLOTS 4096
#define CG_MAX_FRAMES 64
#define CG_SITE_SLOTS 32768 /* stacks; ids are uint16_t, 0 = none */
#define CG_WRITE_SLOTS 65536 /* (writer, allocation, pid) triples */

typedef enum {
    CG_EXIT_RUNNING = 0, /* no exit seen (yet) */
    CG_EXIT_EXIT,        /* exit(), or return from main */
    CG_EXIT_UNDERSCORE,  /* _exit() or _Exit() */
    CG_EXIT_SIGNAL,      /* killed by a signal, as its reaper saw */
    CG_EXIT_REAPED,      /* exited without cowguard seeing it (after exec, say) */
} cg_exit_how_t;

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
    int64_t private_dirty_kb;
    int64_t pss_kb;
    int64_t own_kb;                /* Private_Dirty but for the copies of frozen pages it holds */
    int64_t own_peak_kb;           /* resident set's high-water mark above its size at the fork */
    int64_t rss_at_fork_kb;        /* read in the child right after its fork; -1 unknown */
    int64_t file_at_fork_kb;       /* of it, file-backed */
    int64_t shared_pages;          /* frozen pages still resident and shared with another process */
} cg_slot_t;

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
    _Atomic uint64_t key;  /* 0 empty, UINT64_MAX being written, else late<<32|writer<<16|alloc, +1 */
    _Atomic int32_t pid;
    _Atomic uint32_t writes; /* trapped writes */
    _Atomic uint32_t pages;  /* pages these writes copied */
    uint32_t unused;
} cg_write_t;

typedef struct cg_board_s {
    uint32_t magic;
    int32_t root_pid;          /* the first process: the tree's name */
    _Atomic int32_t reporter;  /* the process that writes the tree's report (root_pid, or its daemon() child) */
    uint32_t site_frames;      /* frames per site entry (COWGUARD_BACKTRACE) */
    uint32_t site_stride;      /* bytes per site entry */
    size_t sites_offset;       /* from the board's start */
    size_t writes_offset;
    size_t size;               /* of the whole mapping */
    _Atomic uint32_t nslots;   /* slots handed out */
    _Atomic uint32_t lost;     /* processes that found no free slot */
    _Atomic uint32_t lost_sites;
    _Atomic uint32_t lost_writes;
    _Atomic uint64_t lost_pages;   /* copies whose write the full table could not hold */
    _Atomic uint32_t dest_warned; /* a process said why the report went to stderr */
    _Atomic uint64_t forks;    /* forks that froze something, tree-wide */
    _Atomic uint64_t max_marked_bytes;
    _Atomic uint64_t max_frozen_pages;
    cg_slot_t slots[CG_BOARD_SLOTS];
} cg_board_t;

/* A frame, symbolized. */
typedef struct cg_frame_s {
    const char *function; /* NULL when the object has no symbol for it */
    const char *object;   /* path, or "?" */
    uintptr_t offset;     /* from the object's load address: what addr2line takes */
} cg_frame_t;

/* ---- the report's model ------------------------------------------------- */

#define CG_REPORT_ROWS 8192

/* One (writer site, allocation site) pair, over the processes in scope. */
typedef struct cg_row_s {
    uint16_t writer, alloc;
    bool late;       /* writes made after the processes began to exit */
    uint32_t processes;
    uint64_t pages;  /* copied */
    uint64_t writes; /* trapped */
} cg_row_t;

/* One process, as reported. */
typedef struct cg_proc_s {
    int32_t pid, ppid;
    bool root;
    bool measured;           /* the kernel's numbers, read as it ended */
    bool lower_bound;        /* copied_pages may be short: killed before it could settle its pending pages */
    cg_exit_how_t how;
    int code, signal;
    uint64_t frozen_pages, faults, copied_pages;
    uint64_t copied_nostack, copied_estimated, exit_faults, exit_copied, pending;
    int64_t private_dirty_kb, pss_kb, own_kb, own_peak_kb, shared_pages; /* -1: not measured */
} cg_proc_t;

typedef struct cg_report_s {
    int32_t pid;             /* 0: the whole tree; else this process only */
    int32_t root_pid;
    uint32_t processes;
    uint64_t forks, marked_bytes, frozen_pages, faults;
    uint64_t copied_pages;   /* while the processes worked */
    uint64_t copied_nostack, copied_estimated, exit_faults, exit_copied;
    uint64_t shared_pages;   /* resident and shared, in the children that measured it */
    uint32_t shared_measured, children; /* children that measured themselves, of all children */
    int64_t own_kb;          /* the children's own memory at their end, summed over those measured */
    int64_t own_peak_kb;     /* the children's own memory at its largest, summed likewise */
    uint32_t lower_bounds;   /* processes whose copies are a lower bound */
    cg_row_t *rows;          /* while working first, most pages first; then during exit */
    size_t nrows, nrows_work;
    uint64_t row_pages;      /* pages in the working rows */
    uint32_t lost, lost_sites, lost_writes, lost_rows;
    uint64_t lost_pages;
    bool lines;              /* may look up file:line (allocates: not in signal context) */
} cg_report_t;

/* ---- per-thread state --------------------------------------------------- */

typedef struct cg_tls_s {
    uint32_t region_depth; /* cowguard_readonly_begin() nesting */
    uint32_t busy;         /* inside cowguard: allocations pass through */
    uint32_t in_fault;     /* inside the fault handler or the exit path: take no lock that may be held */
    uint32_t unwinding;    /* inside libunwind for cowguard (its pipe2 is cowguard's) */
    uint32_t kernel_thawed; /* pages made writable for the system call under way */
    uint32_t fork_slot;    /* the board slot reserved for the child of this thread's fork */
    bool fork_slot_unused; /* that fork failed: the slot is still free */
    bool closing_pipe;     /* this thread is closing libunwind's validation pipe */
    bool segv_blocked;     /* the program asked for SIGSEGV blocked in this thread */
    uint8_t segv_pending;  /* a sent SIGSEGV waits for the program to unblock it */
    uintptr_t chain_sp;    /* the frame that called the program's SIGSEGV handler (signals.c), 0 if none */
    bool chain_blocked;    /* inside that handler: the program's view of SIGSEGV blocked */
    void *handler_stack;   /* cowguard's own stack for the fault handler, when the thread's is small */
} cg_tls_t;

#endif /* CG_TYPES_H */
