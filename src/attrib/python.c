/* python.c: CPython, read from the inside.
 *
 * When the program is CPython, a stack gets the Python frames the thread
 * runs (file, function, line), and a trapped write its cause: which part
 * of which Python object the written byte belongs to. Both are read from
 * the interpreter's own structures, whose layout differs by version: the
 * default builds of the versions tested (3.9, 3.11, 3.13) have a table
 * below; any other version or build keeps native stacks, and the report
 * says why.
 *
 * A Python frame is read as (code object, instruction offset), turned into
 * a line by the interpreter's own functions (which only read), and
 * interned, with the file and function names copied out, in a table on the
 * board: the frame's entry in a stack is CG_PYFRAME | that entry's number.
 * Names are copied at once because the code object may be gone by the time
 * the report is written (the interpreter frees everything before exit).
 *
 * Everything here may run in the fault handler: no malloc, no locks. There
 * the interrupted thread may be anywhere, so every read of the interpreter's
 * memory is made under a probe: a fault while probing returns to the probe
 * instead of reaching the program (fault.c). At a marked allocation the
 * interpreter is at a call, its frames consistent, and reads are direct. */
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"

/* Where things are in one version's structures (offsets in bytes). */
typedef struct {
    uint32_t hex;           /* 0x030b00: the version, major and minor */
    uint32_t ts_frame;      /* thread state -> current frame (3.11: -> its _PyCFrame) */
    int32_t cframe_frame;   /* _PyCFrame -> current frame; -1: no _PyCFrame */
    uint32_t f_code;        /* frame -> code object */
    uint32_t f_back;        /* frame -> the calling frame */
    uint32_t f_instr;       /* frame -> the instruction: an int offset in bytes (3.9) or a pointer */
    int32_t f_owner;        /* frame -> owner (a char); -1: no such field */
    uint32_t co_code;       /* code -> first instruction */
    uint32_t co_first;      /* code -> _co_firsttraceable (int) */
    uint32_t co_filename, co_name; /* code -> str (co_qualname where there is one) */
    uint32_t co_linetable;  /* code -> bytes of the location table (3.11 on); 0: none read */
    uint32_t co_firstlineno;
    uint32_t str_ascii;     /* sizeof(PyASCIIObject): where compact ASCII data begins */
    uint32_t str_compact;   /* sizeof(PyCompactUnicodeObject) */
    uint32_t str_utf8;      /* PyCompactUnicodeObject -> utf8 */
    unsigned long preheader; /* type flags that put two words before the GC header */
} layout_t;

/* From the interpreters' own headers (offsetof, with Py_BUILD_CORE). */
static const layout_t layouts[] = {
    { .hex = 0x030900, .ts_frame = 24, .cframe_frame = -1, .f_code = 32, .f_back = 24, .f_instr = 104,
      .f_owner = -1, .co_code = 0, .co_first = 0, .co_filename = 104, .co_name = 112, .co_linetable = 0,
      .co_firstlineno = 40, .str_ascii = 48, .str_compact = 72, .str_utf8 = 56, .preheader = 0 },
    { .hex = 0x030b00, .ts_frame = 56, .cframe_frame = 8, .f_code = 32, .f_back = 48, .f_instr = 56,
      .f_owner = 69, .co_code = 184, .co_first = 168, .co_filename = 112, .co_name = 128, .co_linetable = 136,
      .co_firstlineno = 72, .str_ascii = 48, .str_compact = 72, .str_utf8 = 56, .preheader = 1ul << 4 },
    { .hex = 0x030d00, .ts_frame = 72, .cframe_frame = -1, .f_code = 0, .f_back = 8, .f_instr = 56,
      .f_owner = 70, .co_code = 200, .co_first = 184, .co_filename = 112, .co_name = 128, .co_linetable = 136,
      .co_firstlineno = 68, .str_ascii = 40, .str_compact = 56, .str_utf8 = 48,
      .preheader = (1ul << 4) | (1ul << 3) },
};

#define OWNED_BY_GENERATOR 1
#define OWNED_BY_CSTACK 3 /* 3.12 on: a shim frame between C calls, not Python code */

/* Type flags, the same from 3.9 to 3.13. */
#define TPFLAGS_HAVE_GC (1ul << 14)
#define TPFLAGS_BYTES_SUBCLASS (1ul << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1ul << 28)
#define TYPE_FLAGS 168     /* PyTypeObject -> tp_flags */
#define TYPE_BASICSIZE 32  /* PyTypeObject -> tp_basicsize */
#define STR_HASH 24        /* PyASCIIObject -> hash, and PyBytesObject -> ob_shash */
#define SET_HASH 48        /* PySetObject -> hash */
#define GC_HEAD 16         /* sizeof(PyGC_Head) */

static struct {
    bool known;                 /* a CPython whose layout is in the table */
    const layout_t *l;
    char version[40];           /* "3.11", or "" when the program is not CPython */
    void *(*this_thread)(void); /* PyGILState_GetThisThreadState */
    int (*addr2line)(void *code, int offset); /* PyCode_Addr2Line */
    int (*check_line)(int offset, void *range); /* _PyCode_CheckLineNumber, 3.11 on: moves a range */
    _Atomic bool ranges;        /* check_line gave what addr2line gives, each time it was compared */
    uintptr_t code_type, type_type, str_type, bytes_type, set_type, frozenset_type;
    uintptr_t eval_lo, eval_hi; /* _PyEval_EvalFrameDefault */
    uintptr_t obj_lo, obj_hi;   /* the object the interpreter is in (its loaded segments) */
} py;

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* ---- probing: reads that may fault --------------------------------------- */

/* The fault handler looks at cg_tls.probe: the stores must be made, in
 * order with the reads between them, though nothing in C reads them. */
static inline void probe_set(sigjmp_buf *jb)
{
    *(void *volatile *)&cg_tls.probe = jb;
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void probe_clear(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    *(void *volatile *)&cg_tls.probe = NULL;
}

/* The word at a: in the fault handler, only under a probe (probe_set). */
#define WORD(a) (*(const uintptr_t *)(a))

static bool plausible(uintptr_t p)
{
    return p >= 4096 && p < ((uintptr_t)1 << 47) && (p & 7) == 0;
}

/* ---- setup ----------------------------------------------------------------- */

typedef struct {
    uintptr_t addr, lo, hi;
} find_t;

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    find_t *f = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < lo) lo = s;
        if (e > hi) hi = e;
    }
    if (f->addr >= lo && f->addr < hi) {
        f->lo = lo;
        f->hi = hi;
        return 1;
    }
    return 0;
}

static uintptr_t sym(const char *name)
{
    return (uintptr_t)dlsym(RTLD_DEFAULT, name);
}

/* Is the program CPython, and which? Called once at start-up: the
 * interpreter's symbols are there (the executable, or libpython it links)
 * before it has run. */
void cg_py_setup(void)
{
    uintptr_t getversion = sym("Py_GetVersion");
    if (!getversion) return;
    /* "3.11.2 (main, ...": Py_GetVersion only formats constant strings. */
    const char *v = ((const char *(*)(void))getversion)();
    char *end;
    unsigned long major = strtoul(v, &end, 10), minor = 0;
    if (*end == '.') minor = strtoul(end + 1, &end, 10);
    if (major > 9 || minor > 99) return;
    /* The table is for the default builds: a free-threaded build's objects
     * and a debug build's structures are laid out otherwise. */
    const char *other = strstr(v, "free-threading") ? " (free-threaded build)"
                        : sym("_Py_RefTotal") || sym("_Py_GetRefTotal") || sym("_Py_GetGlobalRefTotal")
                            ? " (debug build)"
                            : "";
    cg_fmt(py.version, sizeof py.version, "%lu.%lu%s", major, minor, other);
    if (*other) return;
    uint32_t hex = (uint32_t)(major << 16 | minor << 8);
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
        if (layouts[i].hex == hex) py.l = &layouts[i];
    if (!py.l) return;
    py.this_thread = (void *(*)(void))sym("PyGILState_GetThisThreadState");
    py.addr2line = (int (*)(void *, int))sym("PyCode_Addr2Line");
    if (py.l->co_linetable) {
        py.check_line = (int (*)(int, void *))sym("_PyCode_CheckLineNumber");
        atomic_store(&py.ranges, py.check_line != NULL);
    }
    py.code_type = sym("PyCode_Type");
    py.type_type = sym("PyType_Type");
    py.str_type = sym("PyUnicode_Type");
    py.bytes_type = sym("PyBytes_Type");
    py.set_type = sym("PySet_Type");
    py.frozenset_type = sym("PyFrozenSet_Type");
    void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (eval && dladdr1(eval, &info, (void **)&es, RTLD_DL_SYMENT) && es) {
        py.eval_lo = (uintptr_t)eval;
        py.eval_hi = py.eval_lo + es->st_size;
        find_t f = { py.eval_lo, 0, 0 };
        dl_iterate_phdr(find_object, &f);
        py.obj_lo = f.lo;
        py.obj_hi = f.hi;
    }
    py.known = py.this_thread && py.addr2line && py.code_type && py.type_type && py.eval_hi;
}

/* The interpreter, when it was loaded after start-up (uWSGI's python3
 * plugin opens libpython with dlopen): looked for again when the Python
 * helper routes the allocator, from inside the interpreter. */
void cg_py_setup_late(void)
{
    if (!py.version[0]) cg_py_setup();
}

bool cg_py_active(void)
{
    return py.known;
}

/* The CPython the program is ("3.11", "3.13 (debug build)"), or NULL;
 * *frames: whether its frames are read (else its stacks stay native). */
const char *cg_py_version(bool *frames)
{
    *frames = py.known;
    return py.version[0] ? py.version : NULL;
}

bool cg_py_eval_pc(uintptr_t pc)
{
    return pc - 1 >= py.eval_lo && pc - 1 < py.eval_hi;
}

/* Is pc in the interpreter's own object (python3.x, or libpython)? */
bool cg_py_interpreter_pc(uintptr_t pc)
{
    return py.known && pc - 1 >= py.obj_lo && pc - 1 < py.obj_hi;
}

/* ---- frames ---------------------------------------------------------------- */

typedef struct {
    uintptr_t code;
    int offset; /* in bytes, as PyCode_Addr2Line takes it */
} pyframe_t;

/* The thread's Python frames, innermost first, as (code, offset). Reads
 * directly: the caller probes when it must. */
static uint32_t walk(pyframe_t *out, uint32_t max)
{
    const layout_t *l = py.l;
    uintptr_t ts = (uintptr_t)py.this_thread();
    if (!ts || !plausible(ts)) return 0;
    uintptr_t f = WORD(ts + l->ts_frame);
    if (l->cframe_frame >= 0 && plausible(f)) f = WORD(f + (uint32_t)l->cframe_frame);
    uint32_t n = 0;
    for (uint32_t guard = 0; plausible(f) && n < max && guard < 4096; guard++, f = WORD(f + l->f_back)) {
        uintptr_t code = WORD(f + l->f_code);
        if (!plausible(code) || WORD(code + 8) != py.code_type) continue; /* a shim, or not code */
        int offset;
        if (l->co_code == 0) {
            offset = *(const int *)(f + l->f_instr);
        } else {
            int owner = l->f_owner >= 0 ? *(const char *)(f + (uint32_t)l->f_owner) : 0;
            if (owner == OWNED_BY_CSTACK) continue;
            uintptr_t first = code + l->co_code, instr = WORD(f + l->f_instr);
            int traceable = *(const int *)(code + l->co_first);
            if (owner != OWNED_BY_GENERATOR && instr < first + 2 * (uintptr_t)traceable) continue; /* starting */
            offset = (int)(instr - first);
        }
        out[n].code = code;
        out[n].offset = offset;
        n++;
    }
    return n;
}

/* ---- locations: (code, offset) -> a line, and names, on the board -------- */

static cg_locslot_t *locs_of(cg_board_t *b)
{
    return (cg_locslot_t *)((char *)b + b->locs_offset);
}

static uint64_t text_hash(uint64_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

#define LOC_EMPTY 0
#define LOC_BUSY 1
#define LOC_PROBES 64
#define LOC_SPINS 1000

/* The number (1..CG_LOC_SLOTS) of a Python location, adding it when new;
 * 0 when the table has no room near its place. Lock-free, as the stack
 * table (sites.c). Async-signal-safe. */
static uint64_t names_hash(const cg_pyloc_t *loc)
{
    return text_hash(text_hash(0xcbf29ce484222325ULL, loc->file), loc->function);
}

static uint32_t loc_id(const cg_pyloc_t *loc, uint64_t names)
{
    cg_board_t *b = cg_board;
    if (!b || !b->locs_offset) return 0;
    uint64_t h = mix(names ^ mix((uint64_t)(uint32_t)loc->line + 1));
    if (h < 2) h += 2;
    cg_locslot_t *t = locs_of(b);
    for (uint32_t probe = 0; probe < LOC_PROBES; probe++) {
        cg_locslot_t *e = &t[(h + probe) % CG_LOC_SLOTS];
        uint64_t cur = atomic_load_explicit(&e->hash, memory_order_acquire);
        for (int spin = 0; cur == LOC_BUSY && spin < LOC_SPINS; spin++)
            cur = atomic_load_explicit(&e->hash, memory_order_acquire);
        if (cur == LOC_EMPTY) {
            uint64_t expected = LOC_EMPTY;
            if (atomic_compare_exchange_strong(&e->hash, &expected, LOC_BUSY)) {
                e->loc = *loc;
                atomic_store_explicit(&e->hash, h, memory_order_release);
                return (uint32_t)((h + probe) % CG_LOC_SLOTS) + 1;
            }
            cur = expected;
        }
        if (cur == h && e->loc.line == loc->line && !strcmp(e->loc.file, loc->file) &&
            !strcmp(e->loc.function, loc->function))
            return (uint32_t)((h + probe) % CG_LOC_SLOTS) + 1;
    }
    return 0;
}

uint32_t cg_loc_id(const cg_pyloc_t *loc)
{
    return loc_id(loc, names_hash(loc));
}

const cg_pyloc_t *cg_loc_get(uint32_t id)
{
    cg_board_t *b = cg_board;
    if (!b || !b->locs_offset || id == 0 || id > CG_LOC_SLOTS) return NULL;
    cg_locslot_t *e = &locs_of(b)[id - 1];
    return atomic_load_explicit(&e->hash, memory_order_acquire) > LOC_BUSY ? &e->loc : NULL;
}

/* This process's memo of the locations it has resolved: (code, offset)
 * to a location's number, direct-mapped. An entry is trusted only while the
 * code object at that address has the same file name object: an address
 * reused by another code object is a miss. The key is read again after the
 * fields (an entry being replaced has key 1 meanwhile). */
#define MEMO_SLOTS 65536
/* What a frame is, for folding imports: a module's body run by an import
 * is one frame, "(import)", and importlib's own frames are left out. */
enum { KIND_CODE, KIND_MODULE, KIND_IMPORTLIB };
#define BODY (-1) /* the offset that stands for a module's whole body */

typedef struct {
    _Atomic uint64_t key; /* 0 empty, 1 busy, else a hash of code and offset */
    uintptr_t code, filename;
    int offset;
    uint32_t loc;
    int kind;
} memo_t;
static memo_t memo[MEMO_SLOTS];

/* A range of instructions on one line, as CPython 3.11 to 3.13 keep it
 * (PyCodeAddressRange): _PyCode_CheckLineNumber moves it forwards or
 * backwards to the instruction asked for, reading the location table from
 * where it is; PyCode_Addr2Line starts from the table's beginning each
 * time, which, over a long module body, costs its length for each line. */
typedef struct {
    int ar_start, ar_end, ar_line;
    struct {
        int computed_line;
        const uint8_t *lo_next, *limit;
    } opaque;
} addr_range_t;

/* What is known of a code object: its names, copied, and where its
 * location table was read last. Taken by one reader at a time (busy); a
 * reader that finds it taken (a signal handler that interrupted one) reads
 * without it. A probed read that faults while an entry is taken leaves it
 * taken for good: that slot's code objects are then read without it. */
#define CODE_SLOTS 1024
typedef struct {
    _Atomic int busy;
    uintptr_t code, filename, name, linetable;
    addr_range_t range;
    uint64_t names; /* names_hash of loc */
    int kind;
    cg_pyloc_t loc;
} code_t;
static code_t codes[CODE_SLOTS];

/* Copy str object s as UTF-8 into buf (at most size - 1 bytes, the tail
 * kept when it is longer: the end of a path says most). */
static void copy_str(uintptr_t s, char *buf, size_t size)
{
    const layout_t *l = py.l;
    buf[0] = '\0';
    if (!plausible(s) || size < 8) return;
    uint32_t state = *(const uint32_t *)(s + 32);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    intptr_t len = *(const intptr_t *)(s + 16);
    if (!compact || len < 0 || len > (1 << 20)) return;
    const unsigned char *data;
    if (ascii) {
        data = (const unsigned char *)(s + l->str_ascii);
        kind = 1;
    } else {
        uintptr_t utf8 = WORD(s + l->str_utf8);
        if (utf8) {
            data = (const unsigned char *)utf8;
            len = *(const intptr_t *)(s + l->str_utf8 - 8);
            kind = 0; /* already UTF-8 */
        } else {
            data = (const unsigned char *)(s + l->str_compact);
        }
    }
    /* Code points to UTF-8, then keep the tail. */
    char tmp[1024];
    size_t n = 0;
    for (intptr_t i = 0; i < len && n + 4 < sizeof tmp; i++) {
        uint32_t c = kind == 0 || kind == 1 ? data[i] : kind == 2 ? ((const uint16_t *)data)[i] : ((const uint32_t *)data)[i];
        if (kind == 0 || c < 0x80) tmp[n++] = (char)c;
        else if (c < 0x800) { tmp[n++] = (char)(0xc0 | c >> 6); tmp[n++] = (char)(0x80 | (c & 0x3f)); }
        else if (c < 0x10000) { tmp[n++] = (char)(0xe0 | c >> 12); tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f)); tmp[n++] = (char)(0x80 | (c & 0x3f)); }
        else { tmp[n++] = (char)(0xf0 | c >> 18); tmp[n++] = (char)(0x80 | ((c >> 12) & 0x3f)); tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f)); tmp[n++] = (char)(0x80 | (c & 0x3f)); }
    }
    size_t skip = n > size - 1 ? n - (size - 4) : 0;
    size_t k = 0;
    if (skip) {
        while (skip < n && ((unsigned char)tmp[skip] & 0xc0) == 0x80) skip++; /* not mid-character */
        memcpy(buf, "...", 3);
        k = 3;
    }
    memcpy(buf + k, tmp + skip, n - skip);
    buf[k + n - skip] = '\0';
}

/* The location of instruction offset of code, without the code cache. */
static int kind_of(const cg_pyloc_t *loc)
{
    if (!strncmp(loc->file, "<frozen importlib", 17)) return KIND_IMPORTLIB;
    return strcmp(loc->function, "<module>") ? KIND_CODE : KIND_MODULE;
}

static uint32_t locate_plainly(uintptr_t code, int offset, uintptr_t filename, int *kind)
{
    cg_pyloc_t loc;
    loc.line = offset == BODY ? 0 : py.addr2line((void *)code, offset);
    copy_str(filename, loc.file, sizeof loc.file);
    copy_str(WORD(code + py.l->co_name), loc.function, sizeof loc.function);
    *kind = kind_of(&loc);
    return cg_loc_id(&loc);
}

static uint32_t locate(uintptr_t code, int offset, uintptr_t filename, int *kind)
{
    const layout_t *l = py.l;
    code_t *c = &codes[(code >> 4) * 0x9e3779b1u % CODE_SLOTS];
    int free_ = 0;
    if (!atomic_compare_exchange_strong(&c->busy, &free_, 1)) return locate_plainly(code, offset, filename, kind);
    uintptr_t name = WORD(code + l->co_name), table = l->co_linetable ? WORD(code + l->co_linetable) : 0;
    bool fresh = c->code != code || c->filename != filename || c->name != name || c->linetable != table;
    if (fresh) {
        c->code = code;
        c->filename = filename;
        c->name = name;
        c->linetable = table;
        copy_str(filename, c->loc.file, sizeof c->loc.file);
        copy_str(name, c->loc.function, sizeof c->loc.function);
        c->names = names_hash(&c->loc);
        c->kind = kind_of(&c->loc);
        if (table) { /* as _PyLineTable_InitAddressRange does */
            c->range.opaque.lo_next = (const uint8_t *)(table + 32); /* PyBytesObject's data */
            c->range.opaque.limit = c->range.opaque.lo_next + *(const intptr_t *)(table + 16);
            c->range.ar_start = -1;
            c->range.ar_end = 0;
            c->range.opaque.computed_line = *(const int *)(code + l->co_firstlineno);
            c->range.ar_line = -1;
        }
    }
    int line;
    if (offset == BODY) {
        line = 0;
    } else if (table && atomic_load_explicit(&py.ranges, memory_order_relaxed)) {
        line = py.check_line(offset, &c->range);
        /* The first line of each code object is checked against
         * PyCode_Addr2Line: a layout that differs turns the ranges off. */
        if (fresh && line != py.addr2line((void *)code, offset)) {
            atomic_store(&py.ranges, false);
            line = py.addr2line((void *)code, offset);
        }
        if (line < 0) line = py.addr2line((void *)code, offset);
    } else {
        line = py.addr2line((void *)code, offset);
    }
    c->loc.line = line;
    *kind = c->kind;
    uint32_t id = loc_id(&c->loc, c->names);
    atomic_store_explicit(&c->busy, 0, memory_order_release);
    return id;
}

static uint32_t resolve(uintptr_t code, int offset, int *kind)
{
    uintptr_t filename = WORD(code + py.l->co_filename);
    uint64_t key = mix(code ^ mix((uint64_t)(uint32_t)offset + 0x9e37)) | 2;
    memo_t *m = &memo[key % MEMO_SLOTS];
    uint64_t cur = atomic_load_explicit(&m->key, memory_order_acquire);
    if (cur == key && m->code == code && m->offset == offset && m->filename == filename) {
        uint32_t loc = m->loc;
        *kind = m->kind;
        atomic_signal_fence(memory_order_acquire);
        if (atomic_load_explicit(&m->key, memory_order_acquire) == key) return loc;
    }
    uint32_t id = locate(code, offset, filename, kind);
    if (id && cur != 1 && atomic_compare_exchange_strong(&m->key, &cur, 1)) {
        m->code = code;
        m->offset = offset;
        m->filename = filename;
        m->loc = id;
        m->kind = *kind;
        atomic_store_explicit(&m->key, key, memory_order_release);
    }
    return id;
}

/* Splice Python frames (locs, m) into a native stack (n frames): the
 * native frames inside the interpreter's first eval loop, then the Python
 * frames, then the rest, at most max in all, the Python frames kept first. */
uint32_t cg_py_splice(const uintptr_t *native, uint32_t n, const uint32_t *locs, uint32_t m, uintptr_t *out,
                      uint32_t max)
{
    uint32_t k = 0;
    while (k < n && !cg_py_eval_pc(native[k])) k++;
    if (m > max) m = max;
    uint32_t inner = k < max - m ? k : max - m, o = 0;
    for (uint32_t i = 0; i < inner; i++) out[o++] = native[i];
    for (uint32_t i = 0; i < m; i++) out[o++] = CG_PYFRAME | locs[i];
    for (uint32_t i = k; i < n && o < max; i++) out[o++] = native[i];
    return o;
}

/* Where the thread is, in a word: its two innermost frames and their
 * instructions, hashed; 0 when it runs no Python. Two calls that give the
 * same word are (but for a frame reused at the same address, called from
 * elsewhere, two levels up) at the same place. At a marked allocation. */
uint64_t cg_py_here(void)
{
    if (!py.known) return 0;
    const layout_t *l = py.l;
    uintptr_t ts = (uintptr_t)py.this_thread();
    if (!ts || !plausible(ts)) return 0;
    uintptr_t f = WORD(ts + l->ts_frame);
    if (l->cframe_frame >= 0 && plausible(f)) f = WORD(f + (uint32_t)l->cframe_frame);
    if (!plausible(f)) return 0;
    /* Multiplied by odd constants and added: one multiply per word, since
     * this runs at every marked allocation. */
    uint64_t h = ts * 0x9e3779b97f4a7c15ULL + f * 0xc2b2ae3d27d4eb4fULL + WORD(f + l->f_instr) * 0x165667b19e3779f9ULL;
    uintptr_t back = WORD(f + l->f_back);
    if (plausible(back)) h += back * 0x27d4eb2f165667c5ULL + WORD(back + l->f_instr) * 0xff51afd7ed558ccdULL;
    return h | 1;
}

/* The thread's Python frames, innermost first, as (code, offset) pairs,
 * and a hash of them: at a marked allocation, where the interpreter is at
 * a call and its frames are whole. */
uint32_t cg_py_stack(cg_pystack_t *ps, uint32_t max)
{
    if (!py.known) return ps->n = 0;
    pyframe_t pf[CG_MAX_FRAMES];
    ps->n = walk(pf, max < CG_MAX_FRAMES ? max : CG_MAX_FRAMES);
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint32_t i = 0; i < ps->n; i++) {
        ps->code[i] = pf[i].code;
        ps->offset[i] = pf[i].offset;
        h = mix(h ^ pf[i].code ^ ((uint64_t)(uint32_t)pf[i].offset << 48)) + i;
    }
    ps->hash = h;
    return ps->n;
}

/* Frames to locations. An import is folded: what runs inside it (the
 * module's body, the class bodies and functions it calls) is one
 * location, the module's, at line 0, and importlib's own frames are left
 * out; so the hundred thousand lines a large import runs (under
 * COWGUARD_PREFORK) make one site per module, not one per line. */
static uint32_t resolve_all(const uintptr_t *code, const int *offset, uint32_t n, uint32_t *locs)
{
    uint32_t ids[CG_MAX_FRAMES];
    int kinds[CG_MAX_FRAMES];
    uint32_t first = 0; /* the frames before first - 1 ran inside an import of first - 1's module; 0: none */
    for (uint32_t i = 0; i < n; i++) {
        kinds[i] = KIND_CODE;
        ids[i] = resolve(code[i], offset[i], &kinds[i]);
        if (!first && i && kinds[i] == KIND_IMPORTLIB && kinds[i - 1] == KIND_MODULE) first = i;
    }
    uint32_t k = 0;
    for (uint32_t i = first ? first - 1 : 0; i < n; i++) {
        if (kinds[i] == KIND_IMPORTLIB || !ids[i]) continue;
        uint32_t id = ids[i];
        if (kinds[i] == KIND_MODULE && i + 1 < n && kinds[i + 1] == KIND_IMPORTLIB) {
            int kind;
            uint32_t body = resolve(code[i], BODY, &kind);
            if (body) id = body;
        }
        locs[k++] = id;
    }
    return k;
}

uint32_t cg_py_resolve(const cg_pystack_t *ps, uint32_t *locs)
{
    return resolve_all(ps->code, ps->offset, ps->n, locs);
}

/* The thread's Python frames as locations, read under a probe: in the
 * fault handler, where the thread may have stopped anywhere. 0 when a read
 * faulted, or there are none. */
uint32_t cg_py_locs_probed(uint32_t *locs, uint32_t max)
{
    if (!py.known) return 0;
    volatile uint32_t k = 0;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) == 0) {
        probe_set(&jb);
        cg_pystack_t ps;
        k = cg_py_stack(&ps, max) ? cg_py_resolve(&ps, locs) : 0;
    } else {
        k = 0;
    }
    probe_clear();
    return k;
}

/* ---- causes: which part of which object a write hit ------------------------ */

/* The type at t, if it is one: its flags and basic size. Probed. */
static bool is_type(uintptr_t t, unsigned long *flags, intptr_t *basicsize)
{
    if (!plausible(t)) return false;
    uintptr_t meta = WORD(t + 8);
    if (meta != py.type_type && (!plausible(meta) || WORD(meta + 8) != py.type_type)) return false;
    *flags = WORD(t + TYPE_FLAGS);
    *basicsize = *(const intptr_t *)(t + TYPE_BASICSIZE);
    return *basicsize >= 16 && *basicsize < (1 << 24);
}

/* Where, in the block [start, start + size), the Python object starts, its
 * type and that type's flags; false when the block holds no object (a
 * buffer: list items, bytearray data, a NumPy array). Probed. */
static bool object_in(uintptr_t start, size_t size, uintptr_t *obj, uintptr_t *type, unsigned long *flags,
                      intptr_t *basicsize)
{
    static const uint32_t at[] = { 0, GC_HEAD, GC_HEAD + 16 };
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        uintptr_t o = start + at[i];
        if (o + 16 > start + size) break;
        intptr_t refcnt = *(const intptr_t *)o;
        uintptr_t t = WORD(o + 8);
        if (refcnt <= 0) continue; /* freed, or not an object */
        if (!is_type(t, flags, basicsize)) continue;
        bool gc = (*flags & TPFLAGS_HAVE_GC) != 0, pre = (*flags & py.l->preheader) != 0;
        if ((at[i] == 0) != !gc || (at[i] == GC_HEAD + 16) != (gc && pre)) continue;
        *obj = o;
        *type = t;
        return true;
    }
    return false;
}

static cg_cause_t classify(uintptr_t addr, uintptr_t start, size_t size)
{
    uintptr_t obj, type;
    unsigned long flags;
    intptr_t basicsize;
    if (!object_in(start, size, &obj, &type, &flags, &basicsize)) return CG_CAUSE_DATA;
    if (addr < obj) return addr >= obj - GC_HEAD ? CG_CAUSE_GC : CG_CAUSE_FIELD; /* the GC header, the pre-header */
    uintptr_t off = addr - obj;
    if (off < 8) return CG_CAUSE_REFCOUNT;
    bool str = type == py.str_type || (flags & TPFLAGS_UNICODE_SUBCLASS);
    bool bytes = type == py.bytes_type || (flags & TPFLAGS_BYTES_SUBCLASS);
    if ((str || bytes) && off >= STR_HASH && off < STR_HASH + 8) return CG_CAUSE_HASH;
    if ((type == py.set_type || type == py.frozenset_type) && off >= SET_HASH && off < SET_HASH + 8)
        return CG_CAUSE_HASH;
    return off < (uintptr_t)basicsize ? CG_CAUSE_FIELD : CG_CAUSE_DATA;
}

/* What the write at addr, into the block [start, start + size), hit. In
 * the fault handler. */
cg_cause_t cg_py_cause(uintptr_t addr, uintptr_t start, size_t size)
{
    if (!py.known) return CG_CAUSE_DATA;
    volatile cg_cause_t c = CG_CAUSE_DATA;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) == 0) {
        probe_set(&jb);
        c = classify(addr, start, size);
    }
    probe_clear();
    return c;
}
