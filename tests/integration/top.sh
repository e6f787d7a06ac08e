# cowguard top: a running tree of three workers, read once from its board.
. "$SRC/tests/integration/lib.sh"
prog="$BUILD/examples/table_counters"
cowguard="$BUILD/tools/cowguard"

"$cowguard" --watch heap -- "$prog" -n 20000 -w 3 -s 5 >"$TMP/prog.out" 2>"$TMP/prog.err" &
pid=$!
# Read the board once a tenth of a second until the three workers have
# done their work (they then wait 5 seconds): one reading is the test.
for i in $(seq 100); do
    rc=0
    "$cowguard" top "$pid" --rounds 1 >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ "$(awk -v p="$pid" '$2 == p && $3 == "running" && $7 > 0' "$TMP/out" | wc -l)" = 3 ] && break
    sleep 0.1
done
wait "$pid" || fail "the program under cowguard failed"
expect_rc 0 "cowguard top"
expect_out "^cowguard top: tree $pid, 4 processes" "the header"
[ "$(grep -c ' running ' "$TMP/out")" = 4 ] || fail "expected 4 running processes"
[ "$(awk -v p="$pid" '$2 == p && $3 == "running" && $7 > 0' "$TMP/out" | wc -l)" = 3 ] ||
    fail "expected 3 workers of $pid with trapped writes"
pass "cowguard top shows the root and its 3 running workers, with their writes"
rc=0
"$cowguard" top 1 --rounds 1 >"$TMP/out" 2>"$TMP/err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "cowguard-report: " "$TMP/err" || fail "a process without a board: status $rc"
pass "a process without a board: $(head -1 "$TMP/err")"
