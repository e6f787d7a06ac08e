/* interpose_exit.c: the exported _exit and _Exit. A process leaving this way
 * (Python's Pool workers do) runs no atexit handler and no destructor, so its
 * exit is recorded and measured here. exit() is seen through on_exit
 * (init.c), which also covers a return from main. */
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static void __attribute__((noreturn)) leave(int code)
{
    cg_process_exit(CG_EXIT_UNDERSCORE, code);
    if (cg_next._exit) cg_next._exit(code);
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

CG_EXPORT void _exit(int code)
{
    leave(code);
}

CG_EXPORT void _Exit(int code)
{
    leave(code);
}
