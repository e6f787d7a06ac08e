/* check.h: CHECK(cond) for the test programs: a failed condition prints its
 * line and text and is counted in failures, and the program goes on, so one
 * run shows every failure. */
#ifndef CG_TEST_CHECK_H
#define CG_TEST_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            printf("FAILED line %d: %s\n", __LINE__, #cond);          \
            failures++;                                               \
        }                                                             \
    } while (0)

#endif
