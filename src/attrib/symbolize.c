/* symbolize.c: names for addresses, at report time.
 *
 * dladdr finds the object and its load bias; the name comes from the
 * object's own symbol table (.symtab, so static functions are named when the
 * binary is not stripped; else .dynsym), read from the file through mmap.
 * No malloc and no stdio: the abort diagnostic runs this in the fault
 * handler, and a child's report may be written from _exit. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attrib.h"
#include "sys.h"

typedef struct {
    uint64_t value, size;
    uint32_t name;
} sym_t;

typedef struct {
    const struct link_map *lm;
    char path[512];
    const char *strtab;
    size_t strtab_size;
    sym_t *syms;
    size_t nsyms;
} obj_t;

#define MAX_OBJS 256
static obj_t objs[MAX_OBJS];
static _Atomic int nobjs; /* objs[0..nobjs) are complete: read without the lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* adding an object */

void cg_symbolize_lock(void)
{
    pthread_mutex_lock(&lock);
}

void cg_symbolize_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void cg_symbolize_reset_lock(void)
{
    pthread_mutex_init(&lock, NULL);
}

static bool sym_before(const void *x, const void *y)
{
    return ((const sym_t *)x)->value < ((const sym_t *)y)->value;
}

static bool is_function(const ElfW(Sym) *s)
{
    int type = ELF64_ST_TYPE(s->st_info);
    return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_shndx != SHN_UNDEF && s->st_value;
}

/* Read the function symbols of o->path; on any problem o simply has none. */
static void load_symbols(obj_t *o)
{
    int fd = cg_sys_open(o->path, O_RDONLY);
    if (fd < 0) return;
    struct stat st;
    void *map = MAP_FAILED;
    if (cg_sys_fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(ElfW(Ehdr)))
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    cg_sys_close(fd);
    if (map == MAP_FAILED) return;
    size_t size = (size_t)st.st_size;
    const char *base = map;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shentsize != sizeof(ElfW(Shdr))
        || eh->e_shoff == 0 || eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > size)
        return;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
    const ElfW(Shdr) *tab = NULL;
    for (int pass = 0; pass < 2 && !tab; pass++)
        for (int i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM)) tab = &sh[i];
    if (!tab || tab->sh_link >= eh->e_shnum || tab->sh_offset + tab->sh_size > size) return;
    const ElfW(Shdr) *str = &sh[tab->sh_link];
    if (str->sh_offset + str->sh_size > size) return;
    const ElfW(Sym) *syms = (const ElfW(Sym) *)(base + tab->sh_offset);
    size_t n = tab->sh_size / sizeof(ElfW(Sym)), count = 0;
    for (size_t i = 0; i < n; i++) count += is_function(&syms[i]);
    if (count == 0) return;
    sym_t *out = mmap(NULL, count * sizeof(sym_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED) return;
    cg_own_map_note(out, count * sizeof(sym_t), true);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (is_function(&syms[i]) && syms[i].st_name < str->sh_size)
            out[k++] = (sym_t){ syms[i].st_value, syms[i].st_size, syms[i].st_name };
    cg_sort(out, k, sizeof *out, sym_before);
    o->strtab = base + str->sh_offset;
    o->strtab_size = str->sh_size;
    o->syms = out;
    o->nsyms = k;
}

static obj_t *find(const struct link_map *lm)
{
    int n = atomic_load_explicit(&nobjs, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (objs[i].lm == lm) return &objs[i];
    return NULL;
}

/* The object's entry, loading its symbols the first time. In the fault
 * handler the lock is only tried: its holder may be the interrupted code. */
static obj_t *object_of(const struct link_map *lm)
{
    obj_t *o = find(lm);
    if (o) return o;
    if (cg_tls.no_wait ? pthread_mutex_trylock(&lock) != 0 : pthread_mutex_lock(&lock) != 0) return NULL;
    o = find(lm);
    if (o || atomic_load(&nobjs) == MAX_OBJS) {
        pthread_mutex_unlock(&lock);
        return o;
    }
    o = &objs[atomic_load(&nobjs)];
    memset(o, 0, sizeof *o);
    o->lm = lm;
    if (lm->l_name && lm->l_name[0]) {
        cg_fmt(o->path, sizeof o->path, "%s", lm->l_name);
    } else { /* the main program */
        ssize_t n = cg_sys_readlink("/proc/self/exe", o->path, sizeof o->path - 1);
        o->path[n > 0 ? n : 0] = '\0';
    }
    load_symbols(o);
    atomic_fetch_add_explicit(&nobjs, 1, memory_order_release);
    pthread_mutex_unlock(&lock);
    return o;
}

static const char *name_at(const obj_t *o, uintptr_t off)
{
    size_t lo = 0, hi = o->nsyms;
    while (lo < hi) { /* first symbol above off */
        size_t mid = (lo + hi) / 2;
        if (o->syms[mid].value <= off) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    const sym_t *s = &o->syms[lo - 1];
    if (s->size ? off >= s->value + s->size : (lo < o->nsyms && o->syms[lo].value <= off)) return NULL;
    return o->strtab + s->name;
}

/* addr is a return address: the call instruction lies just before it. */
void cg_symbolize(uintptr_t addr, cg_frame_t *out)
{
    uintptr_t pc = addr - 1;
    Dl_info info;
    struct link_map *lm = NULL;
    out->function = NULL;
    out->object = "?";
    out->offset = pc;
    out->line = 0;
    out->python = (addr & CG_PYFRAME) != 0;
    out->interpreter = !out->python && cg_py_interpreter_pc(addr);
    if (out->python) { /* a Python frame: its location, as the process that saw it copied it out */
        const cg_pyloc_t *loc = cg_loc_get((uint32_t)(addr & ~CG_PYFRAME));
        out->offset = 0;
        out->object = loc && loc->file[0] ? loc->file : "?";
        out->function = loc && loc->function[0] ? loc->function : NULL;
        out->line = loc ? loc->line : 0;
        return;
    }
    if (!dladdr1((void *)pc, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) return;
    obj_t *o = object_of(lm);
    out->offset = pc - lm->l_addr;
    if (!o) return;
    if (o->path[0]) out->object = o->path;
    if (o->nsyms) out->function = name_at(o, out->offset);
}
