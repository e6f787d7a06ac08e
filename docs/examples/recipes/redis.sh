#!/bin/sh
# redis-server with 200,000 keys of 200 bytes, a BGSAVE made to last a few
# seconds (rdb-key-save-delay), and redis-benchmark overwriting 100,000
# random keys meanwhile; then SHUTDOWN.  Run from the repository root:
#   docs/examples/recipes/redis.sh [LAUNCHER ARGS...]
#   docs/examples/recipes/redis.sh cowguard --prefork --
# Prints what Redis itself says the snapshot's child copied.
set -u
port=${PORT:-6391}
dir=$(mktemp -d /tmp/recipe-redis.XXXXXX)
"$@" redis-server --port $port --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --logfile "$dir/log" &
server=$!
for i in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
seq 0 199999 | awk '{ printf "SET key:%012d %0200d\n", $1, $1 }' | redis-cli -p $port --pipe >/dev/null
redis-cli -p $port info memory | tr -d '\r' | grep '^used_memory_human'
redis-cli -p $port config set rdb-key-save-delay 5 >/dev/null
redis-cli -p $port bgsave
redis-benchmark -p $port -q -n 100000 -r 200000 -t set -d 200 | tr '\r' '\n' | grep -v '^ *$' | tail -1
until [ "$(redis-cli -p $port info persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" = 0 ]; do
    sleep 0.2
done
redis-cli -p $port info persistence | tr -d '\r' | grep -e rdb_last_bgsave_status -e rdb_last_cow_size
grep 'Fork CoW' "$dir/log"
redis-cli -p $port shutdown nosave >/dev/null
wait $server
echo "redis-server exit status $?"
rm -rf "$dir"
