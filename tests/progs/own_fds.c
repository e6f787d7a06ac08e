/* own_fds.c: cowguard keeps no descriptor where the program sees or reuses
 * it.
 *
 * Marked allocations with backtraces (libunwind validates memory through a
 * pipe) leave the set of open descriptors as it was. After a fork, a
 * trapped write (or the fork itself, which measures cowguard's own
 * memory) opens /proc/self/pagemap: that one may stay, close-on-exec, out
 * of the way. The child then closes every descriptor above 2 (a
 * close_range loop, as daemons and test suites do) and puts a file of its
 * own at the number cowguard had; the next trapped write must not read or
 * move that file. Prints "ok" lines; exits 0 when all held. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cowguard.h"

/* The descriptor open on this process's pagemap, or -1. */
static int pagemap_fd(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        char path[64], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        size_t len = strlen(target);
        if (len >= 8 && strcmp(target + len - 8, "/pagemap") == 0) return fd;
    }
    return -1;
}

/* The open descriptors, as a bit set of the first 1024. */
static void open_fds(unsigned char set[1024])
{
    memset(set, 0, 1024);
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int self = dirfd(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            int fd = atoi(e->d_name);
            if (fd != self && fd < 1024) set[fd] = 1;
        }
    closedir(d);
}

static int extra_fd(const unsigned char before[1024], const unsigned char after[1024])
{
    for (int fd = 0; fd < 1024; fd++)
        if (after[fd] && !before[fd]) return fd;
    return -1;
}

static __attribute__((noinline)) void *site(int depth, size_t n)
{
    if (depth > 0) return site(depth - 1, n + 1);
    cowguard_readonly_begin();
    void *p = malloc(n);
    cowguard_readonly_end();
    return p;
}

int main(void)
{
    unsigned char start[1024], now[1024];
    open_fds(start);
    void *blocks[200];
    for (int i = 0; i < 200; i++) blocks[i] = site(i % 20, 64); /* many stacks, cache misses included */
    open_fds(now);
    CHECK(extra_fd(start, now) == -1);
    printf("unwinds: %s\n", extra_fd(start, now) == -1 ? "ok" : "a descriptor was left open");

    unsigned char *table = cowguard_malloc(64 * 1024);
    memset(table, 'p', 64 * 1024);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char before[1024];
        open_fds(before);
        table[0] = 'c'; /* trapped: pagemap is opened */
        open_fds(now);
        int pm = extra_fd(before, now);
        if (pm < 0) pm = pagemap_fd(); /* opened at the fork already */
        if (cowguard_active()) {
            CHECK(pm >= 0);
            CHECK(pm < 0 || (fcntl(pm, F_GETFD) & FD_CLOEXEC));
        }
        /* Close everything, and put a file of the program's at that number. */
        for (int fd = 3; fd < 1024; fd++) close(fd);
        int target = pm >= 0 ? pm : 900;
        int f = open("/tmp", O_TMPFILE | O_RDWR, 0600);
        CHECK(f >= 0 && write(f, "program data", 12) == 12);
        CHECK(dup2(f, target) == target);
        close(f);
        off_t pos = lseek(target, 0, SEEK_CUR);
        table[8192] = 'c'; /* trapped again: must not use the program's file */
        table[16384] = 'c';
        char back[13] = { 0 };
        CHECK(lseek(target, 0, SEEK_CUR) == pos);
        CHECK(pread(target, back, 12, 0) == 12 && strcmp(back, "program data") == 0);
        CHECK(table[0] == 'c' && table[8192] == 'c' && table[16384] == 'c');
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    for (int i = 0; i < 200; i++) free(blocks[i]);
    printf("parent: %s\n", failures ? "BAD" : "ok");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && !failures ? 0 : 1;
}
