# A bad value for any variable: one line on stderr naming the variable, the
# value and the expected form; stdout and the exit status unchanged; the
# variable ignored.
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/echo_exit" 3 hello world
expect_rc 3 "reference run"
cp "$TMP/out" "$TMP/expected"

check() { # VAR VALUE
    run "$1=$2" "$PROGS/echo_exit" 3 hello world
    expect_rc 3 "$1='$2'"
    cmp -s "$TMP/out" "$TMP/expected" || fail "$1='$2' changed stdout"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$1='$2': expected one line on stderr"
    expect_err "$1='$2' is not valid: expected" "$1='$2'"
}
check COWGUARD_POLICY bogus
check COWGUARD_POLICY ABORT
check COWGUARD_POLICY ""
check COWGUARD_MIN_SIZE 1X
check COWGUARD_MIN_SIZE -5
check COWGUARD_MIN_SIZE 1.5M
check COWGUARD_MIN_SIZE k
check COWGUARD_MIN_SIZE 99999999999999999999
check COWGUARD_FREEZE_PARENT yes
check COWGUARD_FREEZE_PARENT 2
check COWGUARD_REPORT ""
check COWGUARD_VERBOSE 3
check COWGUARD_VERBOSE -1
check COWGUARD_ARENA_MAX 1k
check COWGUARD_ARENA_MAX 1P
check COWGUARD_ARENA_MAX abc
pass "every bad value: one line, same stdout and exit status"

run COWGUARD_POLICI=abort "$PROGS/echo_exit" 3 hello world
expect_rc 3 "unknown name"
expect_err "unknown variable COWGUARD_POLICI (did you mean COWGUARD_POLICY?)" "unknown name"
pass "an unknown name gets 'did you mean'"

run COWGUARD_POLICY=bogus "$PROGS/table_write" api child
expect_rc 0 "bad policy falls back to report"
run COWGUARD_POLICY=abort COWGUARD_MIN_SIZE=1X "$PROGS/table_write" malloc child
expect_rc 0 "bad MIN_SIZE marks nothing"
pass "a bad value is ignored: the default applies"
