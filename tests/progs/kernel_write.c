/* kernel_write.c: a forked child fills a frozen marked table through the
 * kernel (read, pread, readv, recv), which fails with EFAULT on a read-only
 * page unless cowguard thaws it first. Prints "child: ok" when every call
 * read all its bytes into the table; the parent checks its own view of the
 * table is unchanged. Exit 0 when both held. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

#define SIZE (64 * 1024)

static int check(const char *what, ssize_t got, size_t want)
{
    if (got == (ssize_t)want) return 1;
    printf("child: %s returned %zd (%s), expected %zu\n", what, got, got < 0 ? strerror(errno) : "short", want);
    return 0;
}

int main(void)
{
    unsigned char *t = cowguard_malloc(SIZE);
    memset(t, 'p', SIZE);
    int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600); /* a file with no name */
    if (fd < 0) return 2;
    char data[8192];
    memset(data, 'k', sizeof data);
    if (write(fd, data, sizeof data) != (ssize_t)sizeof data) return 2;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
    if (write(sv[1], data, 100) != 100) return 2;

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = 1;
        lseek(fd, 0, SEEK_SET);
        ok &= check("read", read(fd, t + 100, 4000), 4000);            /* spans two pages */
        ok &= check("pread", pread(fd, t + 3 * 4096 + 10, 3000, 0), 3000);
        struct iovec iov[2] = { { t + 6 * 4096, 1000 }, { t + 9 * 4096, 1000 } };
        ok &= check("preadv", preadv(fd, iov, 2, 0), 2000);
        lseek(fd, 0, SEEK_SET);
        ok &= check("readv", readv(fd, iov, 2), 2000);
        ok &= check("recv", recv(sv[0], t + 12 * 4096, 100, 0), 100);
        ok &= t[100] == 'k' && t[4099] == 'k' && t[99] == 'p' && t[3 * 4096 + 10] == 'k' && t[9 * 4096] == 'k'
              && t[12 * 4096 + 99] == 'k' && t[15 * 4096] == 'p';
        printf("child: %s\n", ok ? "ok" : "BAD");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    int intact = 1;
    for (size_t i = 0; i < SIZE; i++) intact &= t[i] == 'p';
    printf("parent: child %s %d, table %s\n", WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), intact ? "intact" : "CHANGED");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && intact ? 0 : 1;
}
