# Every process reports, every report is valid: a program that daemonizes
# with daemon() (whose parent leaves through libc's internal _exit) gets the
# tree's report, from the child that carries on; a JSON report stays valid
# whatever bytes the paths in it hold.
. "$SRC/tests/integration/lib.sh"

# wait_for FILE: the daemon finishes on its own time.
wait_for() {
    for _ in $(seq 200); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    fail "timed out waiting for $1"
}

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/daemonize" "$TMP/done"
expect_rc 0 "daemon(): the parent's exit"
wait_for "$TMP/done"
wait_for "$TMP/r.json"
python3 - "$TMP/r.json" <<'PY' || fail "daemon: report"
import json, sys
r = json.load(open(sys.argv[1]))
procs = r["processes"]
assert len(procs) == 4, [(p["pid"], p["role"], p["exit"]) for p in procs]
root = [p for p in procs if p["role"] == "root"]
assert len(root) == 1 and root[0]["pid"] == r["root_pid"] and root[0]["exit"]["how"] == "_exit", root
assert all(p["exit"]["how"] != "running" for p in procs), [p["exit"] for p in procs]
assert sorted(p["faults"] for p in procs) == [0, 0, 1, 2], [p["faults"] for p in procs]
PY
pass "daemon(): the tree's report has all four processes, written when the daemon exited"

rm -f "$TMP/done"
env LD_PRELOAD="$CG_LIB" "$PROGS/daemonize" "$TMP/done" >"$TMP/out" 2>"$TMP/err"
wait_for "$TMP/done"
for _ in $(seq 100); do grep -q "processes: 4" "$TMP/err" && break; sleep 0.1; done
expect_err "copy-on-write report for process tree" "daemon(), report on stderr"
expect_err "processes: 4" "daemon(), report on stderr"
pass "daemon() with the report on stderr: it reaches the stderr the program started with"

# Paths with bytes that are not UTF-8: the program's own path is in every
# frame of its stacks.
odd=$(printf '%s/odd-\377\376-\303(' "$TMP")
mkdir "$odd"
cp "$PROGS/sneaky" "$odd/prog"
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/odd.json" "$odd/prog"
expect_rc 0 "odd path"
python3 - "$TMP/odd.json" "$odd" <<'PY' || fail "odd path: report"
import json, os, sys
text = open(sys.argv[1], "rb").read()
text.decode("utf-8")  # valid UTF-8 throughout
r = json.loads(text)
want = os.fsencode(sys.argv[2])
objs = {f["object"] for s in r["sites"] for f in s["writer"] + s["allocated"]}
assert any(o.encode("utf-8", "surrogateescape").startswith(want) for o in objs), objs
PY
pass "a path with bytes that are not UTF-8: the JSON report is valid UTF-8, and the bytes come back with surrogateescape"
