# A thread remembers the allocation stacks it has seen (attrib/sitecache.c)
# and recognises one again by reading its return-address slots instead of
# unwinding. One function allocates along three interleaved paths that
# differ only from the third frame on, one through a frame whose size
# changes at every call (alloca), one on a coroutine's stack: each block must still get the stack it was allocated
# on. The child writes only the blocks of one path; every copied page the
# kernel counts must be attributed to that path.
. "$SRC/tests/integration/lib.sh"

n=1500
plain "$PROGS/site_paths" $n
expect_rc 0 "site_paths without cowguard"
run COWGUARD_MIN_SIZE=8192 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/site_paths" $n
expect_rc 0 "site_paths"
expect_out "blocks: $((3 * n))" "site_paths"
python3 - "$TMP/r.json" $n <<'PY' || fail "report"
import json, sys
r, n = json.load(open(sys.argv[1])), int(sys.argv[2])
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["copied_pages"] == n, child  # the first page of each via_b block
assert sum(s["pages"] for s in r["sites"]) == n, r["sites"]
for s in r["sites"]:
    names = [f.get("function") for f in s["allocated"]]
    assert "via_b" in names and "mid" in names and "leaf" in names, names
    assert "via_a" not in names and "via_fiber" not in names, names
assert r["lost"]["stacks"] == 0, r["lost"]
PY
pass "$n pages written in blocks of via_b (alloca'd frames), all attributed to via_b, none to via_a or the coroutine's via_fiber"
