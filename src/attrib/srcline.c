/* srcline.c: file and line for a frame, from DWARF debug information, with
 * elfutils' libdwfl when it is installed.
 *
 * libdw is loaded with dlopen at report time, so programs under cowguard
 * never load it (nor libelf and the compression libraries it pulls in)
 * unless a report asks for lines. It allocates: only the root's report,
 * written from exit(), uses it; reports written from _exit, which a signal
 * handler may call, go without lines. */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "attrib.h"

#ifdef HAVE_ELFUTILS_LIBDWFL_H
#include <elfutils/libdwfl.h>

static struct {
    Dwfl *(*begin)(const Dwfl_Callbacks *);
    int (*proc_report)(Dwfl *, pid_t);
    int (*report_end)(Dwfl *, int (*)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *), void *);
    Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
    Dwfl_Line *(*getsrc)(Dwfl_Module *, Dwarf_Addr);
    const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *, Dwarf_Word *);
    Dwfl_Callbacks callbacks;
    char *debuginfo_path;
    Dwfl *dwfl;
    int state; /* 0 untried, 1 ready, -1 unavailable */
} dw;

static bool load(void)
{
    if (dw.state) return dw.state > 0;
    dw.state = -1;
    cg_tls.busy++; /* dlopen and libdw allocate: pass their requests through */
    void *h = cg_next.dlopen ? cg_next.dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (h) {
        dw.begin = (void *)dlsym(h, "dwfl_begin");
        dw.proc_report = (void *)dlsym(h, "dwfl_linux_proc_report");
        dw.report_end = (void *)dlsym(h, "dwfl_report_end");
        dw.addrmodule = (void *)dlsym(h, "dwfl_addrmodule");
        dw.getsrc = (void *)dlsym(h, "dwfl_module_getsrc");
        dw.lineinfo = (void *)dlsym(h, "dwfl_lineinfo");
        dw.callbacks.find_elf = (void *)dlsym(h, "dwfl_linux_proc_find_elf");
        dw.callbacks.find_debuginfo = (void *)dlsym(h, "dwfl_standard_find_debuginfo");
        dw.callbacks.debuginfo_path = &dw.debuginfo_path;
    }
    if (h && dw.begin && dw.proc_report && dw.report_end && dw.addrmodule && dw.getsrc && dw.lineinfo
        && dw.callbacks.find_elf && dw.callbacks.find_debuginfo) {
        dw.dwfl = dw.begin(&dw.callbacks);
        if (dw.dwfl && dw.proc_report(dw.dwfl, getpid()) == 0 && dw.report_end(dw.dwfl, NULL, NULL) == 0)
            dw.state = 1;
    }
    cg_tls.busy--;
    return dw.state > 0;
}

/* Is addr in the C or C++ runtime or the loader? Their own source lines
 * ("../csu/libc-start.c:360") tell a reader nothing to act on, and where
 * their detached debug information is installed (libc6-dbg) reading it
 * costs 40 ms at every exit that writes a report: their frames keep the
 * function name and go without. */
static bool runtime_object(uintptr_t addr)
{
    static const char *const runtime[] = { "libc.so", "ld-linux", "ld64.so", "libpthread.so", "libdl.so",
                                           "libm.so", "librt.so", "libstdc++.so", "libgcc_s.so" };
    Dl_info info;
    if (!dladdr((void *)addr, &info) || !info.dli_fname) return false;
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    for (size_t i = 0; i < sizeof runtime / sizeof *runtime; i++)
        if (strncmp(base, runtime[i], strlen(runtime[i])) == 0) return true;
    return false;
}

/* Source file and line of the return address addr (the call just before
 * it); false when unknown. */
bool cg_srcline(uintptr_t addr, const char **file, int *line)
{
    if (runtime_object(addr - 1) || !load()) return false;
    cg_tls.busy++;
    Dwarf_Addr pc = addr - 1;
    Dwfl_Module *m = dw.addrmodule(dw.dwfl, pc);
    Dwfl_Line *l = m ? dw.getsrc(m, pc) : NULL;
    const char *f = l ? dw.lineinfo(l, NULL, line, NULL, NULL, NULL) : NULL;
    cg_tls.busy--;
    if (!f || *line <= 0) return false;
    *file = f;
    return true;
}
#else
bool cg_srcline(uintptr_t addr, const char **file, int *line)
{
    return false;
}
#endif
