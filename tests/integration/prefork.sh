# COWGUARD_PREFORK=1: everything allocated before the first fork is marked,
# with no API call; children writing their counters are trapped and counted.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_PREFORK=1 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/no_api" counters 3
expect_rc 0 "no_api counters"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
kids = [p for p in r["processes"] if p["role"] == "child"]
assert len(kids) == 3, kids
assert all(p["faults"] >= 1 and p["copied_pages"] >= 1 for p in kids), [(p["faults"], p["copied_pages"]) for p in kids]
assert r["totals"]["frozen_bytes"] >= 256 * 1024, r["totals"]  # the table was allocated before the fork
assert r["sites"] and r["sites"][0]["processes"] == 3, r["sites"][:1]
PY
pass "3 children wrote their pre-fork counters: trapped, copied and attributed"

# The C library's own buffers (stdio, directory streams) are never marked:
# libc fills them with an internal read that a frozen page would fail.
run COWGUARD_PREFORK=1 COWGUARD_POLICY=abort "$PROGS/stdio_child"
expect_rc 0 "stdio_child"
expect_out "child: lines=20000 entries=[0-9]* ok" "stdio_child"
pass "a stream and a directory opened before the fork read fine in the child"
