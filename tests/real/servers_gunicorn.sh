#!/bin/bash
# gunicorn --preload (Debian's python3-gunicorn): the arbiter imports the
# WSGI application (progs/wsgi_app.py) before forking 3 sync workers;
# SIGTERM is its graceful shutdown. PYTHONMALLOC=malloc so Python's objects
# can be marked. Each mode must answer as the plain run, end the same way,
# and report every worker.
#
# Failed on cowguard 0.1 in mode B (mode A passed on this machine, by heap layout):
# every process dies by SIGSEGV at exit inside the report writer, where
# libdw dlopen()s libdebuginfod with every signal blocked and the loader
# writes its _dl_find_object tables, malloc'd by the interpreter's imports
# of extension modules before the fork, marked and frozen (see
# servers_apache.sh). Assertions: status, partial, report, signal.
. "$(dirname "$0")/common.sh"
need_pkg python3-gunicorn curl

port=$(port_for 3)
mkdir -p "$TMP/app" && cp "$REAL/progs/wsgi_app.py" "$TMP/app/" # cwd for cores, no __pycache__ in the tree
for m in plain $MODES; do
    nsrun_bg gunicorn "$m" -- env PYTHONMALLOC=malloc "$PY" -m gunicorn --preload -w 3 \
        -b "127.0.0.1:$port" --chdir "$TMP/app" --graceful-timeout 10 wsgi_app:application
    d=$TMP/gunicorn.$m
    if wait_ready 30 curl -sf "http://127.0.0.1:$port/hello"; then
        for u in hello table table nothing table hello; do
            echo "$u $(http_get "http://127.0.0.1:$port/$u")"
        done >"$d/responses"
        kill -TERM "$(ns_main)"
    else
        echo "gunicorn ($m) did not answer" >"$d/responses"
    fi
    ns_wait gunicorn "$m" 40
done
for m in $MODES; do check gunicorn "$m" generic responses; done
finish
