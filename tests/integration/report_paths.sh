# Report destinations: a planted symlink is not followed and an existing
# file not replaced (one warning, the report on stderr); devices and FIFOs
# named by COWGUARD_REPORT are written in place; a directory gets a file
# inside it; a destination that cannot be written gives one warning and the
# report goes to stderr. No "*.partial" file is ever left behind.
. "$SRC/tests/integration/lib.sh"

no_partial() {
    ! find "$TMP" -name '*.partial' | grep -q . || fail "$1: a .partial file was left: $(find "$TMP" -name '*.partial')"
}
one_warning() { # PATTERN WHAT
    [ "$(grep -c 'cowguard: ' "$TMP/err")" -eq 1 ] || fail "$2: expected one cowguard line on stderr"
    expect_err "$1" "$2"
}

echo "precious" >"$TMP/target"
ln -s "$TMP/target" "$TMP/r.txt"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
expect_rc 0 "symlink at the report's name"
[ "$(cat "$TMP/target")" = precious ] || fail "the symlink's target was written"
one_warning "cannot write the report to $TMP/r.txt (File exists); writing it to stderr" "symlink"
expect_err "copy-on-write report for process tree" "symlink: report on stderr"
no_partial "symlink"
pass "a symlink at the report's name is not followed: one warning, the report on stderr"

rm -f "$TMP/r.txt"
echo "another process's report" >"$TMP/r.txt"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
[ "$(cat "$TMP/r.txt")" = "another process's report" ] || fail "an existing file was replaced"
one_warning "cannot write the report to $TMP/r.txt (File exists)" "existing file"
expect_err "copy-on-write report for process tree" "existing file: report on stderr"
no_partial "existing file"
pass "an existing file is not replaced: one warning, the report on stderr"

rm -f "$TMP/r.txt"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
grep -q "copy-on-write report for process tree" "$TMP/r.txt" || fail "the report file was not written"
[ "$(grep -c 'cowguard: ' "$TMP/err")" -eq 0 ] || fail "a new report file: unexpected warning"
no_partial "new file"
pass "a new file gets the report, and nothing else is left beside it"

run COWGUARD_REPORT="/proc/self/cannot/r.%p.txt" "$PROGS/sneaky"
expect_rc 0 "unwritable directory"
one_warning "cannot write the report to /proc/self/cannot/r.[0-9]*.txt" "unwritable directory"
expect_err "copy-on-write report for process tree" "unwritable directory: report on stderr"
pass "a directory that cannot hold the file: one warning, the report on stderr"

run COWGUARD_REPORT=/dev/stderr "$PROGS/sneaky"
expect_rc 0 "/dev/stderr"
expect_err "copy-on-write report for process tree" "/dev/stderr"
[ "$(grep -c 'cowguard: ' "$TMP/err")" -eq 0 ] || fail "/dev/stderr: unexpected warning"
run COWGUARD_REPORT=/dev/stdout "$PROGS/sneaky"
expect_out "copy-on-write report for process tree" "/dev/stdout"
[ "$(grep -c 'cowguard: ' "$TMP/err")" -eq 0 ] || fail "/dev/stdout: unexpected warning"
# /dev/stderr when stderr is itself a file: still written through the descriptor.
env LD_PRELOAD="$CG_LIB" COWGUARD_REPORT=/dev/stderr "$PROGS/sneaky" >/dev/null 2>"$TMP/file-err" || fail "/dev/stderr as a file: exit status"
grep -q "copy-on-write report for process tree" "$TMP/file-err" || fail "/dev/stderr as a file: no report"
pass "/dev/stderr and /dev/stdout: written to the program's own descriptors"

mkfifo "$TMP/fifo"
cat "$TMP/fifo" >"$TMP/from-fifo" &
reader=$!
# The reader counts once it waits in open(): on a loaded machine the
# program may otherwise finish before cat has got that far, find no
# reader, and write to stderr (the case below), leaving cat waiting.
for _ in $(seq 500); do
    [ "$(cat "/proc/$reader/wchan" 2>/dev/null)" = wait_for_partner ] && break
    sleep 0.01
done
run COWGUARD_REPORT="$TMP/fifo" "$PROGS/sneaky"
wait "$reader"
expect_rc 0 "FIFO"
grep -q "copy-on-write report for process tree" "$TMP/from-fifo" || fail "FIFO: the reader got no report"
[ -p "$TMP/fifo" ] || fail "FIFO: replaced by a file"
pass "a FIFO with a reader gets the report"

run COWGUARD_REPORT="$TMP/fifo" timeout 20 "$PROGS/sneaky"
expect_rc 0 "FIFO without a reader (a hang would time out)"
one_warning "cannot write the report to $TMP/fifo" "FIFO without a reader"
expect_err "copy-on-write report for process tree" "FIFO without a reader: report on stderr"
pass "a FIFO without a reader: no hang, one warning, the report on stderr"

mkdir "$TMP/reports"
run COWGUARD_REPORT="$TMP/reports" COWGUARD_REPORT_FORMAT=json "$PROGS/sneaky"
expect_rc 0 "directory"
set -- "$TMP"/reports/cowguard.*.json
[ $# -eq 1 ] && [ -f "$1" ] || fail "directory: expected one cowguard.PID.json inside, found: $*"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["totals"]["processes"] == 2, r["totals"]' "$1" \
    || fail "directory: the report is not the tree's"
no_partial "directory"
pass "a directory: the report is written into it as cowguard.PID.json"
