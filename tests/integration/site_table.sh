# More distinct allocation stacks than the site table holds for them
# (250,000 against 196,608: three quarters of its 262,144 entries, the rest
# kept for writers): the program runs as before, the stacks that find no
# room share one "other stacks" entry, and the report says how many did.
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/many_stacks" 250000
expect_rc 0 "many_stacks without cowguard"
run COWGUARD_MIN_SIZE=64 COWGUARD_BACKTRACE=24 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" \
    "$PROGS/many_stacks" 250000
expect_rc 0 "many_stacks"
expect_out "blocks: 250000" "many_stacks"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
lost = r["lost"]["stacks"]
assert 250000 - 196608 <= lost <= 250000 - 190000, lost
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["faults"] == 2 and child["copied_pages"] == 2, child
assert sum(s["pages"] for s in r["sites"]) == 2, r["sites"]
PY
pass "250,000 stacks: the first 196,608 or so recorded, the rest counted as other stacks, both writes attributed"

run COWGUARD_MIN_SIZE=64 COWGUARD_BACKTRACE=24 "$PROGS/many_stacks" 250000
expect_rc 0 "many_stacks, text report"
[ "$(grep -c 'warning: the site tables were full' "$TMP/err")" -eq 1 ] || fail "expected one warning about the full table"
expect_err 'stacks went to "other stacks"' "text report"
pass "the text report says once that the table of stacks was full"
