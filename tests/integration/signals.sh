# The program's own SIGSEGV handling with cowguard's handler in front of it:
# installed before or after, with sigaction or signal; faults that are not
# cowguard's reach it with their siginfo; without a handler the default
# action kills; sigaction reports the program's own handler.
. "$SRC/tests/integration/lib.sh"

for mode in sigaction-after sigaction-before signal-after raise; do
    run "$PROGS/segv_handler" "$mode"
    expect_rc 0 "$mode"
    expect_out "^ok$" "$mode"
    pass "$mode"
done
for mode in default raise-default resethand; do
    run "$PROGS/segv_handler" "$mode"
    expect_rc 139 "$mode (killed by SIGSEGV)"
    pass "$mode: killed by SIGSEGV as without cowguard"
done
