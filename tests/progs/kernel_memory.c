/* kernel_memory.c: marked memory that the kernel writes on its own, frozen
 * by a fork. Each mode allocates what the kernel will write inside a
 * region (so it is marked), forks, and uses it in the child (and, where it
 * says, in the parent, whose view stays frozen too).
 *
 * usage: kernel_memory MODE [ARG]
 *   altstack SIZE   an alternate signal stack of SIZE bytes (8192: the old
 *                   SIGSTKSZ) with SA_ONSTACK handlers for SIGUSR1 and
 *                   SIGSEGV (as CPython's faulthandler has); the child and
 *                   the parent take a SIGUSR1 on it and write frozen data,
 *                   whose trap runs cowguard's handler on that stack too
 *   altstack-late   the child makes a frozen block its alternate stack
 *   setstack        a thread on a marked stack given to pthread_attr_setstack:
 *                   one runs across the fork in the parent, one is started
 *                   in the child; both take a signal on their stack
 *   makecontext     the child runs a coroutine on a marked stack
 *   inflight        a thread blocked in read, recv and epoll_wait into marked
 *                   buffers while the main thread forks; the data arrives
 *                   after the fork and must land (no EFAULT)
 *   stdio           a stream opened in a region (its buffer marked) and a
 *                   marked destination: fread (large and small), fgets,
 *                   getline, fgetc, fscanf and fseek in the child
 *   readdir         a directory stream opened in a region, read in the child
 *   dlopen          (under COWGUARD_PREFORK=1) dlopen before the fork, and
 *                   others in the child and the parent after it
 *
 * Prints "child: ok" and "parent: ok" lines; exits 0 when both held. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"
#include "cowguard.h"

#define TABLE (64 * 1024)

static unsigned char *table;
static volatile sig_atomic_t usr1_on; /* 1: the last SIGUSR1 ran on the alternate stack */
static char *alt_lo, *alt_hi;

static void *marked(size_t n)
{
    cowguard_readonly_begin();
    void *p = malloc(n);
    cowguard_readonly_end();
    return p;
}

static void on_usr1(int sig)
{
    char here;
    usr1_on = &here >= alt_lo && &here < alt_hi;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    /* Frozen writes never reach the program: a call here is a real crash. */
    static const char msg[] = "program's SIGSEGV handler called\n";
    write(1, msg, sizeof msg - 1);
    _exit(3);
}

static void use_altstack(char *stack, size_t size)
{
    stack_t ss = { .ss_sp = stack, .ss_size = size, .ss_flags = 0 };
    CHECK(sigaltstack(&ss, NULL) == 0);
    alt_lo = stack;
    alt_hi = stack + size;
}

static void handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_ONSTACK | SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
}

/* A signal on the alternate stack, then a write to frozen data. */
static void exercise(const char *who, size_t at)
{
    usr1_on = 0;
    raise(SIGUSR1);
    CHECK(usr1_on == 1);
    table[at] = 'w';
    CHECK(table[at] == 'w');
    printf("%s: %s\n", who, failures ? "BAD" : "ok");
    fflush(stdout);
}

static int finish(pid_t pid, const char *who)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return 1;
    printf("parent: child %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    printf("%s: %s\n", who, failures ? "BAD" : "ok");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && !failures ? 0 : 1;
}

static int mode_altstack(size_t size)
{
    char *stack = marked(size);
    use_altstack(stack, size);
    handlers();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        exercise("child", 100);
        _exit(failures ? 1 : 0);
    }
    exercise("parent-after-fork", 200);
    return finish(pid, "parent");
}

static int mode_altstack_late(void)
{
    char *stack = marked(64 * 1024);
    handlers();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(!cowguard_active() || cowguard_is_frozen(stack + 4096) == 1);
        use_altstack(stack, 64 * 1024);
        exercise("child", 100);
        _exit(failures ? 1 : 0);
    }
    return finish(pid, "parent");
}

/* ---- threads on stacks of the program's own ------------------------------ */

static int gate[2];

static void *on_own_stack(void *arg)
{
    char c;
    if (arg) read(gate[0], &c, 1); /* wait across the fork */
    volatile char locals[4096];
    memset((char *)locals, 1, sizeof locals);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    alt_lo = (char *)((uintptr_t)&c - (1 << 20)); /* somewhere on this thread's stack */
    alt_hi = (char *)((uintptr_t)&c + 64);
    usr1_on = 0;
    pthread_kill(pthread_self(), SIGUSR1); /* a signal frame on this stack */
    return (void *)(intptr_t)(usr1_on && locals[100] == 1);
}

static pthread_t start_on(char *stack, size_t size, void *arg)
{
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    CHECK(pthread_attr_setstack(&a, stack, size) == 0);
    CHECK(pthread_create(&t, &a, on_own_stack, arg) == 0);
    pthread_attr_destroy(&a);
    return t;
}

static int mode_setstack(void)
{
    const size_t size = 1 << 20;
    char *before = marked(size), *after = marked(size);
    table[0] = 1;
    CHECK(pipe(gate) == 0);
    pthread_t across = start_on(before, size, (void *)1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        void *r = NULL;
        pthread_t t = start_on(after, size, NULL);
        CHECK(pthread_join(t, &r) == 0 && r == (void *)1);
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    void *r = NULL;
    CHECK(write(gate[1], "g", 1) == 1);
    CHECK(pthread_join(across, &r) == 0 && r == (void *)1);
    return finish(pid, "parent");
}

static ucontext_t main_ctx, co_ctx;
static volatile int co_ran;

static void coroutine(void)
{
    volatile char locals[8192];
    memset((char *)locals, 2, sizeof locals);
    alt_lo = (char *)co_ctx.uc_stack.ss_sp;
    alt_hi = alt_lo + co_ctx.uc_stack.ss_size;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    co_ran = usr1_on && locals[10] == 2;
    swapcontext(&co_ctx, &main_ctx);
}

static int mode_makecontext(void)
{
    const size_t size = 256 * 1024;
    char *stack = marked(size);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(getcontext(&co_ctx) == 0);
        co_ctx.uc_stack.ss_sp = stack;
        co_ctx.uc_stack.ss_size = size;
        co_ctx.uc_link = &main_ctx;
        makecontext(&co_ctx, coroutine, 0);
        CHECK(swapcontext(&main_ctx, &co_ctx) == 0);
        CHECK(co_ran == 1);
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    return finish(pid, "parent");
}

/* ---- system calls in flight across a fork --------------------------------- */

static int rd[2], sv[2], ep;
static char *rbuf, *sbuf;
static struct epoll_event *events;
static volatile ssize_t got_read = -2, got_recv = -2;
static volatile int got_epoll = -2, err_read, err_recv, err_epoll;

static void *reader(void *arg)
{
    got_read = read(rd[0], rbuf + 4000, 200); /* spans two pages */
    err_read = errno;
    return NULL;
}

static void *receiver(void *arg)
{
    got_recv = recv(sv[0], sbuf + 100, 100, 0);
    err_recv = errno;
    return NULL;
}

static void *waiter(void *arg)
{
    got_epoll = epoll_wait(ep, events, 16, 10000);
    err_epoll = errno;
    return NULL;
}

static int mode_inflight(void)
{
    rbuf = marked(3 * 4096);
    sbuf = marked(4096);
    events = marked(16 * sizeof *events);
    memset(rbuf, 'p', 3 * 4096);
    memset(sbuf, 'p', 4096);
    CHECK(pipe(rd) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int evfd[2];
    CHECK(pipe(evfd) == 0);
    ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, evfd[0], &ev) == 0);
    pthread_t t1, t2, t3;
    pthread_create(&t1, NULL, reader, NULL);
    pthread_create(&t2, NULL, receiver, NULL);
    pthread_create(&t3, NULL, waiter, NULL);
    usleep(200 * 1000); /* all three are blocked in the kernel now */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* Only the forking thread exists here: the buffers are frozen again. */
        CHECK(!cowguard_active() || cowguard_is_frozen(rbuf + 4096) == 1);
        CHECK(!cowguard_active() || cowguard_is_frozen(events) == 1);
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    char data[200];
    memset(data, 'k', sizeof data);
    CHECK(write(rd[1], data, 200) == 200);
    CHECK(write(sv[1], data, 100) == 100);
    CHECK(write(evfd[1], "x", 1) == 1);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    if (got_read != 200) printf("read: %zd (%s)\n", got_read, strerror(err_read));
    if (got_recv != 100) printf("recv: %zd (%s)\n", got_recv, strerror(err_recv));
    if (got_epoll != 1) printf("epoll_wait: %d (%s)\n", got_epoll, strerror(err_epoll));
    CHECK(got_read == 200 && rbuf[4000] == 'k' && rbuf[4199] == 'k' && rbuf[4200] == 'p');
    CHECK(got_recv == 100 && sbuf[100] == 'k' && sbuf[199] == 'k' && sbuf[200] == 'p');
    CHECK(got_epoll == 1 && events[0].data.u64 == 42);
    return finish(pid, "parent");
}

/* ---- stdio and directory streams -------------------------------------------- */

static int mode_stdio(const char *path)
{
    FILE *w = fopen(path, "w");
    if (!w) return 2;
    for (int i = 0; i < 20000; i++) fprintf(w, "line %05d %06d\n", i, i * 7); /* 18 bytes a line */
    fclose(w);
    cowguard_readonly_begin();
    FILE *fp = fopen(path, "r");
    char first[64];
    CHECK(fp && fgets(first, sizeof first, fp) && strcmp(first, "line 00000 000000\n") == 0); /* buffer made here */
    char *dst = malloc(65536);
    char *small = malloc(4096);
    cowguard_readonly_end();
    CHECK(cowguard_active() == 0 || cowguard_is_frozen(dst) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(cowguard_active() == 0 || cowguard_is_frozen(dst) == 1);
        size_t n = fread(dst, 1, 65536, fp); /* larger than the buffer: read straight into dst */
        CHECK(n == 65536 && !ferror(fp));
        CHECK(memcmp(dst, "line 00001 000007\n", 18) == 0);
        n = fread(small, 1, 100, fp); /* through the buffer */
        CHECK(n == 100 && !ferror(fp));
        char line[64];
        CHECK(fgets(line, sizeof line, fp) != NULL);
        char *gl = NULL;
        size_t cap = 0;
        CHECK(getline(&gl, &cap, fp) > 0 && strncmp(gl, "line ", 5) == 0);
        CHECK(fgetc(fp) == 'l');
        int a = -1, b = -1;
        CHECK(fscanf(fp, "ine %d %d\n", &a, &b) == 2 && b == a * 7);
        CHECK(fseek(fp, 18 * 10, SEEK_SET) == 0 && fgets(line, sizeof line, fp) && strcmp(line, "line 00010 000070\n") == 0);
        while (fgets(line, sizeof line, fp)) {}
        CHECK(!ferror(fp) && feof(fp));
        free(gl);
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    return finish(pid, "parent");
}

static int mode_readdir(const char *dir)
{
    char name[4096];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "%s/f%03d", dir, i);
        int fd = open(name, O_CREAT | O_WRONLY, 0600);
        if (fd < 0) return 2;
        close(fd);
    }
    cowguard_readonly_begin();
    DIR *d = opendir(dir);
    cowguard_readonly_end();
    CHECK(d != NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int n = 0;
        errno = 0;
        while (readdir(d)) n++;
        CHECK(errno == 0);
        CHECK(n == 302);
        if (n != 302) printf("child: %d entries (%s)\n", n, strerror(errno));
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    return finish(pid, "parent");
}

static int mode_dlopen(void)
{
    void *z = dlopen("libz.so.1", RTLD_NOW);
    CHECK(z != NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        CHECK(dlopen("liblzma.so.5", RTLD_NOW) != NULL);
        CHECK(dlsym(z, "zlibVersion") != NULL);
        printf("child: %s\n", failures ? "BAD" : "ok");
        fflush(stdout);
        exit(failures ? 1 : 0); /* exit, not _exit: the child's exit path runs */
    }
    CHECK(dlopen("libbz2.so.1.0", RTLD_NOW) != NULL);
    return finish(pid, "parent");
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    table = cowguard_malloc(TABLE);
    memset(table, 'p', TABLE);
    const char *m = argv[1];
    if (strcmp(m, "altstack") == 0 && argc > 2) return mode_altstack(strtoul(argv[2], NULL, 0));
    if (strcmp(m, "altstack-late") == 0) return mode_altstack_late();
    if (strcmp(m, "setstack") == 0) return mode_setstack();
    if (strcmp(m, "makecontext") == 0) return mode_makecontext();
    if (strcmp(m, "inflight") == 0) return mode_inflight();
    if (strcmp(m, "stdio") == 0 && argc > 2) return mode_stdio(argv[2]);
    if (strcmp(m, "readdir") == 0 && argc > 2) return mode_readdir(argv[2]);
    if (strcmp(m, "dlopen") == 0) return mode_dlopen();
    return 2;
}
