# Programs compiled against cowguard.h run without the library: marking calls
# are no-ops, cowguard_malloc is malloc, nothing is printed by cowguard. And
# the library exports only the interposed symbols and the public API.
. "$SRC/tests/integration/lib.sh"

for prog in "$PROGS/table_write" "$BUILD/examples/lookup_table"; do
    if readelf -d "$prog" 2>/dev/null | grep -q 'NEEDED.*cowguard'; then
        fail "$prog links against libcowguard"
    fi
done
plain "$PROGS/table_write" api child
expect_rc 0 "table_write without the library"
expect_out "parent: child=exit:0 data=ok" "table_write without the library"
[ ! -s "$TMP/err" ] || fail "stderr not empty without the library"
plain "$BUILD/examples/lookup_table" -w 2
expect_rc 0 "lookup_table without the library"
pass "header-only programs run normally without the library"

# Every exported symbol is an interposed libc function named in
# src/interpose/exports.map or part of the API in cowguard.h: nothing internal leaks.
nm -D --defined-only "$CG_LIB" | awk '{print $3}' | sed 's/@.*//' | LC_ALL=C sort -u >"$TMP/exports"
sed -n '/global:/,/local:/p' "$SRC/src/interpose/exports.map" | tr ' ;' '\n\n' | grep -E '^[A-Za-z_][A-Za-z0-9_]*$' |
    grep -v -e '^global$' -e '^local$' | LC_ALL=C sort -u >"$TMP/interposed"
sed -n 's/.*\b\(cowguard_[a-z_]*\)(.*COWGUARD_WEAK_;.*/\1/p' "$SRC/include/cowguard.h" | LC_ALL=C sort -u >"$TMP/api"
[ "$(wc -l <"$TMP/api")" -ge 10 ] || fail "could not read the API from cowguard.h"
LC_ALL=C sort -u "$TMP/interposed" "$TMP/api" >"$TMP/allowed"
LC_ALL=C comm -23 "$TMP/exports" "$TMP/allowed" >"$TMP/out"
[ ! -s "$TMP/out" ] || fail "exported but neither interposed nor API: $(tr '\n' ' ' <"$TMP/out")"
LC_ALL=C comm -13 "$TMP/exports" "$TMP/api" >"$TMP/out"
[ ! -s "$TMP/out" ] || fail "API functions not exported: $(tr '\n' ' ' <"$TMP/out")"
pass "exports: $(wc -l <"$TMP/exports") symbols, the interposed libc functions and the public API only"
