# Signals, the ugly cases: a frozen write inside the program's own SIGSEGV
# handler; handlers that leave by siglongjmp (out of the program's SIGSEGV
# handler, and a SIGALRM storm while every write traps) leave nothing of
# cowguard's stuck; sigaction with one struct for new and old; forks while
# other threads unwind. Each mode runs plainly first, then under cowguard
# (with a timeout: a stuck fork would hang).
. "$SRC/tests/integration/lib.sh"

for mode in handler-write longjmp-segv longjmp-alarm same-struct fork-unwinding; do
    plain "$PROGS/signal_edges" "$mode"
    expect_rc 0 "$mode without cowguard"
    run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" timeout 120 "$PROGS/signal_edges" "$mode"
    expect_rc 0 "$mode"
    expect_out "^ok$" "$mode"
    python3 - "$TMP/r.json" "$mode" <<'PY' || fail "$mode: report"
import json, sys
r = json.load(open(sys.argv[1]))
root = [p for p in r["processes"] if p["role"] == "root"][0]
if sys.argv[2] == "handler-write":
    assert root["faults"] >= 1, root  # the write inside the handler was trapped
if sys.argv[2] == "longjmp-segv":
    assert root["faults"] >= 100, root
PY
    rm -f "$TMP/r.json"
done
pass "frozen write in the program's SIGSEGV handler, siglongjmp out of SIGSEGV and SIGALRM handlers, sigaction(&sa, &sa), forks during unwinds"
