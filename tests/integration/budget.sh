# A budget for tests: --max-copied fails a run that copies more, passes
# one that copies less; cowguard-report checks the same on JSON reports.
. "$SRC/tests/integration/lib.sh"
prog="$BUILD/examples/table_counters"
cowguard="$BUILD/tools/cowguard"
report="$SRC/tools/cowguard-report"

rc=0
"$cowguard" --max-copied 1M -- "$prog" -n 20000 -w 2 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 3 "over budget"
expect_out "ok=1" "over budget: the program's output"
expect_err "cowguard: the tree copied .*, more than COWGUARD_MAX_COPIED=1.0 MiB: process [0-9]* copied most" \
    "over budget"
pass "--max-copied 1M: exit status 3, $(grep -c 'more than COWGUARD_MAX_COPIED' "$TMP/err") line"

rc=0
"$cowguard" --max-copied 1G -- "$prog" -n 20000 -w 2 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "within budget"
expect_no_err "more than COWGUARD_MAX_COPIED" "within budget"
pass "--max-copied 1G: exit status 0"

# A program that fails keeps its own status.
rc=0
"$cowguard" --max-copied 1M -- "$prog" -n 1 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 2 "the program's own failure"
pass "a failing program keeps its exit status"

# The same check on a JSON report, naming the writer when the watch saw it.
"$cowguard" --watch heap --report-format json --report "$TMP/r.json" -- "$prog" -n 20000 -w 2 >/dev/null 2>&1
rc=0
python3 "$report" --max-copied 1M "$TMP/r.json" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 3 "cowguard-report over budget"
expect_err "cowguard-report: the tree copied .*, more than --max-copied 1.0 MiB: process [0-9]* copied most .*; most pages written in serve" \
    "cowguard-report over budget"
rc=0
python3 "$report" --max-copied 1G "$TMP/r.json" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "cowguard-report within budget"
pass "cowguard-report --max-copied: 3 over, 0 within"
