# Python frames and causes: a worker reads a marked dict, collects a marked
# list of lists, or writes a marked bytearray. The tree's JSON report must
# name the Python line that wrote and the one that allocated, and the cause
# (refcount, gc, data); the copies are the kernel's (pagemap, as counted
# by the freeze layer). Runs on whatever /usr/bin/python3 is: 3.11 here,
# 3.9 and 3.13 in the roots of make check-distros.
. "$SRC/tests/integration/lib.sh"

# A CPython whose layout cowguard does not know (3.12, said by a program
# that exports Py_GetVersion): native stacks, and one line saying why.
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/f.json" "$PROGS/fake_python"
expect_rc 0 "fake_python"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["python"] == {"version": "3.12", "frames": False}, r["python"]
assert r["totals"]["copied_pages"] == 1, r["totals"]
assert all(not f.get("python") for s in r["sites"] for f in s["writer"] + s["allocated"]), r["sites"]
' "$TMP/f.json" || fail "fake_python: JSON report"
run "$PROGS/fake_python"
expect_err "note: Python 3.12 is not a version whose frames cowguard reads" "fake_python: text report"
run FAKE_PY_VERSION="3.13.1 experimental free-threading build (main, Jan  1 2026, 00:00:00)" "$PROGS/fake_python"
expect_err "note: Python 3.13 (free-threaded build) is not a version whose frames cowguard reads" "fake_python: free-threaded"
pass "an unknown CPython (3.12, or a free-threaded 3.13): native stacks, and the report says why"

py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
prog="$SRC/tests/progs/py_frames.py"

# probe: the bytearray starts like an object with a type pointer to nowhere,
# under faulthandler (an alternate signal stack): reading it faults inside
# cowguard's handler, and the write must go on all the same, as data.
for mode in read gc data probe; do
    rm -f "$TMP"/r.*.json
    rc=0
    # The helper without the launcher: it routes CPython's allocator, but
    # does not apply gc.freeze() before the fork (the gc case needs that).
    env LD_PRELOAD="$CG_LIB" PYTHONPATH="$SRC/tools/python" COWGUARD_REPORT_FORMAT=json PYTHONFAULTHANDLER=1 \
        COWGUARD_REPORT="$TMP/r.%p.json" timeout 60 "$py" "$prog" "$mode" >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect_rc 0 "py_frames.py $mode"
    expect_out "^worker 0$" "py_frames.py $mode"
    built=$(grep -n "# BUILT $mode\$" "$prog" | cut -d: -f1)
    touched=$(grep -n "# TOUCHED $mode\$" "$prog" | cut -d: -f1)
    python3 - "$TMP" "$mode" "$built" "$touched" <<'PY' || fail "$mode: report"
import glob, json, sys
tmp, mode, built, touched = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tree = [r for r in map(lambda p: json.load(open(p)), glob.glob(tmp + "/r.*.json")) if r["scope"] == "tree"]
assert len(tree) == 1, "one tree report"
r = tree[0]
assert r["python"] and r["python"]["frames"], r["python"]
worker = [p for p in r["processes"] if p["role"] == "child"][0]
assert worker["copied_pages"] > 0, worker
sites = [s for s in r["sites"] if s["phase"] == "work" and s["pages"]]
top = sites[0]
def py(frames):
    return [(f["file"].rsplit("/", 1)[-1], f["line"], f["function"]) for f in frames if f.get("python")]
w, a = py(top["writer"]), py(top["allocated"])
want_cause = {"read": "refcount", "gc": "gc", "data": "data", "probe": "data"}[mode]
want_fn = {"read": "reader", "gc": "collector", "data": "writer", "probe": "prober"}[mode]
assert top["cause"] == want_cause, (top["cause"], top["pages"], r["causes"])
assert w and w[0] == ("py_frames.py", touched, want_fn), w
assert any(f[:2] == ("py_frames.py", built) for f in a), a
assert any(f[2] == "build" for f in a), a
# The kernel agrees: the worker's private memory grew by at least what the
# report says it copied.
import re
growth = int(re.search(r"private_dirty_growth_kb (-?\d+)", open(tmp + "/err").read()).group(1))
assert growth >= worker["copied_pages"] * 4 * 0.9, (growth, worker["copied_pages"])
# The parent tears its objects down after it reaped the worker: nobody
# shares its pages then, they were thawed, and the teardown traps nothing.
root = [p for p in r["processes"] if p["role"] == "root"][0]
assert root["faults"] <= 10 and root["copied_pages"] == 0, root
# Most of what the worker copied is this site's cause.
assert r["causes"][want_cause]["pages"] * 2 >= worker["copied_pages"], (r["causes"], worker["copied_pages"])
print(mode, top["pages"], "pages", top["cause"], w[0], a[0])
PY
    cat "$TMP/err" >&2
done
# Under the launcher's --python, gc.freeze() runs before every fork: the
# same collection in the worker writes no header of the marked lists.
rm -f "$TMP"/r.*.json
rc=0
"$BUILD/tools/cowguard" --python --report-format json --report "$TMP/r.%p.json" -- "$py" "$prog" gc \
    >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "py_frames.py gc under --python"
python3 - "$TMP" <<'PY' || fail "gc under --python: report"
import glob, json, sys
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/r.*.json")) if x["scope"] == "tree"][0]
assert "gc" not in r["causes"], r["causes"]
print("gc under --python:", r["causes"])
PY

# The allocator cowguard is put in front of may take its memory from
# malloc, which cowguard marks under --prefork: PYTHONMALLOC=malloc_debug
# hands out such a block 16 bytes in, and it must go back to that allocator.
for pm in malloc_debug malloc pymalloc; do
    rc=0
    PYTHONMALLOC=$pm "$BUILD/tools/cowguard" --python --prefork --report off -- "$py" -c '
import os
objs = [str(i) * 3 for i in range(20000)]
pid = os.fork()
if pid == 0:
    del objs
    os._exit(0)
_, status = os.waitpid(pid, 0)
del objs
print("exit", status)' >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect_rc 0 "PYTHONMALLOC=$pm under --python --prefork"
    expect_out "^exit 0$" "PYTHONMALLOC=$pm under --python --prefork"
done

# cowguard.freeze(obj): on 3.12 and later the same read copies (almost)
# nothing, by the report and by the kernel; before 3.12 it refuses.
rm -f "$TMP"/r.*.json
rc=0
env LD_PRELOAD="$CG_LIB" PYTHONPATH="$SRC/tools/python" COWGUARD_REPORT_FORMAT=json \
    COWGUARD_REPORT="$TMP/r.%p.json" "$py" "$prog" freeze >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "py_frames.py freeze"
if grep -q "^refused" "$TMP/out"; then
    expect_out "needs CPython 3.12 or 3.13" "py_frames.py freeze (before 3.12)"
    echo "freeze(obj): refused on this version, as documented"
else
    expect_out "^immortal [0-9]" "py_frames.py freeze"
    python3 - "$TMP" <<'PY' || fail "freeze: report"
import glob, json, re, sys
tmp = sys.argv[1]
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(tmp + "/r.*.json")) if x["scope"] == "tree"][0]
worker = [p for p in r["processes"] if p["role"] == "child"][0]
growth = int(re.search(r"private_dirty_growth_kb (-?\d+)", open(tmp + "/err").read()).group(1))
# Unfrozen, this read copies about 2,300 pages (9 MiB): at most 5% of that.
assert worker["copied_pages"] <= 115, worker
assert growth <= 115 * 4 + 1024, growth  # the kernel: what the read made private, the worker's own 1 MiB aside
print("freeze(obj):", worker["copied_pages"], "pages copied,", growth, "kB private growth")
PY
fi
pass "Python lines and causes in the report: refcount, gc, data, and data behind a read that faults, on $("$py" -c 'import sys; print(sys.version.split()[0])')"
