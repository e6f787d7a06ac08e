# A fork-snapshotting database: redis-server (Debian's, on jemalloc) under
# cowguard with COWGUARD_PREFORK=1, so its whole dataset is marked and frozen
# when BGSAVE forks the snapshotting child, while the parent goes on taking
# writes. The snapshot must hold exactly what a plain redis-server's does.
. "$SRC/tests/integration/lib.sh"
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
    { echo "skip: redis-server is not installed (Debian: redis-server)"; exit 77; }

start() { # NAME PORT [VAR=VALUE ...]: a redis-server in $TMP/NAME
    name=$1 port=$2
    shift 2
    mkdir -p "$TMP/$name"
    env "$@" redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP/$name" --save "" --appendonly no \
        --daemonize no --logfile "$TMP/$name/log" >/dev/null 2>&1 &
    for i in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "redis-server $name did not start: $(tail -5 "$TMP/$name/log")"
}
cli() { redis-cli -p "$1" "${@:2}"; }
load() { # PORT: 20000 keys, then BGSAVE while writing more, then wait for the snapshot
    seq 1 20000 | awk '{printf "SET key:%d value-%d-%s\n", $1, $1 * 7, "padding-to-make-it-longer"}' |
        redis-cli -p "$1" >/dev/null
    cli "$1" bgsave >/dev/null
    for i in $(seq 1 50); do cli "$1" incr counter >/dev/null; cli "$1" set "late:$i" "$i" >/dev/null; done
    for i in $(seq 1 200); do
        [ "$(cli "$1" info persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" = 0 ] &&
            [ "$(cli "$1" info persistence | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')" = ok ] && return 0
        sleep 0.1
    done
    fail "BGSAVE did not finish on port $1"
}
dump() { # PORT: what a restarted server sees in the snapshot
    cli "$1" dbsize
    for k in 1 777 12345 20000; do cli "$1" get "key:$k"; done
}

port=$(free_port 0)
start plain $port
load $port
cli $port shutdown nosave >/dev/null 2>&1 || true
port=$(free_port 1)
start cg $port LD_PRELOAD="$CG_LIB" COWGUARD_PREFORK=1 COWGUARD_REPORT_FORMAT=json \
    COWGUARD_REPORT="$TMP/cg/report.json"
load $port
cli $port get key:4242 | grep -q '^value-29694-' || fail "redis under cowguard: wrong value"
cli $port shutdown nosave >/dev/null 2>&1 || true
for i in $(seq 1 100); do [ -f "$TMP/cg/report.json" ] && break; sleep 0.1; done
[ -f "$TMP/cg/report.json" ] || fail "redis under cowguard wrote no report"

# Both snapshots, loaded by a plain server each, must hold the same data.
for name in plain cg; do
    port=$(free_port 2)
    start "$name" $port
    dump $port >"$TMP/$name.dump"
    cli $port shutdown nosave >/dev/null 2>&1 || true
    sleep 0.2
done
cmp -s "$TMP/plain.dump" "$TMP/cg.dump" || fail "snapshots differ: $(paste "$TMP/plain.dump" "$TMP/cg.dump" | head -3)"
grep -q '^20000$' "$TMP/cg.dump" || fail "snapshot under cowguard holds $(head -1 "$TMP/cg.dump") keys"
python3 - "$TMP/cg/report.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["processes"] >= 2 and r["totals"]["frozen_bytes"] >= 1 << 20, r["totals"]
PY
pass "redis BGSAVE with its dataset frozen: the snapshot equals a plain server's ($(head -1 "$TMP/cg.dump") keys)"
