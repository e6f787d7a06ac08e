/* bad_args.c: bad pointers handed to calls cowguard wraps, with marked data
 * frozen. readv, recvmsg and recvfrom must fail with EFAULT exactly as
 * without cowguard (cowguard reads their argument structures, and must not
 * crash on them). With the argument "stats", a bad pointer to
 * cowguard_stats() crashes in cowguard's code, which must say so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cowguard.h"

int main(int argc, char **argv)
{
    char *d = cowguard_malloc(4096);
    d[0] = 1;
    cowguard_freeze();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) return 2;
    for (int i = 0; i < 3; i++)
        if (write(sv[1], "x", 1) != 1) return 2;
    ssize_t a = readv(sv[0], (struct iovec *)8, 1);
    int ea = errno;
    ssize_t b = recvmsg(sv[0], (struct msghdr *)8, 0);
    int eb = errno;
    char buf[4];
    ssize_t c = recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr *)buf, (socklen_t *)8);
    int ec = errno;
    printf("readv=%zd/%s recvmsg=%zd/%s recvfrom=%zd/%s\n", a, strerror(ea), b, strerror(eb), c, strerror(ec));
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "stats") == 0) cowguard_stats((cowguard_stats_t *)8);
    return 0;
}
