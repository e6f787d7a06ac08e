/* deepbind.c: objects loaded with RTLD_DEEPBIND get cowguard's malloc too.
 *
 * RTLD_DEEPBIND makes an object look up its symbols in itself and its own
 * dependencies before the global scope, so its malloc and free bind to the
 * C library's, past the preloaded cowguard. A marked block the program
 * hands to such an object would then reach glibc's free, which aborts
 * ("double free or corruption"; php-fpm's extensions are loaded this way).
 * After every such dlopen, each GOT slot of a malloc-family function that
 * holds the C library's definition (or a lazy stub not yet resolved) is
 * pointed at cowguard's, which passes unmarked pointers on to the same
 * next allocator everything else uses. Only those names are touched. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "interpose.h"
#include "sys.h"

static const char *const names[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
    "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
};
#define NNAMES (sizeof names / sizeof names[0])

typedef struct {
    void *ours[NNAMES];   /* what the global scope binds: cowguard's */
    void *libc[NNAMES];   /* the C library's own definitions */
    uintptr_t skip_lo[3], skip_hi[3]; /* libc, the loader, cowguard: never patched */
    int patched;
} ctx_t;

static int name_index(const char *name)
{
    for (size_t i = 0; i < NNAMES; i++)
        if (strcmp(names[i], name) == 0) return (int)i;
    return -1;
}

/* An address from the dynamic section: glibc relocates them in place, other
 * loaders may not. */
static uintptr_t dyn_ptr(uintptr_t base, ElfW(Addr) p)
{
    return p < base ? base + p : p;
}

static void patch_slot(ctx_t *c, uintptr_t slot, int i, uintptr_t lo, uintptr_t hi, uintptr_t relro_lo,
                       uintptr_t relro_hi)
{
    void **p = (void **)slot;
    void *cur = *p;
    if (cur == c->ours[i]) return;
    bool lazy = (uintptr_t)cur >= lo && (uintptr_t)cur < hi; /* still the object's own PLT stub */
    if (cur != c->libc[i] && !lazy) return;                  /* its own allocator: leave it */
    bool ro = slot >= relro_lo && slot < relro_hi;
    uintptr_t page = slot & ~(uintptr_t)(CG_PAGE - 1);
    if (ro && cg_sys_mprotect((void *)page, CG_PAGE, PROT_READ | PROT_WRITE) != 0) return;
    __atomic_store_n(p, c->ours[i], __ATOMIC_RELEASE);
    if (ro) cg_sys_mprotect((void *)page, CG_PAGE, PROT_READ);
    c->patched++;
}

static void patch_relocs(ctx_t *c, uintptr_t base, const ElfW(Rela) *rel, size_t size, const ElfW(Sym) *symtab,
                         const char *strtab, uintptr_t lo, uintptr_t hi, uintptr_t relro_lo, uintptr_t relro_hi)
{
    for (size_t k = 0; k < size / sizeof *rel; k++) {
        unsigned long type = ELF64_R_TYPE(rel[k].r_info);
#if defined(__x86_64__)
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
#elif defined(__aarch64__)
        if (type != R_AARCH64_JUMP_SLOT && type != R_AARCH64_GLOB_DAT) continue;
#else
        continue;
#endif
        int i = name_index(strtab + symtab[ELF64_R_SYM(rel[k].r_info)].st_name);
        if (i >= 0) patch_slot(c, base + rel[k].r_offset, i, lo, hi, relro_lo, relro_hi);
    }
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    ctx_t *c = arg;
    uintptr_t base = info->dlpi_addr, lo = UINTPTR_MAX, hi = 0, relro_lo = 0, relro_hi = 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            if (a < lo) lo = a;
            if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
            for (int s = 0; s < 3; s++)
                if (c->skip_lo[s] >= a && c->skip_lo[s] < a + ph->p_memsz) return 0;
        } else if (ph->p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)a;
        } else if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = a & ~(uintptr_t)(CG_PAGE - 1);
            relro_hi = a + ph->p_memsz;
        }
    }
    if (!dyn) return 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t jmprel_size = 0, rela_size = 0;
    bool is_rela = true;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_ptr(base, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)dyn_ptr(base, d->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_ptr(base, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmprel_size = d->d_un.d_val; break;
        case DT_RELA: rela = (const ElfW(Rela) *)dyn_ptr(base, d->d_un.d_ptr); break;
        case DT_RELASZ: rela_size = d->d_un.d_val; break;
        case DT_PLTREL: is_rela = d->d_un.d_val == DT_RELA; break;
        default: break;
        }
    }
    if (!symtab || !strtab || !is_rela) return 0;
    if (jmprel) patch_relocs(c, base, jmprel, jmprel_size, symtab, strtab, lo, hi, relro_lo, relro_hi);
    if (rela) patch_relocs(c, base, rela, rela_size, symtab, strtab, lo, hi, relro_lo, relro_hi);
    return 0;
}

/* After a dlopen with RTLD_DEEPBIND. */
void cg_deepbind_fix(void)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    void *libc = cg_next.dlopen ? cg_next.dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (!libc) return;
    for (size_t i = 0; i < NNAMES; i++) {
        c.ours[i] = dlsym(RTLD_DEFAULT, names[i]);
        c.libc[i] = dlsym(libc, names[i]);
    }
    dlclose(libc);
    uintptr_t lo, hi;
    if (cg_code_range((uintptr_t)c.libc[0], &lo, &hi)) c.skip_lo[0] = lo, c.skip_hi[0] = hi;
    if (cg_loader_range(&lo, &hi)) c.skip_lo[1] = lo, c.skip_hi[1] = hi;
    if (cg_code_range((uintptr_t)cg_deepbind_fix, &lo, &hi)) c.skip_lo[2] = lo, c.skip_hi[2] = hi;
    if (c.ours[0] == c.libc[0]) return; /* nothing interposed (cannot happen under the preload) */
    dl_iterate_phdr(visit, &c);
    cg_debug("RTLD_DEEPBIND: %d malloc-family slots pointed at cowguard", c.patched);
}
