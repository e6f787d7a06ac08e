/* dl_origin.c: dlopen by a bare name, found through this program's RUNPATH
 * ($ORIGIN/.libs): glibc searches the caller's paths, so the caller must be
 * this program, not cowguard's dlopen. Twice: the first call is the one a
 * wrapper set up lazily would get wrong. */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
    int bad = 0;
    for (int i = 1; i <= 2; i++) {
        void *h = dlopen("dl_origin_lib.so", RTLD_NOW);
        int (*answer)(void) = h ? (int (*)(void))dlsym(h, "dl_origin_answer") : NULL;
        printf("dlopen %d: %s\n", i, answer && answer() == 42 ? "ok" : h ? "no symbol" : dlerror());
        bad |= !answer;
    }
    return bad;
}
