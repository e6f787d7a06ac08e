# The launcher: options become COWGUARD_* settings, errors are reported like
# any command-line tool's, LD_PRELOAD keeps what was there, --python makes
# the helper importable and routes Python's objects through malloc.
. "$SRC/tests/integration/lib.sh"
cg="$BUILD/tools/cowguard"

"$cg" --version | grep -q '^cowguard [0-9]' || fail "--version"
"$cg" --help | grep -q -- '--min-size SIZE' || fail "--help"
for bad in "--bogus" "--policy sometimes" "--min-size 1X" "--report-format xml" "--backtrace many" "--policy"; do
    rc=0
    # shellcheck disable=SC2086
    "$cg" $bad -- true >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect_rc 2 "cowguard $bad"
    expect_err "^cowguard: " "cowguard $bad"
done
rc=0
"$cg" >/dev/null 2>"$TMP/err" || rc=$?
expect_rc 2 "no command"
expect_err "no command to run" "no command"
pass "--version, --help; bad options and a missing command: a message and exit 2"

rc=0
"$cg" --policy abort -- "$PROGS/table_write" api child >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_out "parent: child=signal:6" "--policy abort"
rc=0
"$cg" --min-size=1M --policy=abort "$PROGS/table_write" malloc child >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_out "parent: child=signal:6" "--min-size=1M"
rc=0
"$cg" --report-format json --report "$TMP/r.%p.json" -- "$PROGS/sneaky" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "--report"
ls "$TMP"/r.*.json >/dev/null 2>&1 || fail "--report wrote no file"
pass "options reach the library: --policy, --min-size=, --report, --report-format"

rc=0
env LD_PRELOAD=libm.so.6 "$cg" -- sh -c 'echo "$LD_PRELOAD"' >"$TMP/out" 2>"$TMP/err" || rc=$?
grep -q "libcowguard.so libm.so.6$" "$TMP/out" || fail "LD_PRELOAD: $(cat "$TMP/out")"
pass "LD_PRELOAD: cowguard first, existing entries kept"

py=python3
rc=0
# The helper is set up before the program runs (its sitecustomize), and
# PYTHONMALLOC is left as it was: pymalloc serves what is not marked.
"$cg" --python -- "$py" -c 'import os, sys; print("cowguard" in sys.modules, os.environ.get("PYTHONMALLOC")); import cowguard; print(cowguard.active())' \
    >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "--python"
expect_out "^True None$" "--python"
expect_out "^True$" "--python"
# Only a report (of what a child copied, if the interpreter forks) may be there.
! grep -qv '^==[0-9]*==\( \|$\)' "$TMP/err" || fail "--python: stderr: $(cat "$TMP/err")"
pass "--python: the helper is set up before the program and active; PYTHONMALLOC untouched"
