/* fork.c: the exported fork and daemon. The freeze itself happens in the
 * atfork prepare handler (atfork.c); the wrappers count forks that
 * succeeded. */
#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose.h"
#include "sys.h"

static pid_t do_fork(void)
{
    cg_init();
    cg_exit_if_aborted(); /* no new worker in place of one that aborted */
    if (!cg_next.fork) {
        errno = ENOSYS;
        return -1;
    }
    pid_t pid = cg_next.fork();
    int saved = errno;
    if (pid == 0) cg_exit_forked();
    else if (pid > 0) cg_exit_note_fork();
    cg_fork_done(pid);
    errno = saved;
    return pid;
}

CG_EXPORT pid_t fork(void)
{
    return do_fork();
}

/* glibc's daemon forks and leaves through its internal _exit, which no
 * wrapper sees: the tree's report would never be written. So it is done
 * here as glibc does it, with cowguard's fork and exit, and the child,
 * which goes on as the program, takes over the report (on the stderr the
 * program started with, when that is where reports go). */
CG_EXPORT int daemon(int nochdir, int noclose)
{
    pid_t pid = do_fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        cg_board_hand_over(getpid(), pid);
        cg_exit_now(0);
    }
    cg_board_hand_over(getppid(), getpid());
    if (!noclose) cg_report_keep_stderr();
    if (setsid() == -1) return -1;
    if (!nochdir) (void)chdir("/");
    if (!noclose) {
        int fd = open(_PATH_DEVNULL, O_RDWR, 0);
        struct stat st;
        if (fd == -1) return -1;
        if (cg_sys_fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
            close(fd);
            return -1;
        }
        (void)dup2(fd, STDIN_FILENO);
        (void)dup2(fd, STDOUT_FILENO);
        (void)dup2(fd, STDERR_FILENO);
        if (fd > 2) close(fd);
    }
    return 0;
}
