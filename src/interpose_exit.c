/* interpose_exit.c: the exported _exit and _Exit. A process leaving this way
 * (Python's Pool workers do) runs no atexit handler and no destructor, so its
 * exit is recorded and measured here. exit() is seen through on_exit
 * (init.c), which also covers a return from main. */
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

/* Record and measure this process's exit, then leave as _exit does. */
void cg_exit_now(int code)
{
    cg_process_exit(CG_EXIT_UNDERSCORE, code);
    if (cg_next._exit) cg_next._exit(code);
    cg_sys_exit_group(code);
}

CG_EXPORT void _exit(int code)
{
    cg_exit_now(code);
}

CG_EXPORT void _Exit(int code)
{
    cg_exit_now(code);
}
