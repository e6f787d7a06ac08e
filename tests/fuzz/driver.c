/* driver.c: runs a libFuzzer target without libFuzzer, for make check:
 * each file given on the command line, then mutations of them (bytes
 * flipped, inserted, deleted, spliced) from a fixed seed, for the number of
 * runs in FUZZ_RUNS (default 20000). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    static uint8_t seeds[64][MAX_INPUT];
    static size_t seed_len[64];
    int nseeds = 0;
    for (int i = 1; i < argc && nseeds < 64; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) continue;
        seed_len[nseeds] = fread(seeds[nseeds], 1, MAX_INPUT, f);
        fclose(f);
        LLVMFuzzerTestOneInput(seeds[nseeds], seed_len[nseeds]);
        nseeds++;
    }
    const char *env = getenv("FUZZ_RUNS");
    long runs = env ? atol(env) : 20000;
    static uint8_t buf[MAX_INPUT];
    static const char dict[] = "COWGUARD_=kKmMgGtTbi0123456789|*?[]!,\n\x01\x02\x03";
    for (long r = 0; r < runs; r++) {
        size_t len = 0;
        if (nseeds) {
            int s = (int)(next() % (uint64_t)nseeds);
            len = seed_len[s];
            memcpy(buf, seeds[s], len);
        }
        for (int m = 0, muts = 1 + (int)(next() % 8); m < muts; m++) {
            size_t at = len ? next() % len : 0;
            switch (next() % 5) {
            case 0: if (len) buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
            case 1: if (len < MAX_INPUT) { memmove(buf + at + 1, buf + at, len - at); buf[at] = (uint8_t)dict[next() % (sizeof dict - 1)]; len++; } break;
            case 2: if (len) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
            case 3: if (len) buf[at] = (uint8_t)next(); break;
            default:
                if (nseeds && len < MAX_INPUT / 2) {
                    int s = (int)(next() % (uint64_t)nseeds);
                    size_t take = seed_len[s] < MAX_INPUT - len ? seed_len[s] : MAX_INPUT - len;
                    memcpy(buf + len, seeds[s], take);
                    len += take;
                }
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("fuzz_options: %d seeds, %ld mutated inputs, no failure\n", nseeds, runs);
    return 0;
}
