# Report files: a planted symlink is not followed, an existing file is not
# replaced, a directory that cannot hold the file gives one warning and the
# report goes to stderr; nothing is lost.
. "$SRC/tests/integration/lib.sh"

echo "precious" >"$TMP/target"
ln -s "$TMP/target" "$TMP/r.txt"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
expect_rc 0 "symlink at the report's name"
[ "$(cat "$TMP/target")" = precious ] || fail "the symlink's target was written"
expect_err "cannot create report file $TMP/r.txt (File exists); the report is in $TMP/r.txt.partial" "symlink"
grep -q "copy-on-write report" "$TMP/r.txt.partial" || fail "the report was lost"
pass "a symlink at the report's name is not followed; the report is kept beside it"

rm -f "$TMP/r.txt" "$TMP/r.txt.partial"
ln -s "$TMP/target" "$TMP/r.txt.partial"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
[ "$(cat "$TMP/target")" = precious ] || fail "the symlink's target was written"
expect_err "cannot create report file $TMP/r.txt.partial (File exists); writing the report to stderr" "symlink"
expect_err "copy-on-write report for process tree" "symlink: report on stderr"
pass "a symlink planted at the working name is not followed; the report goes to stderr"

rm -f "$TMP/r.txt.partial"
echo "another process's report" >"$TMP/r.txt"
run COWGUARD_REPORT="$TMP/r.txt" "$PROGS/sneaky"
[ "$(cat "$TMP/r.txt")" = "another process's report" ] || fail "an existing file was replaced"
pass "an existing file is not replaced"

run COWGUARD_REPORT="/proc/self/cannot/r.%p.txt" "$PROGS/sneaky"
expect_rc 0 "unwritable directory"
[ "$(grep -c 'cowguard: cannot create report file' "$TMP/err")" -eq 1 ] || fail "expected one warning"
expect_err "copy-on-write report for process tree" "unwritable directory: report on stderr"
pass "a directory that cannot hold the file: one warning, the report on stderr"
