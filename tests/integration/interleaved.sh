# A lookup table interleaved with mutable counters, read by 4 forked workers
# that write their counters. The kernel (pagemap bit 56) decides what was
# copied: with plain malloc every node page, under cowguard none.
. "$SRC/tests/integration/lib.sh"
prog="$BUILD/examples/lookup_table"

plain "$prog" -w 4
expect_rc 0 "plain run"
pages=$(field node_pages "$TMP/out")
[ "$(field copied "$TMP/out")" = "$pages,$pages,$pages,$pages" ] ||
    fail "plain malloc: expected all $pages node pages copied in each worker, got $(field copied "$TMP/out")"
pass "plain malloc: each worker copied all $pages node pages"

run "$prog" -w 4
expect_rc 0 "under cowguard"
expect_out "ok=1" "under cowguard"
[ "$(field copied "$TMP/out")" = "0,0,0,0" ] ||
    fail "under cowguard: expected no node page copied, got $(field copied "$TMP/out")"
pass "under cowguard: no node page copied ($(field node_pages "$TMP/out") pages shared by 5 processes)"

expect_err "cowguard 0.1.0: copy-on-write report for process tree [0-9]* (policy report)" "report"
expect_err "processes: 5; .* trapped writes: 0$" "report"
pass "the root's report covers 5 processes, no trapped write"
