# drive.sh: sourced by gunicorn.sh and uwsgi.sh. drive PORT MASTER_PID waits
# for the server on PORT, sends it 40 requests that each sum 5,000 prices,
# and prints each of MASTER_PID's workers' Private_Dirty while it still
# serves (to compare with the report's own figures).
drive() {
    for i in $(seq 1 100); do curl -sf "127.0.0.1:$1/sum?count=1" >/dev/null && break; sleep 0.1; done
    for i in $(seq 0 39); do curl -sf "127.0.0.1:$1/sum?start=$((i * 5000))&count=5000"; done |
        awk '{ n++; s += $1; pids[$2] = 1 } END { printf "%d requests, sum %.2f, by %d workers\n", n, s, length(pids) }'
    for w in $(pgrep -P "$2"); do
        echo "worker $w serving: $(grep Private_Dirty /proc/$w/smaps_rollup | tr -s ' ')"
    done
}

# serve NAME PORT PIDFILE SIGNAL: the server just started in the background
# ($!) has written its master's pid to PIDFILE: drive it, stop it with
# SIGNAL (every process exits, and the report is written), and wait for it.
serve() {
    server=$!
    for i in $(seq 1 100); do [ -s "$3" ] && break; sleep 0.1; done
    drive "$2" "$(cat "$3")"
    kill -"$4" "$(cat "$3")"
    wait "$server"
    echo "$1 exit status $?"
}
