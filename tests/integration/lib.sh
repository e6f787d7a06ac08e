# lib.sh: sourced by every integration test. The test harness exports
# CG_LIB (the built library), BUILD and SRC (the build and source trees).
set -u
: "${CG_LIB:?run through make check}" "${BUILD:?}" "${SRC:?}"
PROGS="$BUILD/tests/progs"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Each test sets its own configuration: nothing from the caller's environment.
for v in $(env | sed -n 's/^\(COWGUARD_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

fail() {
    echo "FAIL: $*"
    for f in "$TMP"/out "$TMP"/err; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):"; head -40 "$f"; }
    done
    exit 1
}
pass() { echo "ok: $*"; }

# run [VAR=VALUE ...] COMMAND ARGS: runs COMMAND with the library preloaded;
# stdout goes to $TMP/out, stderr to $TMP/err, the exit status to $rc.
run() {
    rc=0
    env LD_PRELOAD="$CG_LIB" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}
# plain COMMAND ARGS: the same without cowguard.
plain() {
    rc=0
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}

# field NAME FILE: the value of NAME=... on the RESULT line.
field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$2"; }
# sorted_list "a,b,c": the comma list sorted numerically.
sorted_list() { echo "$1" | tr ',' '\n' | sort -n | paste -sd, -; }

# free_port: a TCP port no socket holds, below the kernel's ephemeral range
# (32768 and up by default), where a client's connection could take it
# between the choice and the bind.
free_port() {
    p=$((20000 + ($$ * 7 + ${1:-0}) % 12000))
    while grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

# child_outside REPORT.json: the first child's pages copied outside marked
# data while it worked, and after it began to exit: "WORK LATE".
child_outside() {
    python3 -c 'import json, sys
c = [p for p in json.load(open(sys.argv[1]))["processes"] if p["role"] == "child"][0]
print(c["outside_copied_pages"], c["outside_exit_copied_pages"])' "$1"
}

expect_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit status $rc, expected $1"; }
expect_out() { grep -q -- "$1" "$TMP/out" || fail "$2: stdout lacks '$1'"; }
expect_err() { grep -q -- "$1" "$TMP/err" || fail "$2: stderr lacks '$1'"; }
expect_no_err() { ! grep -q -- "$1" "$TMP/err" || fail "$2: stderr has '$1'"; }
