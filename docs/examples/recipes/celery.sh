#!/bin/sh
# A Celery worker with a prefork pool of 4 reading the catalogue, a local
# redis-server (port 6390, in a temporary directory) as broker and result
# backend, 40 tasks from celery_client.py, then SIGTERM (warm shutdown).
# Run from the repository root:
#   docs/examples/recipes/celery.sh [LAUNCHER ARGS...]
#   docs/examples/recipes/celery.sh cowguard --python --
# Only the worker runs under the launcher.  Before stopping, prints each pool
# process's Private_Dirty.
set -u
dir=$(mktemp -d /tmp/recipe-celery.XXXXXX)
redis-server --port 6390 --bind 127.0.0.1 --dir "$dir" --save "" --logfile "$dir/redis.log" &
redis=$!
for i in $(seq 1 100); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
"$@" /usr/bin/python3 -m celery --workdir docs/examples/recipes -A celery_tasks worker \
    --pool prefork --concurrency 4 --loglevel WARNING --pidfile "$dir/worker.pid" \
    2> "$dir/worker.err" &
worker=$!
(cd docs/examples/recipes && /usr/bin/python3 celery_client.py 40)
for w in $(pgrep -P "$(cat "$dir/worker.pid")"); do
    echo "pool process $w: $(grep Private_Dirty /proc/$w/smaps_rollup | tr -s ' ')"
done
kill -TERM "$(cat "$dir/worker.pid")"
wait $worker
echo "celery exit status $?"
grep -v -e SecurityWarning -e superuser -e '^$' -e 'uid=' -e 'warnings.warn' -e 'recommended' "$dir/worker.err" >&2
redis-cli -p 6390 shutdown nosave >/dev/null
wait $redis
rm -rf "$dir"
