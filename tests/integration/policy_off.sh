# COWGUARD_POLICY=off: marked data is still segregated, but nothing is frozen,
# nothing trapped, and no report printed.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=off "$BUILD/examples/lookup_table" -w 4 --write-node
expect_rc 0 "lookup_table --write-node"
[ "$(sorted_list "$(field copied "$TMP/out")")" = "0,0,0,1" ] ||
    fail "segregation: expected one copied node page, got $(field copied "$TMP/out")"
[ ! -s "$TMP/err" ] || fail "policy off printed on stderr"
pass "segregated without freezing: only the written page copied, nothing printed"
