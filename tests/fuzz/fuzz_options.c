/* fuzz_options.c: the option parser and the glob matcher on hostile input.
 *
 * The input is split at newlines into environment entries; an entry whose
 * first byte is below 0x20 becomes "COWGUARD_<name of row byte%rows>=<rest>",
 * so most inputs reach a real row's parser. After cg_options_load, every
 * numeric option must hold its default or a value within its range. The
 * glob matcher gets the input split at its first '|' into pattern and name.
 * Built with libFuzzer (make fuzz) or with driver.c for make check. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

#define MAX_ENTRIES 64

static uint64_t slot_value(size_t row)
{
    const uint64_t *base = (const uint64_t *)&cg_opt;
    return base[row]; /* cg_options_t holds one uint64_t per row, in table order */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -2, saved = -1;
    if (devnull == -2) {
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        saved = dup(2);
    }
    static char text[1 << 16];
    static char *envp[MAX_ENTRIES + 1];
    size_t n = 0, len = 0;
    for (size_t i = 0; i < size && len + 64 < sizeof text && n < MAX_ENTRIES;) {
        size_t end = i;
        while (end < size && data[end] != '\n') end++;
        char *entry = text + len;
        if (end > i && data[i] < 0x20) {
            const char *name = cg_option_table[data[i] % cg_option_count].name;
            len += (size_t)cg_fmt(entry, sizeof text - len, "%s=", name);
            i++;
        }
        size_t take = end - i < sizeof text - len - 1 ? end - i : sizeof text - len - 1;
        memcpy(text + len, data + i, take);
        len += take;
        text[len++] = '\0';
        envp[n++] = entry;
        i = end + 1;
    }
    envp[n] = NULL;
    if (devnull >= 0) dup2(devnull, 2); /* every bad value prints a line: not the fuzzer's output */
    cg_options_load(envp);
    if (saved >= 0) dup2(saved, 2);
    for (size_t row = 0; row < cg_option_count; row++) {
        const cg_option_t *o = &cg_option_table[row];
        uint64_t v = slot_value(row), dflt = 0;
        if (o->deflt) cg_option_parse(o, o->deflt, &dflt);
        if ((o->type == CG_OPT_SIZE || o->type == CG_OPT_UINT || o->type == CG_OPT_BOOL) && v != dflt
            && (v < o->min || v > o->max))
            abort();
        if (o->type == CG_OPT_ENUM && v != dflt) {
            size_t words = 1;
            for (const char *w = o->words; *w; w++) words += *w == '|';
            if (v >= words) abort();
        }
    }
    const uint8_t *bar = memchr(data, '|', size);
    if (bar) cg_glob_match((const char *)data, (size_t)(bar - data), (const char *)bar + 1, size - (size_t)(bar - data) - 1);
    return 0;
}
