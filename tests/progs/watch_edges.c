/* watch_edges.c: what a child does with memory it inherited, which
 * COWGUARD_WATCH write-protects in place: system calls that fill it,
 * a grandchild's writes, a large block grown with realloc (glibc moves it
 * with mremap), a mapping moved with mremap, frees with every signal
 * blocked, writes to a static array (bss). Each case runs in a child of its own and prints "ok NAME" or
 * "FAIL NAME ..."; the exit status is the number of failures.
 *
 * usage: watch_edges [CASE...]   (all by default) */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
static char *heap; /* 128 KiB written before the fork */
static char bss[32 * PAGE];

/* Each call fills memory written before the fork, not yet by the child. */
static int fills(char *m)
{
    int failed = 0, p[2];
#define CALL(name, ok)                                                                    \
    do {                                                                                  \
        errno = 0;                                                                        \
        if (!(ok)) {                                                                      \
            printf("FAIL fills %s: %s\n", name, strerror(errno));                         \
            failed++;                                                                     \
        }                                                                                 \
        m += PAGE; /* the next call fills a page of its own */                            \
    } while (0)
    CALL("getcwd", getcwd(m, 256) != NULL);
    CALL("uname", uname((struct utsname *)m) == 0);
    CALL("getrusage", getrusage(RUSAGE_SELF, (struct rusage *)m) == 0);
    CALL("getrlimit", getrlimit(RLIMIT_NOFILE, (struct rlimit *)m) == 0);
    CALL("sysinfo", sysinfo((struct sysinfo *)m) == 0);
    CALL("statfs", statfs("/", (struct statfs *)m) == 0);
    CALL("fstatvfs", fstatvfs(0, (struct statvfs *)m) == 0);
    CALL("sigpending", sigpending((sigset_t *)m) == 0);
    CALL("sched_getaffinity", sched_getaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)m) == 0);
    CALL("getentropy", getentropy(m, 32) == 0);
    CALL("times", times((struct tms *)m) != (clock_t)-1);
    CALL("ioctl", pipe(p) == 0 && write(p[1], "abc", 3) == 3 && ioctl(p[0], FIONREAD, (int *)m) == 0 && *(int *)m == 3);
    CALL("stat64", stat64("/", (struct stat64 *)m) == 0);
    CALL("readlinkat", readlinkat(AT_FDCWD, "/proc/self/exe", m, 256) > 0);
    CALL("getitimer", getitimer(ITIMER_REAL, (struct itimerval *)m) == 0);
    int st;
    pid_t g = fork();
    if (g == 0) _exit(3);
    CALL("wait4", wait4(g, &st, 0, (struct rusage *)m) == g && WIFEXITED(st) && WEXITSTATUS(st) == 3);
    g = fork();
    if (g == 0) _exit(4);
    CALL("waitid", waitid(P_PID, (id_t)g, (siginfo_t *)m, WEXITED) == 0 && ((siginfo_t *)m)->si_status == 4);
    return failed;
}

static int nested(void)
{
    heap[100] = 2; /* the child's first write: its page is thawed, the mapping split */
    pid_t g = fork();
    if (g == 0) {
        heap[100] = 3;
        heap[9 * PAGE + 1] = 4; /* a page the child never wrote */
        _exit(heap[9 * PAGE + 1] == 4 ? 0 : 1);
    }
    int st;
    return waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static char *big; /* 1 MiB, malloc's own mapping, written before the fork */

static int realloc_big(void)
{
    char *q = realloc(big, 8 << 20); /* glibc moves it with mremap */
    if (!q) return 1;
    q[0] = 2;
    q[(1 << 20) - 1] = 3;
    q[(8 << 20) - 1] = 4;
    return q[0] != 2 || q[(1 << 20) - 1] != 3;
}

static char *mapped; /* 64 pages, mmap'ed and written before the fork */

static int moved(void)
{
    char *q = mremap(mapped, 64 * PAGE, 256 * PAGE, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) return 1;
    q[0] = 2;
    q[63 * PAGE] = 3;
    q[255 * PAGE] = 4;
    return q[63 * PAGE] != 3;
}

static char *spare[8]; /* blocks made before the fork, freed by the child with signals blocked */

/* glibc frees a thread's leftovers with every signal blocked (the raw
 * system call, no wrapper sees it); its writes to its free lists trap. */
static int blocked(void)
{
    uint64_t all = ~0ULL;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all) != 0) return 1;
    for (int i = 0; i < 8; i++) free(spare[i]);
    void *p = malloc(100);
    free(p);
    return p == NULL;
}

static int statics(void)
{
    bss[0] = 2;
    return fills(bss + PAGE) != 0 || bss[0] != 2;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } cases[] = { { "nested", nested },   { "realloc", realloc_big }, { "mremap", moved },
                  { "blocked", blocked }, { "bss", statics } };
    heap = malloc(128 * 1024);
    big = malloc(1 << 20);
    mapped = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!heap || !big || mapped == MAP_FAILED) return 100;
    memset(heap, 1, 128 * 1024);
    memset(big, 1, 1 << 20);
    memset(mapped, 1, 64 * PAGE);
    memset(bss, 1, sizeof bss);
    for (int i = 0; i < 8; i++) {
        spare[i] = malloc(3000); /* small: on the heap, among other chunks */
        if (!spare[i]) return 100;
        memset(spare[i], 1, 3000);
    }
    int failed = 0;
    for (int k = -1; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        const char *name = k < 0 ? "fills" : cases[k].name;
        bool want = argc < 2;
        for (int i = 1; i < argc; i++) want |= strcmp(argv[i], name) == 0;
        if (!want) continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(k < 0 ? fills(heap + PAGE) : cases[k].fn());
        int st;
        bool ok = waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (ok) printf("ok %s\n", name);
        else printf("FAIL %s: status 0x%x\n", name, st);
        failed += !ok;
    }
    return failed;
}
