#!/bin/sh
# gunicorn --preload with 4 workers serving wsgi_app.py, 40 requests with
# curl, then SIGTERM to the master so that every process exits and the
# report is written.  Run from the repository root:
#   docs/examples/recipes/gunicorn.sh [LAUNCHER ARGS...]
#   docs/examples/recipes/gunicorn.sh cowguard --python --
# Before stopping, prints each worker's Private_Dirty as it serves.
set -u
. "$(dirname "$0")/drive.sh"
port=${PORT:-8077}
pidfile=$(mktemp -u /tmp/recipe-gunicorn.XXXXXX)
"$@" /usr/bin/python3 -m gunicorn --preload --workers 4 --bind 127.0.0.1:$port \
    --chdir docs/examples/recipes --pid "$pidfile" --log-level warning wsgi_app:app &
serve gunicorn "$port" "$pidfile" TERM
