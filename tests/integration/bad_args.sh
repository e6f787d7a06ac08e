# Bad pointers: calls cowguard wraps fail with EFAULT exactly as without it;
# a fault inside cowguard's own code (a bad argument to cowguard_stats) is
# named as such before the program dies as it would.
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/bad_args"
expect_rc 0 "without cowguard"
cp "$TMP/out" "$TMP/expected"
run "$PROGS/bad_args"
expect_rc 0 "under cowguard"
cmp -s "$TMP/out" "$TMP/expected" || fail "results differ: $(cat "$TMP/out") vs $(cat "$TMP/expected")"
pass "readv, recvmsg, recvfrom with bad pointers: $(cat "$TMP/out"), as without cowguard"

run "$PROGS/bad_args" stats
expect_rc 139 "bad pointer to cowguard_stats"
expect_err "fault at 0x[0-9a-f]* in cowguard's own code (address 0x8)" "bad pointer to cowguard_stats"
pass "a fault in cowguard's code is named as such; the program dies by SIGSEGV"
