#!/bin/bash
# PostgreSQL 15 (Debian's postgresql-15): the postmaster forks its helpers
# (checkpointer, background writer, WAL writer, autovacuum launcher, ...)
# and one backend per connection; SIGINT is a fast shutdown. A cluster made
# once with initdb (plainly) is copied for each run; psql over TCP on
# 127.0.0.1 creates a table, fills it, and reads it back. Each mode must
# give the same query results, end the same way, and report every process.
# Two configurations: as installed (passed even on cowguard 0.1), and with
# shared_preload_libraries=pg_stat_statements (contrib), which the
# postmaster dlopen()s before its first fork.
#
# The second failed on cowguard 0.1 in both modes: the startup process ends right
# after recovery, and its report writer (libdw, which dlopen()s
# libdebuginfod) makes the loader write its _dl_find_object tables,
# malloc'd at the preload's dlopen, marked and frozen, with every signal
# blocked: SIGSEGV. The postmaster sees "startup process failure", shuts
# down without ever accepting a connection, and dies the same way at its
# own exit. Assertions: status, partial, report, signal, output.
. "$(dirname "$0")/common.sh"
need_pkg postgresql-15 postgresql-client-15
PGBIN=/usr/lib/postgresql/15/bin
id postgres >/dev/null 2>&1 || { echo "skip: no postgres user"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root to run the server as postgres"; exit 77; }

port=$(port_for 5)
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$TMP/pg"
chown postgres: "$TMP/pg"
as_pg "$PGBIN/initdb" -D "$TMP/pg/data" --auth=trust -U postgres >"$TMP/pg/initdb.log" 2>&1 ||
    fail "initdb failed: $(tail -3 "$TMP/pg/initdb.log")"
sql() { psql -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1" 2>&1; }
run_variant() { # NAME [postgres -c options]
    v=$1
    shift
    for m in plain $MODES; do
        data=$TMP/pg/data.$v.$m
        cp -a "$TMP/pg/data" "$data"
        nsrun_bg "$v" "$m" -- setpriv --reuid=postgres --regid=postgres --init-groups \
            "$PGBIN/postgres" -D "$data" -p "$port" -k "$TMP/pg" -c listen_addresses=127.0.0.1 \
            -c logging_collector=off -c shared_buffers=16MB "$@"
        d=$TMP/$v.$m
        if wait_ready 30 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            {
                sql "CREATE TABLE t (id int PRIMARY KEY, v text)"
                sql "INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 20000) i"
                sql "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t"
                sql "CREATE INDEX ON t (v)"
                sql "SELECT id FROM t WHERE v = md5('12345')"
                sql "VACUUM ANALYZE t"
                sql "SELECT sum(id) FROM t WHERE id % 7 = 0"
            } >"$d/responses"
            kill -INT "$(ns_main)" # fast shutdown
        else
            echo "postgres ($m) did not answer" >"$d/responses"
        fi
        ns_wait "$v" "$m" 60
    done
    for m in $MODES; do check "$v" "$m" generic responses; done
}
run_variant postgres
if [ -f /usr/lib/postgresql/15/lib/pg_stat_statements.so ]; then
    run_variant postgres_preload -c shared_preload_libraries=pg_stat_statements
else
    echo "note: no pg_stat_statements (postgresql-contrib): preload variant not run"
fi
finish
