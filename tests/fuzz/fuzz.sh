# The option parser and the glob matcher on hostile input: the seed corpus
# and 20000 mutations through the plain driver; with libFuzzer built, ten
# seconds of real fuzzing as well.
. "$SRC/tests/integration/lib.sh"

"$BUILD/tests/fuzz/fuzz_options" "$SRC"/tests/fuzz/corpus/* >"$TMP/out" 2>&1 || fail "the fuzz target failed"
pass "$(tail -1 "$TMP/out")"

lf="$BUILD/tests/fuzz/fuzz_options_libfuzzer"
if [ -x "$lf" ]; then
    mkdir "$TMP/corpus"
    cp "$SRC"/tests/fuzz/corpus/* "$TMP/corpus/"
    "$lf" -max_total_time=10 -print_final_stats=1 "$TMP/corpus" >"$TMP/out" 2>&1 || fail "libFuzzer found a failing input"
    pass "libFuzzer: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$TMP/out" | grep -o '[0-9]*$') inputs in 10 s, no failure"
else
    echo "(libFuzzer not available: clang with libclang-rt; the driver run above stands)"
fi
