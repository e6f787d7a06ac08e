# Who wrote, and where the data came from: build_table() allocates a marked
# table, a child's sneaky_writer() writes one byte of it. The abort
# diagnostic names both functions; the JSON report's top site has them as
# writer and allocation site, the child copied exactly one page, and the
# frozen bytes cover the table.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=abort "$PROGS/sneaky"
expect_out "child: signal 6" "abort"
expect_err "written by:" "abort diagnostic"
expect_err "#0 0x[0-9a-f]* in sneaky_writer " "abort diagnostic"
expect_err "65536-byte live marked block at 0x[0-9a-f]*, allocated by:" "abort diagnostic"
expect_err "#0 0x[0-9a-f]* in build_table " "abort diagnostic"
pass "abort diagnostic names the writer (sneaky_writer) and the allocation site (build_table)"

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.%p.json" "$PROGS/sneaky"
expect_rc 0 "report"
lines=no
grep -q '^#define HAVE_ELFUTILS_LIBDWFL_H 1' "$BUILD/config.h" && lines=yes
python3 - "$TMP" "$lines" <<'PY' || fail "JSON report"
import glob, json, sys
reports = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/r.*.json")]
tree = [r for r in reports if r["scope"] == "tree"]
assert len(tree) == 1, f"expected one tree report, got {len(reports)} files"
r = tree[0]
top = r["sites"][0]
assert top["writer"][0]["function"] == "sneaky_writer", top["writer"][0]
assert top["allocated"][0]["function"] == "build_table", top["allocated"][0]
assert top["pages"] == 1 and top["processes"] == 1, top
child = [p for p in r["processes"] if p["role"] == "child"]
assert len(child) == 1 and child[0]["copied_pages"] == 1 and child[0]["measured"], child
assert child[0]["exit"] == {"how": "_exit", "code": 0, "signal": None}, child[0]["exit"]
assert r["totals"]["frozen_bytes"] >= 65536, r["totals"]
assert r["totals"]["copied_pages"] == 1, r["totals"]
if sys.argv[2] == "yes":  # built with libdwfl: file and line from the debug info
    assert top["writer"][0].get("file", "").endswith("sneaky.c") and top["writer"][0]["line"] > 0, top["writer"][0]
own = [x for x in reports if x["scope"] == "process"]
assert len(own) == 1 and own[0]["processes"][0]["pid"] == child[0]["pid"], "the child's own report"
PY
pass "JSON: top site sneaky_writer <- build_table, child copied_pages 1, frozen_bytes >= table"
