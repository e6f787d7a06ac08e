# What a newcomer sees first. Under the launcher cowguard is never silent:
# when there is nothing to report, the program it started says why in one
# line on stderr, and its stdout is what it is without cowguard. The
# launcher's own errors are in its own words; the text report opens with
# three summary lines; cowguard-report --help says what it does.
. "$SRC/tests/integration/lib.sh"
cg="$BUILD/tools/cowguard"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# launched [OPTIONS...] -- COMMAND ARGS: through the launcher, outputs in
# $TMP/out and $TMP/err, the status in $rc.
launched() {
    rc=0
    "$cg" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}

# one_line WHAT PATTERN: stderr is exactly one line of cowguard's, matching.
one_line() {
    n=$(grep -c '' "$TMP/err")
    [ "$n" -eq 1 ] || fail "$1: $n lines on stderr, expected one"
    grep -q "^==[0-9]*== cowguard: no report: $2" "$TMP/err" || fail "$1: stderr lacks '$2'"
}

# same_stdout WHAT COMMAND...: stdout is the plain run's.
same_stdout() {
    what=$1
    shift
    "$@" >"$TMP/plain" 2>/dev/null || fail "$what: the plain run failed"
    cmp -s "$TMP/plain" "$TMP/out" || fail "$what: stdout differs from the plain run's"
}

# 1. Nothing marked, no fork.
launched -- "$PROGS/quiet" none
expect_rc 0 "nothing marked"
one_line "nothing marked" "nothing was marked and quiet never forked; .*--min-size SIZE, --sites FUNCTION or --prefork"
same_stdout "nothing marked" "$PROGS/quiet" none
pass "nothing marked, never forked: one line that says how to mark"

# 2. Marked, never forked.
launched --min-size 64k -- "$PROGS/quiet" marked
expect_rc 0 "marked"
one_line "marked" "1.0 MiB of data was marked, but quiet never forked"
same_stdout "marked" "$PROGS/quiet" marked
pass "marked but never forked: one line"

# 3. Children started by exec only (posix_spawn), and multiprocessing's
# spawn start method, which the issue found silent.
launched -- "$PROGS/quiet" spawn
expect_rc 0 "spawn"
one_line "spawn" "quiet never forked; the 2 processes it started run a program of their own"
same_stdout "spawn" "$PROGS/quiet" spawn
cat >"$TMP/spawn_pool.py" <<'EOF'
import multiprocessing
if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(sum(pool.map(abs, range(-5, 5))))
EOF
launched --python -- "$py" "$TMP/spawn_pool.py"
expect_rc 0 "spawn pool"
# Python 3.9 starts them with fork and exec, later ones with vfork: the
# first gives a tree whose every child ran another program, the second
# no fork at all. Either way one line says so.
n=$(grep -c '' "$TMP/err")
[ "$n" -eq 1 ] || fail "spawn pool: $n lines on stderr, expected one"
grep -q "no report: python3[.0-9]* never forked; the [0-9]* processes it started run a program of their own.*get_context(\"fork\")\|nothing marked, and every child ran another program (exec)" \
    "$TMP/err" || fail "spawn pool: $(cat "$TMP/err")"
same_stdout "spawn pool" "$py" "$TMP/spawn_pool.py"
pass "children started by exec only (posix_spawn, a spawn Pool): one line naming the fork start method"

# 4. A Python script that marks nothing, under --python: how to mark in Python.
launched --python -- "$py" -c 'print(sum(range(10)))'
expect_rc 0 "python"
one_line "python" "nothing was marked and python3[.0-9]* never forked; .*with cowguard.readonly()"
same_stdout "python" "$py" -c 'print(sum(range(10)))'
pass "--python, nothing marked: one line naming cowguard.readonly()"

# 5. Forked, nothing marked, children not measured (--measure marked).
launched --measure marked -- "$PROGS/quiet" fork
expect_rc 0 "measure marked"
one_line "measure marked" "nothing was frozen in quiet and its 1 forked child measured only marked data"
pass "forked under --measure marked with nothing marked: one line"

# 6. Who says it: the launched process, or any unforked one under
# COWGUARD_VERBOSE=1; a bare preload stays silent; --report off is off.
run "$PROGS/quiet" none
[ ! -s "$TMP/err" ] || fail "a bare preload said something: $(cat "$TMP/err")"
run COWGUARD_VERBOSE=1 "$PROGS/quiet" none
one_line "COWGUARD_VERBOSE=1" "nothing was marked"
launched --report off -- "$PROGS/quiet" none
[ ! -s "$TMP/err" ] || fail "--report off said something: $(cat "$TMP/err")"
launched -- "$PROGS/quiet" fork
expect_no_err "no report" "a fork with nothing marked"
expect_err "summary: next: nothing to do: [0-9]* pages\{0,1\} a child is what any fork costs" \
    "a fork with nothing marked: the few pages any fork copies are nothing to act on"
launched -- bash -c "$PROGS/quiet none; true"
expect_err "nothing marked, and every child ran another program (exec)" "bash running a program"
expect_no_err "no report" "bash running a program: the program, not launched, says nothing"
pass "the launched process says it, COWGUARD_VERBOSE=1 too; a bare preload and --report off do not"

# 7. An option of cowguard's after the program: one warning, and it goes to
# the program (whose output shows it); none after --.
launched "$PROGS/echo_exit" 0 --min-size 1M
expect_rc 0 "option after the program"
expect_out "^--min-size$" "option after the program"
[ "$(grep -c "warning: '--min-size' comes after the program" "$TMP/err")" -eq 1 ] ||
    fail "option after the program: no warning"
launched -- "$PROGS/echo_exit" 0 --min-size 1M
expect_no_err "warning" "option after --"
pass "an option of cowguard's after the program: one warning, none after --"

# 8. The launcher's errors, in its own words.
launched -- ./nosuch
expect_rc 127 "missing program"
[ "$(cat "$TMP/err")" = "cowguard: ./nosuch: no such program" ] || fail "missing program: $(cat "$TMP/err")"
launched nosuch-cowguard-program
expect_rc 127 "missing program in PATH"
expect_err "^cowguard: nosuch-cowguard-program: no such program (not found in PATH)$" "missing program in PATH"
launched -- cd
expect_rc 127 "a shell builtin"
expect_err "^cowguard: cd: no such program (not found in PATH)$" "a shell builtin"
launched -- "$TMP"
expect_rc 126 "a directory"
expect_err "^cowguard: $TMP: is a directory, not a program$" "a directory"
printf 'x\n' >"$TMP/data"
launched -- "$TMP/data"
expect_rc 126 "not executable"
expect_err "^cowguard: $TMP/data: not executable" "not executable"
launched --min-szie 1M -- true
expect_rc 2 "misspelt option"
expect_err "unknown option '--min-szie' (did you mean '--min-size'?)" "misspelt option"
launched --wach=heap -- true
expect_err "unknown option '--wach' (did you mean '--watch'?)" "misspelt option with ="
launched --frobnicate -- true
expect_rc 2 "unknown option"
expect_no_err "did you mean" "an option near nothing"
expect_no_err "exec:" "no shell internals"
mkdir "$TMP/cwd"
cp "$PROGS/quiet" "$TMP/cwd/quiet-here"
rc=0
(cd "$TMP/cwd" && PATH="$PATH:" "$cg" quiet-here none) >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "a program found by PATH's trailing empty entry (the current directory)"
# A program that put a file of its own on fd 2 finds no cowguard line in it.
launched -- sh -c 'exec 2>"$0"; echo data >&2' "$TMP/fd2"
[ "$(cat "$TMP/fd2")" = data ] || fail "fd 2 reopened by the program: $(cat "$TMP/fd2")"
pass "missing program (127), directory and non-executable (126), did you mean: in cowguard's words"

# 9. A report destination that is a directory: a file inside, named on stderr.
mkdir "$TMP/reports"
launched --report "$TMP/reports" -- "$BUILD/examples/lookup_table"
expect_rc 0 "report into a directory"
set -- "$TMP"/reports/cowguard.*.txt
[ $# -eq 1 ] && [ -f "$1" ] || fail "report into a directory: no cowguard.PID.txt inside"
expect_err "cowguard: the report is in $1" "report into a directory"
[ ! -e "$TMP/reports.partial" ] || fail "report into a directory: $TMP/reports.partial"
pass "--report DIR: the report is written inside and named on stderr"

# 10. The answer first: the three summary lines follow the title, and the
# copied line adds up with the totals the report gives below it.
sed 's/^==[0-9]*== //' "$1" >"$TMP/report"
sed -n 2p "$TMP/report" | grep -q "^summary: frozen [0-9.]* [KMG]iB of marked data at [0-9]* forks" ||
    fail "summary: line 2 is $(sed -n 2p "$TMP/report")"
sed -n 3p "$TMP/report" | grep -q "^summary: copied " || fail "summary: line 3 is $(sed -n 3p "$TMP/report")"
sed -n 4p "$TMP/report" | grep -q "^summary: next: " || fail "summary: line 4 is $(sed -n 4p "$TMP/report")"
pages=$(sed -n 's/^summary: copied [0-9.]* [KMG]*i*B (\([0-9]*\) pages\{0,1\}).*/\1/p' "$TMP/report")
all=$(sed -n 's/^copied in all: .* (\([0-9]*\) pages).*/\1/p' "$TMP/report")
[ -n "$pages" ] && [ "$pages" = "$all" ] || fail "summary: copied $pages pages, 'copied in all' says $all"
launched --watch heap -- "$BUILD/examples/table_counters"
expect_rc 0 "table_counters"
grep -q "summary: copied .* all outside marked data, most in the heap .*, written first by serve at .*table_counters.c:" \
    "$TMP/err" || fail "summary: table_counters' writer not named"
grep -q "summary: next: mark build_table (COWGUARD_SITES=build_table)" "$TMP/err" ||
    fail "summary: the next step is not the advice"
launched --report-format json --report "$TMP/r.json" -- "$BUILD/examples/lookup_table"
"$py" -c 'import json, sys; s = json.load(open(sys.argv[1]))["summary"]; assert len(s) == 3 and s[2].startswith("next: "), s' \
    "$TMP/r.json" || fail "summary: not in the JSON report"
"$SRC/tools/cowguard-report" "$TMP/r.json" >"$TMP/out" || fail "cowguard-report failed"
sed -n 2p "$TMP/out" | grep -q "^summary: frozen " || fail "cowguard-report: no summary first"
pass "the report opens with frozen, copied (adding up with the totals) and the next step; JSON and cowguard-report too"

# 11. cowguard-report --help says what it does, once, with an example.
"$SRC/tools/cowguard-report" --help >"$TMP/out" || fail "cowguard-report --help"
[ "$(grep -c 'cowguard-report \[options\]\|^usage:' "$TMP/out")" -eq 1 ] || fail "cowguard-report --help: usage twice"
expect_out "^Shows what cowguard found" "cowguard-report --help"
expect_out "^example:" "cowguard-report --help"
pass "cowguard-report --help: what it does and an example"
