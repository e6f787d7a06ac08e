#!/bin/bash
# Apache httpd with mpm_prefork (Debian's apache2): the parent loads its
# modules (dlopen) and reads the configuration, then forks StartServers
# workers that switch to www-data and serve; SIGWINCH is a graceful stop
# (workers finish and exit, then the parent). Each mode must serve the same
# responses as the plain run, end the same way, and report every worker.
#
# Failed on cowguard 0.1 in both modes: the parent and every worker die by SIGSEGV at
# exit, with an empty *.partial report: the report writer dlopen()s libdw
# (srcline.c) with every signal blocked, and the loader's update of its
# _dl_find_object tables writes memory it malloc'd when the modules were
# dlopen()ed before the fork, which is marked and frozen; a write fault
# with SIGSEGV blocked is fatal. The parent, whose page was thawed
# earlier, exits 0 with a report that says its workers exited 0 too: their
# slots were filled in before the report that killed them. Assertions
# failing: partial, exit, signal.
. "$(dirname "$0")/common.sh"
need_pkg apache2 curl

port=$(port_for 1)
mkdir -p "$TMP/www"
echo "hello from apache" >"$TMP/www/index.html"
head -c 300000 /dev/urandom >"$TMP/www/blob"
chmod -R a+rX "$TMP/www"
M=/usr/lib/apache2/modules
for m in plain $MODES; do
    c=$TMP/conf.$m
    mkdir -p "$c"
    chmod 777 "$c"
    cat >"$c/httpd.conf" <<CONF
ServerRoot $c
ServerName localhost
Listen 127.0.0.1:$port
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule mime_module $M/mod_mime.so
StartServers 3
MinSpareServers 3
MaxSpareServers 4
MaxRequestWorkers 4
User www-data
Group www-data
PidFile $c/httpd.pid
ErrorLog $c/error.log
LogLevel info
Mutex file:$c default
DefaultRuntimeDir $c
TypesConfig /etc/mime.types
DocumentRoot $TMP/www
<Directory $TMP/www>
  Require all granted
</Directory>
GracefulShutdownTimeout 10
${APACHE_EXTRA:-}
CONF
    nsrun_bg apache "$m" -- apache2 -f "$c/httpd.conf" -DFOREGROUND
    d=$TMP/apache.$m
    if wait_ready 20 curl -sf "http://127.0.0.1:$port/index.html"; then
        sleep 1 # all StartServers workers up
        for u in index.html blob blob blob nothing-here index.html; do
            echo "$u $(http_get "http://127.0.0.1:$port/$u")"
        done >"$d/responses"
        main=$(ns_main)
        kill -WINCH "$main" # graceful stop
    else
        echo "apache ($m) did not answer" >"$d/responses"
    fi
    ns_wait apache "$m" 30
    cp "$c/error.log" "$d/error.log" 2>/dev/null
done
for m in $MODES; do check apache "$m" generic responses; done
finish
