# What a child copied outside marked data, by kind of mapping: cowguard's
# rows against the kernel's count, which the child reads itself (pagemap
# bit 56) for the heap, an anonymous mapping and a library's data. Nothing
# is marked: the report appears all the same (COWGUARD_MEASURE=all).
. "$SRC/tests/integration/lib.sh"
prog="$PROGS/space_probe"

run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$prog" -h 10 -a 20 -l 30
expect_rc 0 "the probe"
heap=$(field heap "$TMP/out") anon=$(field anon "$TMP/out") lib=$(field lib "$TMP/out")
[ "$heap" = 10 ] && [ "$anon" = 20 ] && [ "$lib" = 30 ] ||
    fail "the kernel's count in the child: heap=$heap anon=$anon lib=$lib, expected 10, 20, 30"
rows=$(python3 - "$TMP/r.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(m["kind"], m["object"]): m["pages"] for m in d["outside"]["mappings"]}
child = [p for p in d["processes"] if p["role"] == "child"][0]
print(rows.get(("heap", None), 0), rows.get(("anonymous", None), 0), rows.get(("data", "libspace_lib.so"), 0),
      child["outside_copied_pages"], d["totals"]["all_copied_pages"], d["totals"]["outside_copied_pages"])
PY
) || fail "the JSON report: $(head -c 300 "$TMP/r.json")"
set -- $rows
[ "$1" = "$heap" ] || fail "heap: cowguard says $1 pages, the kernel $heap"
[ "$3" = "$lib" ] || fail "libspace_lib.so's data: cowguard says $3 pages, the kernel $lib"
# Other anonymous memory (the loader's, the C library's) may add a few pages.
[ "$2" -ge "$anon" ] && [ "$2" -le $((anon + 8)) ] || fail "anonymous: cowguard says $2 pages, the kernel $anon (+8 at most)"
[ "$4" -ge $((heap + anon + lib)) ] && [ "$5" = "$6" ] ||
    fail "totals: the child's $4 pages, all $5, outside $6"
pass "heap $1 = $heap, anonymous $2 ~ $anon, library data $3 = $lib pages; totals include them ($5 pages)"

# The text form, and the same without a single write: one line.
run COWGUARD_MEASURE=all "$prog" -h 10 -a 20 -l 30
expect_err "copied outside marked data: .* in the 1 child that measured itself" "text"
expect_err "data of libspace_lib.so  *120.0 KiB (30 pages) in 1 process" "text"
pass "the text report has the section, nothing marked"
run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/none.json" "$prog" -h 0 -a 0 -l 0
expect_rc 0 "no writes"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["totals"]["outside_copied_pages"] < 16 else 1)' \
    "$TMP/none.json" || fail "a child that writes nothing copied $(grep -o '"outside_copied_pages": [0-9]*' "$TMP/none.json" | head -1)"
pass "a child that writes nothing copies next to nothing"

# A child ended by SIGTERM (as a Pool ends its workers) measures itself too.
run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/term.json" "$prog" -h 10 -a 20 -l 30 -t
expect_rc 0 "SIGTERM"
python3 - "$TMP/term.json" <<'PY' || fail "a child ended by SIGTERM: $(head -c 400 "$TMP/term.json")"
import json, sys
d = json.load(open(sys.argv[1]))
c = [p for p in d["processes"] if p["role"] == "child"][0]
assert c["exit"]["how"] == "signal" and c["exit"]["signal"] == 15, c["exit"]
assert c["measured"] and (c["outside_copied_pages"] or 0) >= 60, c
PY
pass "a child ended by SIGTERM measured what it copied"

# Without COWGUARD_MEASURE=all, a program that marks nothing stays silent.
run "$prog" -h 10 -a 20 -l 30
expect_rc 0 "plain preload"
[ ! -s "$TMP/err" ] || fail "nothing marked, no COWGUARD_MEASURE: stderr is not empty"
pass "without COWGUARD_MEASURE=all nothing is printed"

# A program's teardown (what exit()'s atexit handlers write) is counted
# apart from what the child copied while it worked: 1 MiB then 7 MiB, by
# the kernel's bit 56 at each moment.
run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/td.json" "$PROGS/quiet" teardown
expect_rc 0 "teardown"
expect_out "quiet: teardown done" "teardown"
set -- $(child_outside "$TMP/td.json")
work=$1 late=$2
[ "$work" -ge 256 ] && [ "$work" -le 320 ] || fail "teardown: $work pages while working, expected 256 (1 MiB) and a few"
[ "$late" -ge 1792 ] && [ "$late" -le 1856 ] || fail "teardown: $late pages during exit, expected 1792 (7 MiB) and a few"
python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["outside"]["exit_copied_pages"] == int(sys.argv[2])' \
    "$TMP/td.json" "$late" || fail "teardown: outside.exit_copied_pages is not the child's $late"
echo "$work pages while working, $late during exit" >"$TMP/check"
pass "teardown counted apart: $(cat "$TMP/check")"

# The same under the watch: the teardown's first writes are sites of the
# exit, apart from those made while the child worked.
run COWGUARD_MEASURE=all COWGUARD_WATCH=heap COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/tdw.json" \
    "$PROGS/quiet" teardown
expect_rc 0 "watched teardown"
python3 - "$TMP/tdw.json" <<'PY' >"$TMP/check" || fail "watched teardown: $(cat "$TMP/check")"
import json, sys
d = json.load(open(sys.argv[1]))
work = sum(s["pages"] for s in d["sites"] if s["watched"] and s["phase"] == "work")
late = sum(s["pages"] for s in d["sites"] if s["watched"] and s["phase"] == "exit")
assert 256 <= work <= 256 + 64, f"watched while working: {work} pages"
assert 1792 <= late <= 1792 + 64, f"watched during exit: {late} pages"
print(f"{work} first writes while working, {late} during exit")
PY
pass "watched teardown counted apart: $(cat "$TMP/check")"
