#!/bin/sh
# uWSGI: a master and 4 workers (no lazy-apps: the master imports
# wsgi_app.py, then forks), 40 requests with curl, then SIGINT to the master
# (SIGTERM reloads uWSGI 2.0).  Run from the repository root:
#   docs/examples/recipes/uwsgi.sh [LAUNCHER ARGS...]
#   docs/examples/recipes/uwsgi.sh cowguard --python --      (UWSGI_OPTS: more uWSGI options)
# uWSGI's log goes to /tmp/recipe-uwsgi.log, and with it (--logto points
# the processes' stderr there) cowguard's report, which is printed from it at
# the end.  Before stopping, prints each worker's Private_Dirty as it serves.
set -u
. "$(dirname "$0")/drive.sh"
port=${PORT:-8078}
rm -f /tmp/recipe-uwsgi.log
pidfile=$(mktemp -u /tmp/recipe-uwsgi.XXXXXX)
"$@" uwsgi --plugin python3 --master --processes 4 --http-socket 127.0.0.1:$port \
    --chdir docs/examples/recipes --module wsgi_app --pidfile "$pidfile" \
    --disable-logging --logto /tmp/recipe-uwsgi.log ${UWSGI_OPTS:-} &
serve uwsgi "$port" "$pidfile" INT
rm -f "$pidfile"
grep "^==" /tmp/recipe-uwsgi.log >&2 || true
