/* many_stacks.c: more distinct allocation stacks than the site table holds.
 * Each block is allocated at the end of a chain of 20 calls, each made from
 * one of two functions, chosen by one bit of the block's number: block i
 * has a stack of its own among 1,048,576 (when 22 frames are kept). Then a
 * child writes the first and the last block and exits.
 *
 * usage: many_stacks BLOCKS   (run with COWGUARD_MIN_SIZE=64 COWGUARD_BACKTRACE=24) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEVELS 20

static void *chain(int level, unsigned bits);

static __attribute__((noipa)) void *left(int level, unsigned bits)
{
    void *p = level ? chain(level - 1, bits) : malloc(100);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays on the stack */
    return p;
}

static __attribute__((noipa)) void *right(int level, unsigned bits)
{
    void *p = level ? chain(level - 1, bits) : malloc(100);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void *chain(int level, unsigned bits)
{
    return (bits >> level & 1) ? right(level, bits) : left(level, bits);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 40000;
    char **blocks = calloc(n, sizeof *blocks);
    if (!blocks || n == 0) return 2;
    for (unsigned i = 0; i < n; i++) {
        blocks[i] = chain(LEVELS - 1, i);
        if (!blocks[i]) return 2;
        blocks[i][0] = 'a';
    }
    pid_t pid = fork();
    if (pid == 0) {
        *(volatile char *)blocks[0] = 'b'; /* volatile: stores before _exit are not dead */
        *(volatile char *)blocks[n - 1] = 'b';
        _exit(0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    printf("blocks: %u\n", n);
    return 0;
}
