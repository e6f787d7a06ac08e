# No address space for the arena: one warning, then everything passes through
# and the program runs as without cowguard.
. "$SRC/tests/integration/lib.sh"

rc=0
(ulimit -v 4194304 && env LD_PRELOAD="$CG_LIB" COWGUARD_POLICY=abort COWGUARD_ARENA_MAX=64T \
    "$PROGS/table_write" api child) >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "table_write with no room for the arena"
expect_out "parent: child=exit:0 data=ok" "table_write with no room for the arena"
[ "$(grep -c 'cowguard' "$TMP/err")" -eq 1 ] || fail "expected exactly one cowguard line on stderr"
expect_err "cannot reserve 67108864M of address space for marked data" "warning"
pass "reservation refused: one warning, marked allocations passed through, program unchanged"
