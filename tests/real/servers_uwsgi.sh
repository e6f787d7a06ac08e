#!/bin/bash
# uWSGI (Debian's uwsgi with uwsgi-plugin-python3): the master loads the
# python3 plugin (dlopen) and the WSGI application (progs/wsgi_app.py, whose
# table is built at import), then forks 3 workers; 'q' on the master FIFO is
# a graceful shutdown. PYTHONMALLOC=malloc so the interpreter's objects can
# be marked. Each mode must answer as the plain run, end the same way, and
# report every worker.
#
# Failed on cowguard 0.1: the plugin is dlopen()ed before the fork, so the
# loader's _dl_find_object tables are malloc'd, marked and frozen, and
# processes die by SIGSEGV at exit while the report writer dlopen()s libdw
# with every signal blocked (see servers_apache.sh): master and workers.
# Assertions: status, partial, report, signal.
. "$(dirname "$0")/common.sh"
need_pkg uwsgi-core uwsgi-plugin-python3 curl

port=$(port_for 2)
mkdir -p "$TMP/app" && cp "$REAL/progs/wsgi_app.py" "$TMP/app/" # cwd for cores, no __pycache__ in the tree
for m in plain $MODES; do
    fifo=$TMP/fifo.$m
    nsrun_bg uwsgi "$m" -- env PYTHONMALLOC=malloc uwsgi --plugin python3 \
        --http-socket "127.0.0.1:$port" --chdir "$TMP/app" --module wsgi_app --master \
        --processes 3 --need-app --master-fifo "$fifo" --die-on-term --disable-logging
    d=$TMP/uwsgi.$m
    if wait_ready 30 curl -sf "http://127.0.0.1:$port/hello"; then
        for u in hello table table nothing table hello; do
            echo "$u $(http_get "http://127.0.0.1:$port/$u")"
        done >"$d/responses"
        echo q >"$fifo" # graceful shutdown
    else
        echo "uwsgi ($m) did not answer" >"$d/responses"
    fi
    ns_wait uwsgi "$m" 40
done
for m in $MODES; do check uwsgi "$m" generic responses; done
finish
