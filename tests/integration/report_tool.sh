# cowguard-report on per-process JSON reports: the merged text names the
# writer, --folded lines parse, --svg is valid XML; bad input gets one line
# and a non-zero exit.
. "$SRC/tests/integration/lib.sh"
tool="$SRC/tools/cowguard-report"

run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/a.%p.json" "$PROGS/sneaky"
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/b.%p.json" "$PROGS/four_children"
set -- "$TMP"/a.*.json "$TMP"/b.*.json

python3 "$tool" "$@" >"$TMP/text" || fail "cowguard-report failed"
grep -q "sneaky_writer" "$TMP/text" || fail "merged text does not name the writer"
grep -q "processes: 7;" "$TMP/text" || fail "merged text: expected 7 processes in two trees"
pass "merged text report names sneaky_writer; 7 processes in 2 trees"

python3 "$tool" --folded "$@" >"$TMP/folded" || fail "--folded failed"
python3 - "$TMP/folded" <<'PY' || fail "--folded output"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no folded lines"
for line in lines:
    stack, count = line.rsplit(" ", 1)
    assert int(count) > 0 and all(stack.split(";")), line
assert any(l.split(" ")[0].endswith(";sneaky_writer") for l in lines), lines
PY
pass "--folded: $(wc -l <"$TMP/folded") lines of frame;frame;... count, innermost last"

python3 "$tool" --svg "$TMP/p.svg" "$@" || fail "--svg failed"
python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg"); assert len(r.findall(".//{http://www.w3.org/2000/svg}rect")) > 7' "$TMP/p.svg" ||
    fail "--svg is not a valid SVG picture"
pass "--svg: a valid SVG"

printf '{"cowguard": "0.1.0", "root_pid": ' >"$TMP/bad.json"
rc=0
python3 "$tool" "$TMP/bad.json" >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" -ne 0 ] || fail "truncated JSON accepted"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && expect_err "cowguard-report: .*bad.json: not a JSON report" "bad input"
pass "truncated JSON: one line, exit $rc"
