# COWGUARD_POLICY=report (the default): a trapped write is counted, the page
# is copied, the program goes on and every process sees its own data.
. "$SRC/tests/integration/lib.sh"

run "$BUILD/examples/lookup_table" -w 4 --write-node
expect_rc 0 "lookup_table --write-node"
expect_out "ok=1" "lookup_table --write-node"
[ "$(sorted_list "$(field copied "$TMP/out")")" = "0,0,0,1" ] ||
    fail "expected exactly one copied node page, in one worker: $(field copied "$TMP/out")"
expect_err "copied: 4.0 KiB (1 page) while working; trapped writes: 1$" "report"
pass "one write, one page copied (pagemap), one trapped write reported; data correct everywhere"

run "$PROGS/table_write" api child
expect_rc 0 "table_write api child"
expect_out "child: wrote=1 exclusive_pages=1 data=ok" "table_write api child"
expect_out "parent: child=exit:0 data=ok" "table_write api child"
pass "the child's write went through, copying 1 page of 256; the parent's table is unchanged"

run COWGUARD_VERBOSE=1 "$PROGS/table_write" api child
expect_err "trapped write at 0x[0-9a-f]* (524288 bytes into the block at 0x" "COWGUARD_VERBOSE=1"
pass "COWGUARD_VERBOSE=1 prints one line per trapped write"
