# Processes that are not workers, and trees that outlive their root.
. "$SRC/tests/integration/lib.sh"
json() { python3 -c "import json, sys; r = json.load(open(sys.argv[1])); $2" "$1"; }

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/s.json" "$PROGS/lifecycle" spawn
expect_rc 0 "spawn"
expect_out "spawned 3" "spawn"
json "$TMP/s.json" '
p = r["processes"]
assert len(p) == 1 and p[0]["role"] == "root", p
assert p[0]["exit"] == {"how": "exit", "code": 0, "signal": None}, p[0]["exit"]
assert p[0]["faults"] == 1, p[0]' || fail "spawn report"
pass "posix_spawn and vfork children are neither frozen nor counted; a vfork child's _exit leaves the parent's record alone"

run COWGUARD_POLICY=abort COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/e.json" "$PROGS/lifecycle" exec
expect_rc 0 "exec"
expect_out "^policy=abort$" "exec"
json "$TMP/e.json" '
kid = [p for p in r["processes"] if p["role"] == "child"]
assert len(kid) == 1 and kid[0]["exit"]["how"] == "exit" and kid[0]["exit"]["code"] == 0, kid
assert not kid[0]["measured"], kid' || fail "exec report"
pass "after exec the new image starts clean with the inherited variables; the tree's report shows the child's exit"

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/g.json" "$PROGS/lifecycle" grandchild
expect_rc 0 "grandchild"
json "$TMP/g.json" '
p = {x["pid"]: x for x in r["processes"]}
root = [x for x in p.values() if x["role"] == "root"][0]
kid = [x for x in p.values() if x["ppid"] == root["pid"]][0]
grand = [x for x in p.values() if x["ppid"] == kid["pid"]][0]
assert (kid["faults"], grand["faults"]) == (1, 2), (kid, grand)
assert grand["copied_pages"] == 2 and grand["measured"], grand' || fail "grandchild report"
pass "a grandchild is in the tree's report, under its parent, with its own writes"

run COWGUARD_REPORT="$TMP/o.%p.txt" "$PROGS/lifecycle" orphan
expect_rc 0 "orphan"
child=$(sed -n 's/^root leaves, child \([0-9]*\) runs on$/\1/p' "$TMP/out")
for i in $(seq 1 100); do [ -f "$TMP/o.$child.txt" ] && break; sleep 0.1; done
[ -f "$TMP/o.$child.txt" ] || fail "the orphan wrote no report of its own"
root_report=$(ls "$TMP"/o.*.txt | grep -v "o.$child.txt")
grep -q "warning: child $child had not exited" "$root_report" || fail "the root's report does not say the child ran on"
grep -q "trapped writes: 5$" "$TMP/o.$child.txt" || fail "the orphan's own report lacks its 5 trapped writes"
pass "the root left first: its report says the child ran on; the child's own report (%p) has its numbers"
