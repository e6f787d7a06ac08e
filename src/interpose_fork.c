/* interpose_fork.c: the exported fork. The freeze itself happens in the
 * atfork prepare handler (fork.c); the wrapper counts forks that succeeded. */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

CG_EXPORT pid_t fork(void)
{
    cg_init();
    pid_t pid = cg_next.fork();
    int saved = errno;
    cg_fork_done(pid);
    errno = saved;
    return pid;
}
