/* report.c: a tree with many sites and many trapped writes, to time the
 * report. 100 x 100 distinct call paths allocate one 4 KiB marked block
 * each (10,000 allocation sites); then ROUNDS times the data is frozen
 * (cowguard_freeze) and every block written once, from one of 10 writer
 * functions (10,000 x ROUNDS trapped writes). Just before exit it prints
 * "exit_at=T" (CLOCK_MONOTONIC seconds), so the time the report takes is
 * what passes between that and the process's end.
 *
 * usage: report ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowguard.h"

#define N 100
static unsigned char *blocks[N * N];

static __attribute__((noinline)) unsigned char *leaf(void)
{
    return cowguard_malloc(4096);
}

#define INNER(j) \
    static __attribute__((noinline)) void inner##j(int i) { blocks[i * N + j] = leaf(); }
#define OUTER(i) \
    static __attribute__((noinline)) void outer##i(void) { for (int j = 0; j < N; j++) inners[j](i); }

#define TEN(M, b) M(b##0) M(b##1) M(b##2) M(b##3) M(b##4) M(b##5) M(b##6) M(b##7) M(b##8) M(b##9)
#define HUNDRED(M) TEN(M, ) TEN(M, 1) TEN(M, 2) TEN(M, 3) TEN(M, 4) TEN(M, 5) TEN(M, 6) TEN(M, 7) TEN(M, 8) TEN(M, 9)
HUNDRED(INNER)
static void (*const inners[N])(int) = {
#define REF_INNER(j) inner##j,
    HUNDRED(REF_INNER)
};
HUNDRED(OUTER)
static void (*const outers[N])(void) = {
#define REF_OUTER(i) outer##i,
    HUNDRED(REF_OUTER)
};

#define WRITER(w) \
    static __attribute__((noinline)) void writer##w(unsigned char *p) { *(volatile unsigned char *)p = (unsigned char)w; }
TEN(WRITER, )
static void (*const writers[10])(unsigned char *) = { writer0, writer1, writer2, writer3, writer4,
                                                      writer5, writer6, writer7, writer8, writer9 };

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    for (int i = 0; i < N; i++) outers[i]();
    for (int r = 0; r < rounds; r++) {
        cowguard_freeze();
        for (int k = 0; k < N * N; k++) writers[k % 10](blocks[k]);
    }
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    printf("exit_at=%.6f\n", t.tv_sec + t.tv_nsec / 1e9);
    fflush(stdout);
    return 0;
}
