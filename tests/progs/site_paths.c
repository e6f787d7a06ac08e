/* site_paths.c: blocks allocated by leaf(), called by mid(), reached along
 * three paths, interleaved, so that a stack remembered from one path is
 * offered the others, which differ only from the third frame on: via_a();
 * via_b(), whose frame grows by a different alloca each call; and
 * via_fiber(), run on a coroutine stack of its own (mmap, makecontext). Then a child writes the first byte of every via_b block
 * and exits: each copied page must be attributed to via_b's stack.
 *
 * usage: site_paths BLOCKS   (run with COWGUARD_MIN_SIZE=8192) */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#define SIZE 8192

__attribute__((noipa)) char *leaf(void)
{
    char *p = malloc(SIZE);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays on the stack */
    return p;
}

__attribute__((noipa)) char *mid(void)
{
    char *p = leaf();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noipa)) char *via_a(void)
{
    char *p = mid();
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noipa)) char *via_b(unsigned pad)
{
    volatile char *scratch = alloca(pad); /* this frame's size differs from call to call */
    scratch[0] = 1;
    char *p = mid();
    __asm__ volatile("" ::: "memory");
    return p;
}

static ucontext_t main_ctx, fiber_ctx;
static char *fiber_block;

__attribute__((noipa)) void via_fiber(void)
{
    for (;;) {
        fiber_block = mid();
        __asm__ volatile("" ::: "memory");
        swapcontext(&fiber_ctx, &main_ctx);
    }
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
    char **a = calloc(n, sizeof *a), **b = calloc(n, sizeof *b), **f = calloc(n, sizeof *f);
    size_t stack_size = 256 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!a || !b || !f || n == 0 || stack == MAP_FAILED) return 2;
    getcontext(&fiber_ctx);
    fiber_ctx.uc_stack.ss_sp = stack;
    fiber_ctx.uc_stack.ss_size = stack_size;
    fiber_ctx.uc_link = &main_ctx;
    makecontext(&fiber_ctx, via_fiber, 0);
    for (unsigned i = 0; i < n; i++) {
        a[i] = via_a();
        b[i] = via_b(16 + (i % 13) * 40);
        swapcontext(&main_ctx, &fiber_ctx);
        f[i] = fiber_block;
        if (!a[i] || !b[i] || !f[i]) return 2;
        memset(a[i], 'a', SIZE);
        memset(b[i], 'b', SIZE);
        memset(f[i], 'f', SIZE);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        for (unsigned i = 0; i < n; i++) b[i][0] = 'B';
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 3;
    for (unsigned i = 0; i < n; i++)
        if (a[i][0] != 'a' || b[i][0] != 'b' || f[i][SIZE - 1] != 'f') return 4;
    printf("blocks: %u\n", 3 * n);
    return 0;
}
