# A smoke run of make bench: small sizes, one pair each. Timing is not
# judged here (the machine is shared and noisy); the suite must run and
# print every row of the table with its ratio.
. "$SRC/tests/integration/lib.sh"
python3 "$SRC/tools/bench.py" --build "$BUILD" --quick >"$TMP/out" 2>"$TMP/err" || fail "bench.py --quick failed"
for row in "pass-through, C, 1 thread" "pass-through, C, 2 threads" "pass-through, Python" \
    "marked allocation, 1 thread" "marked allocation, 2 threads" "site capture" \
    "pass-through, server" "marked, server" "site capture, server" "marked, thread" "marked, large" \
    "marked, append" "marked, append x2" "first fork, 64 MiB" "later forks, 64 MiB" \
    "later forks, 64 MiB, FREEZE_PARENT=0" "reaping, 64 MiB" \
    "trapped write, sequential, 8,000 pages" "trapped write, random, 8,000 pages" "report" \
    "server shutdown" "Python, pool_bin_cache.py" "sharing, read-only table"; do
    grep -q "^| $row.*| [0-9.]*x |" "$TMP/out" || fail "bench: no row '$row' with a ratio"
done
pass "$(tail -1 "$TMP/out")"
