# More distinct allocation stacks than the site table holds (40,000 against
# 32,767): the program runs as before, the stacks that find no room share
# one "other stacks" entry, and the report says how many did.
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/many_stacks" 40000
expect_rc 0 "many_stacks without cowguard"
run COWGUARD_MIN_SIZE=64 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/many_stacks" 40000
expect_rc 0 "many_stacks"
expect_out "blocks: 40000" "many_stacks"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
lost = r["lost"]["stacks"]
assert 40000 - 32767 <= lost <= 40000 - 30000, lost
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["faults"] == 2 and child["copied_pages"] == 2, child
assert sum(s["pages"] for s in r["sites"]) == 2, r["sites"]
PY
pass "40,000 stacks: the first 32,767 or so recorded, the rest counted as other stacks, both writes attributed"

run COWGUARD_MIN_SIZE=64 "$PROGS/many_stacks" 40000
expect_rc 0 "many_stacks, text report"
[ "$(grep -c 'warning: the site tables were full' "$TMP/err")" -eq 1 ] || fail "expected one warning about the full table"
expect_err 'stacks went to "other stacks"' "text report"
pass "the text report says once that the table of stacks was full"
