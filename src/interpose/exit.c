/* exit.c: the exported exit, _exit and _Exit. A process leaving through
 * _exit (Python's Pool workers do) runs no atexit handler and no
 * destructor, so its exit is recorded and measured here (exiting.c).
 * exit() is recorded through on_exit, which also covers a return from
 * main; the wrapper of exit only marks the moment the process began to
 * exit, so that what its atexit handlers and destructors write is counted
 * apart. */
#include <dlfcn.h>

#include "interpose.h"

CG_EXPORT void _exit(int code)
{
    cg_exit_now(code);
}

CG_EXPORT void _Exit(int code)
{
    cg_exit_now(code);
}

/* The Python helper's: a forked interpreter begins to finalize (an atexit
 * callback registered after the fork), as exit() would begin C's. */
CG_EXPORT void cowguard__exiting(void)
{
    if (cg_is_ready()) cg_exit_starts();
}

CG_EXPORT void exit(int status)
{
    static void (*next)(int) __attribute__((noreturn));
    if (!next) {
        cg_init();
        *(void **)&next = dlsym(RTLD_NEXT, "exit");
    }
    if (cg_is_ready()) cg_exit_starts();
    if (next) next(status);
    cg_exit_now(status); /* no exit to pass to: leave as _exit does */
}
