/* sort.c: an in-place heap sort. qsort may allocate, and the report and the
 * symbolizer run where nothing may. */
#include <string.h>

#include "base.h"

static void swap(char *a, char *b, size_t size)
{
    char t[64];
    memcpy(t, a, size);
    memcpy(a, b, size);
    memcpy(b, t, size);
}

/* Push element root down the heap of n, whose top is the element that
 * comes last. */
static void sift(char *base, size_t root, size_t n, size_t size, bool (*before)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && before(base + child * size, base + (child + 1) * size)) child++;
        if (!before(base + root * size, base + child * size)) return;
        swap(base + root * size, base + child * size, size);
        root = child;
    }
}

/* Sort n elements of size bytes (at most 64) so that a comes before b
 * wherever before(a, b). */
void cg_sort(void *base, size_t n, size_t size, bool (*before)(const void *, const void *))
{
    char *b = base;
    if (size > 64) return;
    for (size_t i = n / 2; i-- > 0;) sift(b, i, n, size, before);
    for (size_t end = n; end-- > 1;) {
        swap(b, b + end * size, size);
        sift(b, 0, end, size, before);
    }
}
