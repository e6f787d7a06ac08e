/* space_probe.c: what a child copies of the heap, of an anonymous mapping
 * and of a library's data, as the kernel counts it.
 *
 * The parent writes all of it (so every page is present and anonymous),
 * forks, and the child writes -h heap pages, -a anonymous pages and -l
 * pages of space_lib's data. Then the child counts, from /proc/self/maps
 * and /proc/self/pagemap (bit 56: mapped by this process alone), the
 * pages of each that it holds alone, prints
 *   RESULT heap=H anon=A lib=L
 * with write(2) (nothing allocated after the fork) and leaves with _exit,
 * or, with -t last, is ended by SIGTERM. The parent waits and exits with
 * the child's status (0 for the SIGTERM with -t). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define HEAP_BLOCKS 64
#define ANON_PAGES 64

void space_lib_touch(size_t n, char v);

static int pagemap = -1;

/* Pages of [lo, hi) present and exclusive. */
static size_t exclusive(uintptr_t lo, uintptr_t hi)
{
    size_t n = 0;
    for (uintptr_t a = lo; a < hi; a += PAGE) {
        uint64_t e = 0;
        if (pread(pagemap, &e, 8, (off_t)(a / PAGE * 8)) == 8 && (e >> 63 & 1) && (e >> 56 & 1) && !(e >> 61 & 1))
            n++;
    }
    return n;
}

/* Over the mappings of /proc/self/maps whose name ends in suffix (and the
 * nameless mapping right after each, its bss), the pages held alone. */
static size_t named(const char *suffix)
{
    static char buf[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t len = 0, r;
    while (fd >= 0 && len < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += r;
    if (fd >= 0) close(fd);
    buf[len > 0 ? len : 0] = 0;
    size_t n = 0, sl = strlen(suffix);
    uintptr_t after = 0;
    for (char *line = buf; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        unsigned long lo, hi;
        char perms[8] = "", path[512] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &lo, &hi, perms, path) >= 3 && perms[1] == 'w' &&
            perms[3] == 'p') {
            size_t pl = strlen(path);
            if (pl >= sl && strcmp(path + pl - sl, suffix) == 0) {
                n += exclusive(lo, hi);
                after = hi;
            } else if (!path[0] && lo == after) {
                n += exclusive(lo, hi);
            }
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t h = 10, an = 20, l = 30;
    int term = argc > 1 && strcmp(argv[argc - 1], "-t") == 0; /* the child ends by SIGTERM, as a Pool's do */
    argc -= term;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-h") == 0) h = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-a") == 0) an = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-l") == 0) l = strtoul(argv[i + 1], NULL, 10);
    }
    char *blocks[HEAP_BLOCKS];
    for (int i = 0; i < HEAP_BLOCKS; i++) {
        blocks[i] = malloc(PAGE); /* below the mmap threshold: the heap */
        memset(blocks[i], 'p', PAGE);
    }
    char *anon = mmap(NULL, ANON_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED) return 2;
    memset(anon, 'p', ANON_PAGES * PAGE);
    space_lib_touch(64, 'p');
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        for (size_t i = 0; i < h && i < HEAP_BLOCKS; i++) blocks[i][PAGE / 2] = 'c'; /* one page each */
        for (size_t i = 0; i < an && i < ANON_PAGES; i++) anon[i * PAGE] = 'c';
        space_lib_touch(l, 'c');
        pagemap = open("/proc/self/pagemap", O_RDONLY);
        char out[128];
        int len = snprintf(out, sizeof out, "RESULT heap=%zu anon=%zu lib=%zu\n", named("[heap]"),
                           exclusive((uintptr_t)anon, (uintptr_t)anon + ANON_PAGES * PAGE), named("libspace_lib.so"));
        if (write(1, out, (size_t)len) != len) _exit(1);
        if (term) kill(getpid(), SIGTERM);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 2;
    if (term) return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
