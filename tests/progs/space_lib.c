/* space_lib.c: a library with 64 pages of initialized data, for
 * space_probe: a fork shares them once written, and the test counts what a
 * child copies of them. */
#include <stddef.h>

#define PAGES 64
char space_lib_data[PAGES * 4096] = { 1 };

/* Write one byte of each of the first n pages. */
void space_lib_touch(size_t n, char v)
{
    for (size_t i = 0; i < n && i < PAGES; i++) ((volatile char *)space_lib_data)[i * 4096] = v;
}
