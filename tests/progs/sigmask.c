/* sigmask.c: SIGSEGV masks and the older ways to set a handler, with marked
 * data frozen (cowguard_freeze) so that cowguard's handler is in the kernel.
 *
 * usage: sigmask MODE
 *   thread-blocked  a thread that blocked every signal writes frozen data:
 *                   the write goes on (the kernel would kill a process whose
 *                   fault signal is blocked)
 *   view            the program blocks SIGSEGV: sigprocmask reports it
 *                   blocked; a SIGSEGV sent meanwhile runs the handler only
 *                   once the program unblocks it
 *   sysv, sigset    a handler installed with sysv_signal or sigset gets the
 *                   program's own faults, not cowguard's frozen writes
 *   siginfo-ign     SA_SIGINFO with SIG_IGN: a sent SIGSEGV is ignored
 *   handler-calls   a signal handler calls sigaction while the main thread
 *                   does too, 20000 times: no deadlock
 * Prints "ok" and exits 0 when it all held. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "cowguard.h"

static volatile char *data;
static char *own;
static volatile sig_atomic_t calls;

static void on_segv(int sig)
{
    calls++;
    if (own) mprotect(own, 4096, PROT_READ | PROT_WRITE);
}

static void *writer(void *arg)
{
    data[5000] = 'w';
    return NULL;
}

static void on_alarm(int sig)
{
    struct sigaction old;
    sigaction(SIGSEGV, NULL, &old);
    calls++;
}

static int own_fault(void)
{
    own = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *(volatile char *)(own + 10) = 1;
    return calls == 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *mode = argv[1];
    data = cowguard_malloc(1 << 16);
    memset((char *)data, 'd', 1 << 16);
    cowguard_freeze();
    int ok = 0;
    if (strcmp(mode, "thread-blocked") == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL); /* the new thread inherits it */
        pthread_t t;
        pthread_create(&t, NULL, writer, NULL);
        pthread_join(t, NULL);
        ok = data[5000] == 'w';
    } else if (strcmp(mode, "view") == 0) {
        signal(SIGSEGV, on_segv);
        sigset_t segv, cur;
        sigemptyset(&segv);
        sigaddset(&segv, SIGSEGV);
        sigprocmask(SIG_BLOCK, &segv, NULL);
        sigprocmask(SIG_BLOCK, NULL, &cur);
        int shown = sigismember(&cur, SIGSEGV) == 1;
        raise(SIGSEGV); /* pending while blocked */
        int waited = calls == 0;
        data[6000] = 'w'; /* a frozen write goes on even now */
        sigprocmask(SIG_UNBLOCK, &segv, NULL);
        ok = shown && waited && calls == 1 && data[6000] == 'w';
    } else if (strcmp(mode, "sysv") == 0) {
        sysv_signal(SIGSEGV, on_segv);
        data[5000] = 'w';
        ok = calls == 0 && own_fault();
    } else if (strcmp(mode, "sigset") == 0) {
        /* sigset is obsolete (deprecated from glibc 2.41), and wrapped all the same. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        sigset(SIGSEGV, on_segv);
#pragma GCC diagnostic pop
        data[5000] = 'w';
        ok = calls == 0 && own_fault();
    } else if (strcmp(mode, "siginfo-ign") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
        raise(SIGSEGV);
        ok = 1;
    } else if (strcmp(mode, "handler-calls") == 0) {
        signal(SIGALRM, on_alarm);
        struct itimerval it = { { 0, 50 }, { 0, 50 } };
        setitimer(ITIMER_REAL, &it, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_segv;
        for (int i = 0; i < 20000; i++) sigaction(SIGSEGV, &sa, NULL);
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
        ok = 1;
    }
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
