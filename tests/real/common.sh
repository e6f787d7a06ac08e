# common.sh: sourced by every tests/real script. Runs real programs that
# nobody on the team wrote three times: plainly, and under cowguard in the
# two marking modes that touch the most memory:
#   A  COWGUARD_PREFORK=1    everything allocated before the first fork
#   B  COWGUARD_MIN_SIZE=64  every allocation of 64 bytes or more
# always with the default policy (report) and a JSON report per process.
# Each run is pid 1's only child in a pid namespace of its own (nsrun.py),
# with the kernel's process accounting on, so the harness knows every
# process that ran and how it ended, also in the plain run.
#
# Environment: CG_LIB (the library), BUILD and SRC as for tests/integration;
# by default the tree this file is in, built in place. CG_REAL_KEEP=1 keeps
# the run directories; CG_REAL_MODES="A B" picks modes. CG_REAL_HIDE="FILE..."
# hides files from the runs (diagnostic: CG_REAL_HIDE=/usr/lib/x86_64-linux-gnu/
# libdw.so.1 gets past the report writer's dlopen at exit).
: "${SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BUILD:=$SRC}"
: "${CG_LIB:=$BUILD/.libs/libcowguard.so}"
export SRC BUILD CG_LIB
. "$SRC/tests/integration/lib.sh"
[ -f "$CG_LIB" ] || { echo "skip: no library at $CG_LIB (build first, or set CG_LIB)"; exit 77; }

REAL="$SRC/tests/real"
PY=/usr/bin/python3 # Debian's: the one its packages' modules are for
MODES=${CG_REAL_MODES:-A B}
HIDE=""
for f in ${CG_REAL_HIDE:-}; do HIDE="$HIDE --hide $f"; done
FAILED=0
BG_PIDS=""
if [ "${CG_REAL_KEEP:-0}" = 1 ]; then
    trap 'cleanup_bg; echo "kept: $TMP"' EXIT
else
    trap 'cleanup_bg; rm -rf "$TMP"' EXIT
fi
chmod 755 "$TMP" # servers' workers run as www-data and must reach files under it
cleanup_bg() {
    for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
    return 0
}

[ -x "$PY" ] || { echo "skip: /usr/bin/python3 is not installed"; exit 77; }

# need_pkg PKG...: exit 77 unless every Debian package is installed.
need_pkg() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            { echo "skip: Debian package $p is not installed (apt-get install --no-install-recommends $p)"; exit 77; }
    done
}

# Process accounting needs a pid namespace of our own: root and unshare(1).
NS=""
if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc --kill-child true 2>/dev/null; then
    NS="unshare --pid --fork --mount-proc --kill-child"
else
    echo "note: not root or no unshare: no process accounting, signal deaths from the reports only"
fi

# cg_env DIR MODE: the env assignments for MODE (plain, A, B, or P: what
# the launcher's --python --prefork sets, for Python programs).
cg_env() {
    case $2 in
    plain) ;;
    P) echo "LD_PRELOAD=$CG_LIB COWGUARD_PREFORK=1 PYTHONPATH=$SRC/tools/python/launch:$SRC/tools/python COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT=$1/reports/cg.%p.json" ;;
    A) echo "LD_PRELOAD=$CG_LIB COWGUARD_PREFORK=1 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT=$1/reports/cg.%p.json" ;;
    B) echo "LD_PRELOAD=$CG_LIB COWGUARD_MIN_SIZE=64 COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT=$1/reports/cg.%p.json" ;;
    *) echo "bad mode $2" >&2; exit 99 ;;
    esac
}

# nsrun NAME MODE [--grace S] -- COMMAND...: runs COMMAND (plain, or with
# MODE's cowguard variables) in $TMP/NAME.MODE: out, err, status.json, acct,
# reports/. Sets rc. Killed after CG_REAL_TIMEOUT seconds (default 900);
# --grace: how long what the command leaves behind may run on (default 10).
nsrun() {
    d=$TMP/$1.$2
    mode=$2
    shift 2
    grace=10
    [ "$1" = --grace ] && { grace=$2; shift 2; }
    [ "$1" = -- ] && shift
    rm -rf "$d"
    mkdir -p "$d/reports"
    chmod 777 "$d/reports" # workers that switch to www-data write their own reports
    rc=0
    # shellcheck disable=SC2046
    timeout -s KILL "${CG_REAL_TIMEOUT:-900}" $NS "$PY" "$REAL/progs/nsrun.py" "$d" --grace "$grace" $HIDE -- \
        env $(cg_env "$d" "$mode") "$@" >"$d/out" 2>"$d/err" </dev/null || rc=$?
    [ -f "$d/status.json" ] || echo '{"status": null, "acct": false}' >"$d/status.json"
}
# nsrun_bg NAME MODE -- COMMAND...: the same, in the background (servers).
# Sets NS_PID to unshare's pid; ns_main gives the command's host pid.
nsrun_bg() {
    d=$TMP/$1.$2
    mode=$2
    shift 2
    grace=10
    [ "$1" = --grace ] && { grace=$2; shift 2; }
    [ "$1" = -- ] && shift
    rm -rf "$d"
    mkdir -p "$d/reports"
    chmod 777 "$d/reports"
    # shellcheck disable=SC2046
    $NS "$PY" "$REAL/progs/nsrun.py" "$d" --grace "$grace" $HIDE -- env $(cg_env "$d" "$mode") "$@" \
        >"$d/out" 2>"$d/err" </dev/null &
    NS_PID=$!
    BG_PIDS="$BG_PIDS $NS_PID"
}
# ns_main: the host pid of the command nsrun_bg started last.
ns_main() {
    p=$NS_PID
    if [ -n "$NS" ]; then
        for level in 1 2; do # unshare -> nsrun.py -> command
            c=""
            for i in $(seq 1 50); do c=$(pgrep -P "$p" | head -1) && [ -n "$c" ] && break; sleep 0.1; done
            p=$c
        done
    else
        for i in $(seq 1 50); do c=$(pgrep -P "$p" | head -1) && [ -n "$c" ] && break; sleep 0.1; done
        p=$c
    fi
    echo "$p"
}
# ns_wait NAME MODE SECONDS: waits for the background run to end; kills its
# namespace after SECONDS.
ns_wait() {
    d=$TMP/$1.$2
    for i in $(seq 1 $(($3 * 10))); do kill -0 "$NS_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NS_PID" 2>/dev/null; then
        echo "note: $1.$2 did not stop within $3 s: killed"
        kill -KILL "$NS_PID" 2>/dev/null
    fi
    wait "$NS_PID" 2>/dev/null
    [ -f "$d/status.json" ] || echo '{"status": null, "acct": false}' >"$d/status.json"
}

# check NAME MODE [KIND [FILE]]: the assertions of progs/check.py for run
# NAME.MODE against NAME.plain, and FILE (default: out) normalized by KIND
# (default generic) must be the same in both.
check() {
    name=$1 m=$2 kind=${3:-generic} file=${4:-out}
    p=$TMP/$name.plain c=$TMP/$name.$m
    "$PY" "$REAL/progs/check.py" runs "$p" "$c" "$name.$m" || FAILED=$((FAILED + 1))
    "$PY" "$REAL/progs/check.py" normalize "$kind" <"$p/$file" >"$p/$file.norm"
    "$PY" "$REAL/progs/check.py" normalize "$kind" <"$c/$file" >"$c/$file.norm" 2>/dev/null ||
        : >"$c/$file.norm"
    if ! cmp -s "$p/$file.norm" "$c/$file.norm"; then
        echo "FAIL $name.$m: output: $file differs from the plain run's (normalized; first lines of diff):"
        diff "$p/$file.norm" "$c/$file.norm" | head -8 | sed 's/^/    /'
        FAILED=$((FAILED + 1))
    fi
    if [ -s "$c/err" ] && [ "${CG_REAL_VERBOSE:-0}" = 1 ]; then
        echo "--- $name.$m stderr (tail):"
        tail -5 "$c/err"
    fi
    return 0
}

# finish: the script's verdict.
finish() {
    if [ "$FAILED" -gt 0 ]; then
        echo "FAILED: $FAILED check(s) failed"
        exit 1
    fi
    echo "ok: all checks passed"
    exit 0
}

# ---- servers ---------------------------------------------------------------
# port_for N: a high port for this script's N-th server, away from others'.
# Below the kernel's ephemeral range (32768 and up by default), where a
# client's connection could take the port first, and not held by a socket.
port_for() {
    p=$((20000 + ($$ * 7 + $1 * 101) % 12000))
    while grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
# wait_ready SECONDS COMMAND...: until COMMAND succeeds; 1 if it never did
# or the server's namespace ended.
wait_ready() {
    t=$1
    shift
    for i in $(seq 1 $((t * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$NS_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# http_get URL: "status md5-of-body" (000 when the connection failed).
http_get() {
    code=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 30 "$1") || true
    echo "$code $(md5sum <"$TMP/body" | cut -c1-32)"
    rm -f "$TMP/body"
}
