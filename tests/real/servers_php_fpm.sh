#!/bin/bash
# php-fpm (Debian's php-fpm): the master loads PHP's extensions and forks a
# static pool of 3 workers (www-data) that answer FastCGI requests
# (progs/fcgi_get.py plays the web server); SIGQUIT is a graceful stop.
# Each mode must answer as the plain run, end the same way, and report
# every worker.
#
# Failed on cowguard 0.1 in mode A: PHP loads its extensions with RTLD_DEEPBIND, so
# their malloc/free bind to the C library's own, not cowguard's; pdo.so's
# module startup frees a block the program allocated (marked: everything
# before the first fork is) with glibc's free, which aborts with "double
# free or corruption (out)" before any worker exists. Assertions: status,
# signal (SIGABRT), output. Mode B passes by luck: that block is smaller
# than 64 bytes.
. "$(dirname "$0")/common.sh"
need_pkg php-fpm
fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1)
[ -x "$fpm" ] || { echo "skip: no php-fpm binary in /usr/sbin"; exit 77; }

port=$(port_for 4)
mkdir -p "$TMP/www"
cat >"$TMP/www/index.php" <<'PHP'
<?php
$a = [];
for ($i = 0; $i < 5000; $i++) $a["k$i"] = str_repeat("v", $i % 50);
echo "hello from php ", count($a), " ", md5(json_encode($a)), " ", $_GET["n"] ?? "-", "\n";
PHP
chmod -R a+rX "$TMP/www"
for m in plain $MODES; do
    c=$TMP/conf.$m
    mkdir -p "$c"
    chmod 777 "$c"
    cat >"$c/fpm.conf" <<CONF
[global]
pid = $c/fpm.pid
error_log = $c/error.log
daemonize = no
[www]
listen = 127.0.0.1:$port
user = www-data
group = www-data
pm = static
pm.max_children = 3
CONF
    nsrun_bg php_fpm "$m" -- "$fpm" -F -R -y "$c/fpm.conf"
    d=$TMP/php_fpm.$m
    get() { "$PY" "$REAL/progs/fcgi_get.py" 127.0.0.1 "$port" "$TMP/www/index.php" "$@"; }
    if wait_ready 20 get; then
        for n in 1 2 3 4 5 6; do echo "$n $(get "n=$n" | tail -1)"; done >"$d/responses"
        kill -QUIT "$(ns_main)" # graceful stop
    else
        echo "php-fpm ($m) did not answer" >"$d/responses"
    fi
    ns_wait php_fpm "$m" 30
    cp "$c/error.log" "$d/error.log" 2>/dev/null
done
for m in $MODES; do check php_fpm "$m" generic responses; done
finish
