#!/bin/sh
# The man pages against the code: every variable of the options table is in
# cowguard(7) and no other is; every COWGUARD_* name the sources, tools and
# docs mention is in the table and is taken by the library without a
# warning; every launcher option is in cowguard(1); and each page renders
# without a warning from man --warnings.
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null 2>&1 || { echo "SKIP: no man (Debian: man-db)"; exit 77; }
MAN="$BUILD/man"
for p in cowguard.1 cowguard.3 cowguard.7; do
    [ -s "$MAN/$p" ] || fail "$MAN/$p was not built"
done

# The table, as the library's parser sees it.
sed -n 's/^CG_OPT([a-z_]*, *"\(COWGUARD_[A-Z0-9_]*\)".*/\1/p' "$SRC/src/base/options.def" | sort >"$TMP/table"
[ "$(wc -l <"$TMP/table")" -ge 11 ] || fail "options.def: read only $(wc -l <"$TMP/table") variables"

# 1. Each page renders on an 80-column terminal without a single warning.
# (The text checked below is rendered with lines too long to wrap, so no
# word is hyphenated across two.)
for p in cowguard.1 cowguard.3 cowguard.7; do
    MANWIDTH=80 man --warnings -E UTF-8 -l "$MAN/$p" >"$TMP/$p.80" 2>"$TMP/warn.$p"
    [ -s "$TMP/$p.80" ] || fail "man -l $p printed nothing"
    [ ! -s "$TMP/warn.$p" ] || { cat "$TMP/warn.$p"; fail "man --warnings -l $p warns"; }
    MANWIDTH=1000 man -E UTF-8 -l "$MAN/$p" >"$TMP/$p.txt" 2>/dev/null
done
pass "cowguard.1, cowguard.3 and cowguard.7 render without warnings"

# 2. cowguard(7)'s ENVIRONMENT entries are exactly the table's variables.
awk '/^ENVIRONMENT/ {on = 1; next} /^[A-Z]/ {on = 0} on' "$TMP/cowguard.7.txt" |
    sed -n 's/^ \{7\}\(COWGUARD_[A-Z0-9_]*\)=.*/\1/p' | sort >"$TMP/page"
missing=$(comm -23 "$TMP/table" "$TMP/page" | paste -sd' ' -)
extra=$(comm -13 "$TMP/table" "$TMP/page" | paste -sd' ' -)
[ -z "$missing" ] || fail "in options.def but not in cowguard(7)'s ENVIRONMENT: $missing"
[ -z "$extra" ] || fail "in cowguard(7)'s ENVIRONMENT but not in options.def: $extra"
pass "cowguard(7) documents the $(wc -l <"$TMP/table") variables of options.def, and only those"

# Each entry says its default as the table has it.
while read -r name; do
    def=$(sed -n "s/^CG_OPT([a-z_]*, *\"$name\", *[A-Z]*, *\"\([^\"]*\)\".*/\1/p" "$SRC/src/base/options.def")
    [ -n "$def" ] || continue
    awk -v n="$name=" 'index($0, n) == 8 {on = 1; next} on && /^ {7}[^ ]/ {exit} on' "$TMP/cowguard.7.txt" |
        tr '\n' ' ' | tr -s ' ' | grep -qi "default: $def\." || fail "cowguard(7): $name does not say 'default: $def'"
done <"$TMP/table"
pass "cowguard(7) gives each variable the table's default"

# 3. Every COWGUARD_* name written anywhere else is in the table. The header's
# own macros are not variables.
not_variables='COWGUARD_H COWGUARD_NO_WRAPPERS COWGUARD_VERSION_MAJOR COWGUARD_VERSION_MINOR COWGUARD_VERSION_PATCH COWGUARD_WEAK'
( cd "$SRC" && cat man/*.in README.md docs/*.md docs/examples/*.md docs/examples/*.py \
    tools/cowguard.in tools/cowguard-report tools/python/cowguard.py tools/demo.sh \
    src/*/*.c src/*/*.h src/*/*.def include/cowguard.h examples/*.c ) |
    grep -o 'COWGUARD_[A-Z0-9_]*[A-Z0-9]' | sort -u >"$TMP/mentioned"
for w in $not_variables; do sed -i "/^$w\$/d" "$TMP/mentioned"; done
unknown=$(comm -23 "$TMP/mentioned" "$TMP/table" | paste -sd' ' -)
[ -z "$unknown" ] || fail "named in the sources or docs but not in options.def: $unknown"
pass "the sources, tools and docs name $(wc -l <"$TMP/mentioned") variables, all in options.def"

# ... and the library takes each of them, set to its default, without a
# word, while a name it does not know gets one.
envs=""
while read -r name; do
    def=$(sed -n "s/^CG_OPT([a-z_]*, *\"$name\", *[A-Z]*, *\"\([^\"]*\)\".*/\1/p" "$SRC/src/base/options.def")
    [ -n "$def" ] || def=x
    [ "$name" = COWGUARD_SITES ] && def=build_table
    envs="$envs $name=$def"
done <"$TMP/table"
# shellcheck disable=SC2086 # one word per variable
run $envs "$PROGS/echo_exit" 0
expect_rc 0 "every variable set"
[ ! -s "$TMP/err" ] || fail "the library warned about a documented variable: $(head -1 "$TMP/err")"
run COWGUARD_MIN_SIZES=1M "$PROGS/echo_exit" 0
expect_err "COWGUARD_MIN_SIZES" "an unknown variable"
pass "the library takes every documented variable and warns about an unknown one"

# 4. The launcher's options and the variables it sets are in cowguard(1).
"$BUILD/tools/cowguard" --help >"$TMP/help"
for opt in $(grep -o -- '--[a-z][a-z-]*' "$TMP/help" | sort -u); do
    grep -q -- "$opt" "$TMP/cowguard.1.txt" || fail "cowguard --help has $opt, cowguard(1) does not"
done
for v in $(grep -o 'COWGUARD_[A-Z_]*[A-Z]=' "$SRC/tools/cowguard.in" | sort -u | tr -d =); do
    grep -q "$v" "$TMP/cowguard.1.txt" || fail "the launcher sets $v, cowguard(1) does not say so"
done
pass "cowguard(1) describes every option of cowguard --help and every variable it sets"

# 5. cowguard(3) names every function the header declares.
for f in $(sed -n 's/^[a-z].*[ *]\(cowguard_[a-z_]*\)(.*COWGUARD_WEAK_;$/\1/p' "$SRC/include/cowguard.h"); do
    grep -q "$f" "$TMP/cowguard.3.txt" || fail "cowguard.h declares $f, cowguard(3) does not describe it"
done
pass "cowguard(3) describes every function of cowguard.h"
