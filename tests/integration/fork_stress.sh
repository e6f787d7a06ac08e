# 200 forks while three threads allocate marked and unmarked memory; children
# write frozen pages and allocate, and every fifth is killed by SIGKILL
# wherever it is. No deadlock (bounded by timeout), no corruption, and every
# child in the report, the killed ones as killed.
. "$SRC/tests/integration/lib.sh"

rc=0
timeout -s KILL 300 env LD_PRELOAD="$CG_LIB" COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" \
    "$PROGS/fork_stress" 200 >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" -ne 137 ] || fail "deadlock: killed after 300 s"
expect_rc 0 "fork_stress"
expect_out "forks=200 killed=40 failed=0 corrupt=0" "fork_stress"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
kids = [p for p in r["processes"] if p["role"] == "child"]
assert len(kids) == 200, len(kids)
how = sorted((p["exit"]["how"], p["exit"]["signal"] or p["exit"]["code"]) for p in kids)
assert how.count(("signal", 9)) == 40 and how.count(("_exit", 0)) == 160, set(how)
PY
pass "200 forks with allocating threads, 40 children killed: no deadlock, no corruption, all 200 in the report as they ended"
