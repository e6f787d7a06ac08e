# 200 forks while three threads allocate marked and unmarked memory; children
# write frozen pages and allocate. No deadlock (bounded by timeout), no
# corruption, every child accounted for.
. "$SRC/tests/integration/lib.sh"

rc=0
timeout -s KILL 300 env LD_PRELOAD="$CG_LIB" "$PROGS/fork_stress" 200 >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" -ne 137 ] || fail "deadlock: killed after 300 s"
expect_rc 0 "fork_stress"
expect_out "forks=200 failed=0 corrupt=0" "fork_stress"
expect_err "processes: 201;" "report"
pass "200 forks with allocating threads: all children exited 0, no corruption, 201 processes on the board"
