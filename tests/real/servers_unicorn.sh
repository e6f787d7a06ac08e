#!/bin/bash
# unicorn (Debian's unicorn, a preforking Ruby/Rack server): the master
# loads progs/rack_app.ru (preload_app) and forks 3 workers; SIGQUIT is a
# graceful stop. Each mode must answer as the plain run, end the same way,
# and report every worker.
#
# Failed on cowguard 0.1 in both modes: Ruby malloc()s the alternate signal stack of
# its SIGSEGV handler (SA_ONSTACK); marked and frozen at the fork, the first
# trapped write is delivered on a read-only stack and the kernel kills the
# process with SIGSEGV (SI_KERNEL), as in ruby_perl.sh. Assertions: status,
# signal, report, output.
. "$(dirname "$0")/common.sh"
need_pkg unicorn curl

port=$(port_for 6)
mkdir -p "$TMP/app"
cp "$REAL/progs/rack_app.ru" "$TMP/app/config.ru"
cat >"$TMP/app/unicorn.conf" <<CONF
worker_processes 3
preload_app true
listen "127.0.0.1:$port"
timeout 60
CONF
for m in plain $MODES; do
    cd "$TMP/app" # unicorn works in its directory (and writes cores there)
    nsrun_bg unicorn "$m" -- unicorn -c "$TMP/app/unicorn.conf" "$TMP/app/config.ru"
    cd - >/dev/null
    d=$TMP/unicorn.$m
    if wait_ready 30 curl -sf "http://127.0.0.1:$port/hello"; then
        for u in hello table table nothing table hello; do
            echo "$u $(http_get "http://127.0.0.1:$port/$u")"
        done >"$d/responses"
        kill -QUIT "$(ns_main)" # graceful stop
    else
        echo "unicorn ($m) did not answer" >"$d/responses"
    fi
    ns_wait unicorn "$m" 40
done
for m in $MODES; do check unicorn "$m" generic responses; done
finish
