# COWGUARD_POLICY=abort: a worker that writes frozen data dies by SIGABRT
# with a diagnostic naming the address and the block; the others run on.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=abort "$BUILD/examples/lookup_table" -w 4 --write-node
expect_rc 1 "lookup_table --write-node"
expect_out "worker 1 was killed by signal 6" "lookup_table --write-node"
[ "$(field copied "$TMP/out")" = "0,0,0" ] || fail "the other workers copied node pages: $(field copied "$TMP/out")"
expect_err "ERROR: cowguard: write to frozen memory at 0x[0-9a-f]* in child" "diagnostic"
expect_err "bytes inside a 48-byte live marked block at 0x" "diagnostic"
expect_err "ABORTING" "diagnostic"
pass "the writing worker got SIGABRT and the diagnostic; three workers copied nothing"

run COWGUARD_POLICY=abort "$PROGS/table_write" api child
expect_rc 3 "table_write api child"
expect_out "parent: child=signal:6 data=ok" "table_write api child"
pass "a child writing a cowguard_malloc table dies by SIGABRT; the parent's data is intact"
