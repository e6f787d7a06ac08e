/* init.c: start-up and exit.
 *
 * cg_init() runs once, from the constructor or from whichever allocation
 * comes first. Until it has found the next malloc, requests are served from
 * the bootstrap pool (next.c). Nothing here reserves memory or installs a
 * handler: that waits for the first marked allocation, so a program that
 * marks nothing runs as if cowguard were not there. */
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

__thread cg_tls_t cg_tls CG_TLS;
_Atomic int cg_state;

/* exit(), or a return from main: on_exit passes the status, which a
 * destructor or an atexit handler would not see. */
static void on_exit_handler(int status, void *arg)
{
    cg_process_exit(CG_EXIT_EXIT, status);
}

void cg_init(void)
{
    if (cg_likely(cg_is_ready())) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&cg_state, &expected, 1)) {
        if (cg_tls.busy) return; /* our own recursion, from inside dlsym */
        while (!cg_is_ready()) sched_yield();
        return;
    }
    cg_tls.busy++;
    cg_next_resolve();
    cg_options_load(environ);
    if (sysconf(_SC_PAGESIZE) != (long)CG_PAGE) {
        cg_message("page size %ld is not supported; passing everything through",
                   sysconf(_SC_PAGESIZE));
    } else {
        cg_mark_setup();
    }
    cg_fork_setup();
    cg_tcache_setup();
    cg_signals_setup();
    cg_stack_setup();
    cg_fault_setup();
    cg_backtrace_setup();
    on_exit(on_exit_handler, NULL); /* registered first, so it runs after the program's */
    atomic_store_explicit(&cg_state, 2, memory_order_release);
    cg_tls.busy--;
}

__attribute__((constructor)) static void cg_constructor(void)
{
    cg_init();
}

