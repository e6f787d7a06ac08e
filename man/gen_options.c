/* gen_options.c: the ENVIRONMENT section of cowguard(7), written from the
 * very table the library parses (cg_option_table, from options.def), so the
 * page and the code cannot disagree on a variable, its values or default.
 *
 * usage: gen_options TEMPLATE >cowguard.7
 * Copies TEMPLATE, replacing the line "@OPTIONS@" with one .TP entry per
 * variable. (The Makefile fills in the version and the paths.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Text as roff input: a backslash is \e, a leading dot or quote is escaped,
 * and a hyphen stays a hyphen (the table's text has no minus signs). */
static void roff(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'') fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", out);
        else fputc(*s, out);
    }
}

/* The tag line: NAME=form, the accepted words spelled out. */
static void tag(FILE *out, const cg_option_t *o)
{
    fprintf(out, ".TP\n\\fB%s\\fR=", o->name);
    switch (o->type) {
    case CG_OPT_ENUM:
        for (const char *w = o->words; *w;) {
            size_t n = strcspn(w, "|");
            fprintf(out, "%s\\fB%.*s\\fR", w == o->words ? "" : "|", (int)n, w);
            w += n;
            if (*w == '|') w++;
        }
        break;
    case CG_OPT_BOOL: fputs("\\fB0\\fR|\\fB1\\fR", out); break;
    case CG_OPT_SIZE: fputs("\\fIsize\\fR", out); break;
    case CG_OPT_UINT: fputs("\\fInumber\\fR", out); break;
    case CG_OPT_STRING: fputs("\\fItext\\fR", out); break;
    }
    fputc('\n', out);
}

static void entries(FILE *out)
{
    for (size_t i = 0; i < cg_option_count; i++) {
        const cg_option_t *o = &cg_option_table[i];
        tag(out, o);
        /* The doc line, with its first letter raised: it is a sentence here. */
        char first[2] = { o->doc[0], 0 };
        if (first[0] >= 'a' && first[0] <= 'z') first[0] = (char)(first[0] - 'a' + 'A');
        roff(out, first);
        roff(out, o->doc + 1);
        fputs(".\n", out);
        /* Sizes and numbers: the range in the words a bad value's message uses. */
        if (o->type == CG_OPT_SIZE || o->type == CG_OPT_UINT) {
            char expected[160];
            cg_option_expected(o, expected, sizeof expected);
            fputs("Accepted: ", out);
            roff(out, expected);
            fputs(".\n", out);
        }
        if (o->deflt) fprintf(out, "Default: \\fB%s\\fR.\n", o->deflt);
        else fputs("Default: unset.\n", out);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_options TEMPLATE\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    char line[4096];
    int seen = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "@OPTIONS@\n") == 0) {
            entries(stdout);
            seen = 1;
            continue;
        }
        fputs(line, stdout);
    }
    fclose(in);
    if (!seen) {
        fprintf(stderr, "gen_options: %s has no @OPTIONS@ line\n", argv[1]);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
