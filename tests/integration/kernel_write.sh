# The kernel writing frozen memory for the program (read, pread, preadv,
# readv, recv) would fail with EFAULT; cowguard thaws the pages first and
# counts the writes. Under abort, such a write is reported like any other.
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/kernel_write"
expect_rc 0 "without cowguard"
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/kernel_write"
expect_rc 0 "under cowguard"
expect_out "child: ok" "under cowguard"
expect_out "table intact" "under cowguard"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["faults"] == 6 and child["copied_pages"] == 6, child  # pages 0, 1, 3, 6, 9, 12
assert all(s["writer"][0]["function"] == "main" for s in r["sites"]), r["sites"]
PY
pass "read, pread, preadv, readv and recv into frozen pages: no EFAULT, 6 pages trapped and copied"

run COWGUARD_POLICY=abort "$PROGS/kernel_write"
expect_out "parent: child signal 6" "abort"
expect_err "written by the kernel, for a read-family call made:" "abort"
pass "under abort, a read() into frozen memory is reported and aborts"
