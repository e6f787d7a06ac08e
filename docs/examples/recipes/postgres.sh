#!/bin/sh
# PostgreSQL 15 (Debian's) in a temporary directory, run as the postgres
# user: initdb, the postmaster under the launcher, a table of 200,000 rows,
# four psql sessions at once, an update, then pg_ctl stop -m fast.  Run from
# the repository root, as root (it switches to postgres with runuser):
#   docs/examples/recipes/postgres.sh [LAUNCHER ARGS...]
#   docs/examples/recipes/postgres.sh "$PWD/tools/cowguard" --
# The launcher must be readable by the postgres user.  The server's log,
# with cowguard's report, is printed at the end.
set -u
bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/recipe-postgres.XXXXXX)
chown postgres: "$dir"
as_pg() { runuser -u postgres -- "$@"; }
as_pg $bin/initdb -D "$dir/data" -A trust -U postgres >/dev/null
as_pg "$@" $bin/postgres -D "$dir/data" -k "$dir" -p 5499 -c listen_addresses= 2> "$dir/log" &
server=$!
for i in $(seq 1 100); do
    [ -S "$dir/.s.PGSQL.5499" ] && as_pg psql -h "$dir" -p 5499 -Atc 'select 1' postgres >/dev/null 2>&1 && break
    sleep 0.2
done
psql() { as_pg psql -h "$dir" -p 5499 -At postgres "$@"; }
psql -c "create table t as select g as id, md5(g::text) as v from generate_series(1, 200000) g"
sessions=
for i in 1 2 3 4; do psql -c "select count(*), max(v) from t where id % $i = 0" & sessions="$sessions $!"; done
wait $sessions
psql -c "update t set v = upper(v) where id < 5000"
psql -c "select sum(length(v)) from t"
as_pg $bin/pg_ctl -D "$dir/data" stop -m fast >/dev/null
wait $server
echo "postgres exit status $?"
grep '^==' "$dir/log" >&2
rm -rf "$dir"
