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

# The program's flags keep their meaning: with SA_NODEFER, SIGSEGV is not
# blocked while its handler runs; without, it is; the same as without cowguard.
for mode in nodefer defer; do
    plain "$PROGS/segv_handler" "$mode"
    mv "$TMP/out" "$TMP/expected"
    run "$PROGS/segv_handler" "$mode"
    expect_rc 0 "$mode"
    cmp -s "$TMP/out" "$TMP/expected" || fail "$mode: '$(cat "$TMP/out")', without cowguard '$(cat "$TMP/expected")'"
    pass "$mode: $(cat "$TMP/out"), as without cowguard"
done

run "$PROGS/segv_handler" ignore-raise
expect_rc 0 "ignore-raise"
expect_out "^ok$" "ignore-raise"
run "$PROGS/segv_handler" ignore-fault
expect_rc 139 "ignore-fault"
pass "SIG_IGN: a raised SIGSEGV is ignored, a real fault still kills, as without cowguard"

# Python's faulthandler installs its handlers at start, before cowguard
# installs its own: a real crash still reaches it, and under abort
# cowguard's diagnostic comes out first.
for py in /usr/bin/python3 python3; do command -v "$py" >/dev/null 2>&1 && break; done
export PYTHONPATH="$SRC/tools/python"
run PYTHONFAULTHANDLER=1 PYTHONMALLOC=malloc "$py" -c '
import cowguard, ctypes
with cowguard.readonly():
    data = bytearray(1 << 16)
cowguard.freeze()
ctypes.string_at(0)'
expect_rc 139 "faulthandler: crash"
expect_err "Fatal Python error: Segmentation fault" "faulthandler: crash"
pass "faulthandler still reports a real crash (killed by SIGSEGV)"

run PYTHONFAULTHANDLER=1 PYTHONMALLOC=malloc COWGUARD_POLICY=abort COWGUARD_FREEZE_PARENT=0 "$py" -c '
import cowguard, os
with cowguard.readonly():
    data = bytearray(1 << 16)
pid = os.fork()
if pid == 0:
    data[100] = 1
    os._exit(0)
print(os.waitpid(pid, 0)[1] & 0x7f)'
expect_out "^6$" "faulthandler: abort"
head -1 "$TMP/err" | grep -q "ERROR: cowguard: write to frozen memory" || fail "cowguard's diagnostic is not first"
pass "under abort, cowguard's diagnostic comes first and the child dies by SIGABRT"

# Masks: SIGSEGV blocked by the program never stops a frozen write, the
# program still sees its mask, and a sent SIGSEGV waits until it unblocks.
# The older ways to install handlers are kept like sigaction's.
for mode in thread-blocked view sysv sigset siginfo-ign handler-calls; do
    plain "$PROGS/sigmask" "$mode"
    expect_rc 0 "$mode without cowguard"
    rc=0
    timeout -s KILL 60 env LD_PRELOAD="$CG_LIB" "$PROGS/sigmask" "$mode" >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect_rc 0 "$mode"
    expect_out "^ok$" "$mode"
    pass "sigmask $mode"
done

# Pages of a marked block that the program protected itself (code, a guard
# page) keep their protection through freezes and thaws; their faults are
# the program's. The child's write traps; the parent's, after it reaped the
# child (nobody shares its pages any more, so everything was thawed), does
# not, and its protections are still there.
plain "$PROGS/own_protect"
expect_rc 0 "own_protect without cowguard"
rc=0
timeout -s KILL 30 env LD_PRELOAD="$CG_LIB" "$PROGS/own_protect" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "own_protect"
expect_out "^ok$" "own_protect"
expect_err "trapped writes: 1$" "own_protect"
pass "a code page and a guard page in a marked block keep their protection; the other pages freeze as usual"
