# A Python multiprocessing Pool (fork context, a context manager) whose
# workers write a buffer the parent built: every worker is in the root's
# report, with its trapped writes attributed to CPython's bytearray code.
. "$SRC/tests/integration/lib.sh"

for py in /usr/bin/python3 python3; do command -v "$py" >/dev/null 2>&1 && break; done
rc=0
env LD_PRELOAD="$CG_LIB" PYTHONMALLOC=malloc COWGUARD_MIN_SIZE=1M COWGUARD_REPORT_FORMAT=json \
    COWGUARD_REPORT="$TMP/r.%p.json" "$py" "$SRC/tests/progs/pool_writer.py" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "pool_writer.py"
expect_out "^workers [1-4]$" "pool_writer.py"
python3 - "$TMP" <<'PY' || fail "report"
import glob, json, sys
reports = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/r.*.json")]
tree = [r for r in reports if r["scope"] == "tree"]
assert len(tree) == 1, "one tree report"
r = tree[0]
workers = [p for p in r["processes"] if p["role"] == "child"]
assert len(workers) == 4, f"{len(workers)} workers in the report"
# 256 tasks, each writing its own page once: 256 trapped writes, whichever
# workers ran them.
assert sum(p["faults"] for p in workers) == 256, [p["faults"] for p in workers]
assert r["totals"]["copied_pages"] == 256, r["totals"]
assert r["totals"]["frozen_bytes"] >= 8 << 20, r["totals"]
assert all(p["exit"]["how"] in ("_exit", "signal") for p in workers), [p["exit"] for p in workers]
# The buffer was allocated by CPython's bytearray code (an exported function,
# so it is named even in a stripped python3).
alloc = {f["function"] for s in r["sites"] for f in s["allocated"]}
assert "PyByteArray_Resize" in alloc, alloc
assert all(s["writer"] for s in r["sites"]), "a site without a writer stack"
PY
pass "all 4 Pool workers in the root's report, 256 trapped writes into the buffer PyByteArray_Resize allocated"
