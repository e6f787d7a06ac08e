# COWGUARD_FREEZE_PARENT decides whether the parent's own writes after a fork
# are trapped. Either way the child keeps seeing the data as it was.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=abort "$PROGS/table_write" api parent
[ "$rc" -eq 134 ] || fail "FREEZE_PARENT=1: the parent's write should abort it (status 134), got $rc"
expect_err "write to frozen memory at 0x[0-9a-f]* in root process" "FREEZE_PARENT=1"
pass "FREEZE_PARENT=1 (default): the parent's write after fork is trapped"

run COWGUARD_POLICY=abort COWGUARD_FREEZE_PARENT=0 "$PROGS/table_write" api parent
expect_rc 0 "FREEZE_PARENT=0"
expect_out "child: wrote=0 exclusive_pages=1 data=ok" "FREEZE_PARENT=0"
expect_out "parent: child=exit:0 data=ok" "FREEZE_PARENT=0"
pass "FREEZE_PARENT=0: the parent writes freely; the child still sees the original data"

run COWGUARD_POLICY=abort COWGUARD_FREEZE_PARENT=0 "$PROGS/table_write" api child
expect_out "parent: child=signal:6" "FREEZE_PARENT=0, child writes"
pass "FREEZE_PARENT=0: children stay frozen"
