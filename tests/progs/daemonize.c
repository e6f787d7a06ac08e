/* daemonize.c: a program that daemonizes with daemon() after marking its
 * table, then forks two workers that write it, and leaves the file DONE
 * when everything has exited but itself.
 *
 * usage: daemonize DONE */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    unsigned char *table = cowguard_malloc(64 * 1024);
    memset(table, 'p', 64 * 1024);
    if (daemon(1, 0) != 0) return 1;
    for (int w = 0; w < 2; w++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i <= w; i++) table[i * 4096] = 'w';
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {}
    int fd = open(argv[1], O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
    return 0;
}
