# COWGUARD_SITES marks what a named function allocates, with no API call;
# a glob that matches nothing marks nothing.
. "$SRC/tests/integration/lib.sh"

for glob in build_table 'build_*' 'other,build_tab?e'; do
    run COWGUARD_POLICY=abort COWGUARD_SITES="$glob" "$PROGS/no_api" table 1
    expect_out "worker 0: signal 6" "COWGUARD_SITES=$glob"
    expect_err "allocated by:" "COWGUARD_SITES=$glob"
    expect_err "in build_table" "COWGUARD_SITES=$glob"
done
pass "COWGUARD_SITES=build_table (and globs) marks the table build_table() allocates: the child's write is trapped"

run COWGUARD_POLICY=abort COWGUARD_SITES='nothing_*,libnothing.so' "$PROGS/no_api" table 2
expect_rc 0 "a glob that matches nothing"
[ ! -s "$TMP/err" ] || fail "a glob that matches nothing: cowguard printed something"
pass "a glob that matches nothing marks nothing (no trap, no report)"

run COWGUARD_POLICY=abort COWGUARD_SITES=build_table COWGUARD_SITE_DEPTH=1 "$PROGS/no_api" counters 1
expect_rc 0 "counters are not allocated in build_table"
pass "counters allocated in main() stay unmarked"
