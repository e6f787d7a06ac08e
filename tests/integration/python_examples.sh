# The Python examples (docs/examples) under the launcher, as their users would run them.
#  pool_bin_cache.py: a dict of 200,000 bin() strings built inside cowguard.readonly(),
#    read by a fork Pool of 4: frozen bytes cover the dict; CPython's
#    reference counting copies pages, and the top site names the Python
#    line that read them, the line that built them, and the cause refcount.
#  pool_numpy.py: a 400 MB NumPy array read by 4 fork workers as a global, marked
#    by COWGUARD_MIN_SIZE=1M alone: at least 390 MB frozen, a few MB at most
#    copied, all 4 workers in the report.
. "$SRC/tests/integration/lib.sh"
cg="$BUILD/tools/cowguard"
ex="$SRC/docs/examples"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

rc=0
"$cg" --python --report-format json --report "$TMP/a.%p.json" -- "$py" "$ex/pool_bin_cache.py" \
    >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "pool_bin_cache.py"
bytes=$(sed -n 's/^RESULT dict_bytes=\([0-9]*\) .*/\1/p' "$TMP/out")
python3 - "$TMP" "$bytes" <<'PY' || fail "pool_bin_cache.py report"
import glob, json, sys
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/a.*.json")) if x["scope"] == "tree"][0]
t = r["totals"]
assert t["frozen_bytes"] >= int(sys.argv[2]), (t, sys.argv[2])
assert t["copied_bytes"] > 0, t
assert len([p for p in r["processes"] if p["role"] == "child"]) == 4
def py(frames): return [(f["file"].rsplit("/", 1)[-1], f["function"]) for f in frames if f.get("python")]
top = r["sites"][0]
assert top["cause"] == "refcount", top["cause"]
assert py(top["writer"])[0] == ("pool_bin_cache.py", "func"), py(top["writer"])
assert ("pool_bin_cache.py", "main.<locals>.<dictcomp>") in py(top["allocated"]) or \
       ("pool_bin_cache.py", "<dictcomp>") in py(top["allocated"]) or \
       ("pool_bin_cache.py", "main") in py(top["allocated"]), py(top["allocated"])
assert r["causes"]["refcount"]["pages"] * 2 >= t["copied_pages"], (r["causes"], t)
PY
pass "pool_bin_cache.py: $bytes bytes of dict frozen; reference counts written by func() copied pages of the dict main() built"

if ! "$py" -c 'import numpy' 2>/dev/null; then
    echo "skip: pool_numpy.py needs NumPy for $py (Debian: python3-numpy)"
    exit 0
fi
rc=0
COWGUARD_MIN_SIZE=1M "$cg" --report-format json --report "$TMP/b.%p.json" -- "$py" "$ex/pool_numpy.py" global 400 \
    >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "pool_numpy.py"
python3 - "$TMP" <<'PY' || fail "pool_numpy.py report"
import glob, json, sys
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/b.*.json")) if x["scope"] == "tree"][0]
t = r["totals"]
assert t["frozen_bytes"] >= 390 << 20, t
assert t["copied_bytes"] <= 4 << 20, t
kids = [p for p in r["processes"] if p["role"] == "child"]
assert len(kids) == 4, kids
# Workers that Pool.terminate() killed did not measure themselves.
assert all(p["private_dirty_kb"] < 16 * 1024 for p in kids if p["measured"]), kids
PY
pass "pool_numpy.py: >= 390 MB frozen, <= 4 MB copied, 4 workers, those measured under 16 MB private"

# Seed 003's mistake: the instance (self) passed to the workers is pickled
# into every task. The helper says so once, naming the type; passing it as a
# global (above) draws no such line.
rc=0
COWGUARD_MIN_SIZE=1M "$cg" --python --report off -- "$py" "$ex/pool_numpy.py" self 40 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "pool_numpy.py self"
expect_err "^cowguard: MyClass instance, 40.[0-9] MiB, pickled into 4 tasks: not shared; make it a global before the Pool forks$" "pool_numpy.py self"
[ "$(grep -c "pickled into" "$TMP/err")" -eq 1 ] || fail "pool_numpy.py self: said more than once: $(cat "$TMP/err")"
COWGUARD_MIN_SIZE=1M "$cg" --python --report off -- "$py" "$ex/pool_numpy.py" global 40 >"$TMP/out" 2>"$TMP/err" || rc=$?
! grep -q "pickled into" "$TMP/err" || fail "pool_numpy.py global: $(cat "$TMP/err")"
pass "pool_numpy.py self: the pickled MyClass instance named once; as a global, nothing said"
