# A child writing 131,072 scattered pages of a frozen 1 GiB table: single-
# page thaws would need twice as many mappings as vm.max_map_count allows.
# It runs to completion with correct data, and the kernel's count of copied
# pages is exactly the pages it wrote.
. "$SRC/tests/integration/lib.sh"

limit=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/scatter" 1024 2
expect_rc 0 "scatter"
expect_out "child: pages=131072 ok" "scatter"
expect_out "table intact" "scatter"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["measured"] and child["copied_pages"] == 131072, child
assert child["private_dirty_kb"] >= 131072 * 4, child
PY
pass "131072 scattered pages written (vm.max_map_count $limit): completed, data right, copied_pages 131072"
