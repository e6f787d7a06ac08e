# A preforking server: nginx's master forks its workers with everything it
# allocated before frozen (COWGUARD_PREFORK=1). The workers must serve the
# same bytes as a plain nginx.
. "$SRC/tests/integration/lib.sh"
command -v nginx >/dev/null 2>&1 || { echo "skip: nginx is not installed (Debian: nginx-light)"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl is not installed"; exit 77; }

port=$(free_port)
mkdir -p "$TMP/www"
chmod 755 "$TMP" "$TMP/www" # nginx's workers run as an unprivileged user
head -c 300000 /dev/urandom >"$TMP/www/blob"
echo "hello from nginx" >"$TMP/www/index.html"
serve() { # NAME [VAR=VALUE ...]
    name=$1
    shift
    mkdir -p "$TMP/$name"
    cat >"$TMP/$name/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
pid $TMP/$name/nginx.pid;
error_log $TMP/$name/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/$name;
    server { listen 127.0.0.1:$port; root $TMP/www; }
}
CONF
    env "$@" nginx -c "$TMP/$name/nginx.conf" -p "$TMP/$name" >"$TMP/$name/out" 2>"$TMP/$name/err" &
    for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/index.html" >/dev/null 2>&1 && break; sleep 0.1; done
    for i in 1 2 3 4 5 6; do
        curl -sf "http://127.0.0.1:$port/blob" -o "$TMP/$name/blob.$i" || fail "$name: request failed"
    done
    curl -sf "http://127.0.0.1:$port/index.html" -o "$TMP/$name/index" || fail "$name: request failed"
    kill -QUIT "$(cat "$TMP/$name/nginx.pid")"
    wait
}
serve plain
serve cg LD_PRELOAD="$CG_LIB" COWGUARD_PREFORK=1 COWGUARD_REPORT="$TMP/cg/report.txt"
for i in 1 2 3 4 5 6; do
    cmp -s "$TMP/www/blob" "$TMP/cg/blob.$i" || fail "nginx under cowguard served different bytes"
done
cmp -s "$TMP/plain/index" "$TMP/cg/index" || fail "nginx under cowguard served a different page"
grep -q "copy-on-write report for process tree" "$TMP/cg/report.txt" || fail "no report from nginx's master"
grep -q "processes: 3;" "$TMP/cg/report.txt" || fail "expected master and 2 workers in the report"
pass "nginx, master and 2 workers, pre-fork heap frozen: same bytes served as a plain nginx; $(sed -n 's/.*processes: 3; //p' "$TMP/cg/report.txt")"
