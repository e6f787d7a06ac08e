#!/bin/bash
# check_real.sh: every tests/real script in turn (what a `make check-real`
# target would run), each script's log in $CG_REAL_LOGS (default: a
# temporary directory, printed), and one closing line
# "N passed, N failed, N skipped". CG_REAL_SCRIPTS="a.sh b.sh" picks
# scripts; with CG_REAL_STRICT=1 (CI) a skipped script fails the run, since a
# missing package would otherwise pass unseen (tools/bootstrap --real
# installs them all). Environment as for the scripts (CG_LIB, BUILD, SRC).
here=$(cd "$(dirname "$0")" && pwd)
scripts=${CG_REAL_SCRIPTS:-"dl_programs.sh libc_io.sh ruby_perl.sh pytest_fork.sh servers_php_fpm.sh
servers_apache.sh servers_uwsgi.sh servers_gunicorn.sh servers_unicorn.sh servers_postgres.sh cpython_tests.sh"}
logs=${CG_REAL_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
passed=0 failed=0 skipped=0
for s in $scripts; do
    start=$(date +%s)
    rc=0
    bash "$here/$s" >"$logs/${s%.sh}.log" 2>&1 || rc=$?
    secs=$(($(date +%s) - start))
    case $rc in
    0) passed=$((passed + 1)); verdict=PASS ;;
    77) skipped=$((skipped + 1)); verdict=SKIP ;;
    *) failed=$((failed + 1)); verdict=FAIL ;;
    esac
    printf '%-4s %-22s %4ds  %s\n' "$verdict" "$s" "$secs" "$(grep -c '^FAIL ' "$logs/${s%.sh}.log") failed assertion(s)"
    [ "$verdict" != FAIL ] || sed 's/^/    /' "$logs/${s%.sh}.log" | tail -40
done
echo "logs: $logs"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && { [ "${CG_REAL_STRICT:-0}" != 1 ] || [ "$skipped" -eq 0 ]; }
