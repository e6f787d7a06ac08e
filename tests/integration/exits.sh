# Four children write 10, 20, 30 and 40 frozen pages and leave by exit,
# _exit, SIGKILL and SIGTERM: the root's report lists all four with those
# trapped writes and the two signal deaths. For the two that measured
# themselves, the kernel agrees: copied_pages is what they wrote, and their
# Private_Dirty grew by at least that many pages.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/four_children"
expect_rc 0 "four_children"
python3 - "$TMP/r.json" "$TMP/out" <<'PY' || fail "report"
import json, re, sys
r = json.load(open(sys.argv[1]))
kids = sorted((p for p in r["processes"] if p["role"] == "child"), key=lambda p: p["faults"])
assert [p["faults"] for p in kids] == [10, 20, 30, 40], [p["faults"] for p in kids]
assert [p["exit"]["how"] for p in kids] == ["exit", "_exit", "signal", "signal"], [p["exit"] for p in kids]
assert kids[2]["exit"]["signal"] == 9 and kids[3]["exit"]["signal"] == 15, [p["exit"] for p in kids]
# SIGTERM's default action was left to the program: the child measured
# itself on the way out. SIGKILL cannot be caught: a lower bound.
assert [p["measured"] for p in kids] == [True, True, False, True], [p["measured"] for p in kids]
assert [p["copied_lower_bound"] for p in kids] == [False, False, True, False]
growth = {int(m[0]): (int(m[1]), int(m[2])) for m in
          re.findall(r"child (\d+): pages=(\d+) private_dirty_growth_kb=(-?\d+)", open(sys.argv[2]).read())}
for p in kids[:2] + kids[3:]:
    if p["pid"] not in growth: continue  # the SIGTERM child prints nothing
    pages, kb = growth[p["pid"]]
    assert p["copied_pages"] == pages, (p["pid"], p["copied_pages"], pages)
    assert kb >= pages * 4, f"Private_Dirty grew {kb} kB for {pages} pages"
assert r["totals"]["processes"] == 5 and r["totals"]["faults"] == 100, r["totals"]
PY
pass "faults 10/20/30/40; exit, _exit, SIGKILL, SIGTERM (measured as it died); copied_pages = pages written = kernel's view"

run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/four_children"
grep -q "warning: child [0-9]* was killed by SIGKILL" "$TMP/r.txt" || fail "text report lacks the SIGKILL warning"
grep -q "child  SIGTERM " "$TMP/r.txt" || fail "text report lacks the SIGTERM death"
pass "text report: the signal deaths and their warnings"
