# With nothing marked, real programs under the preload print the same, exit
# the same and cowguard prints nothing.
. "$SRC/tests/integration/lib.sh"

same() { # DESCRIPTION COMMAND ARGS
    what=$1
    shift
    plain "$@"
    mv "$TMP/out" "$TMP/out.plain"
    mv "$TMP/err" "$TMP/err.plain"
    rc_plain=$rc
    run "$@"
    [ "$rc" -eq "$rc_plain" ] || fail "$what: exit status $rc, without cowguard $rc_plain"
    cmp -s "$TMP/out" "$TMP/out.plain" || fail "$what: stdout differs"
    cmp -s "$TMP/err" "$TMP/err.plain" || fail "$what: stderr differs"
    pass "$what (exit $rc)"
}

seq 1 20000 | sed 's/$/ line/' | sort -R >"$TMP/lines" 2>/dev/null || seq 20000 >"$TMP/lines"
same "ls -la /usr/bin" ls -la /usr/bin
same "ls of a missing file" ls /nonexistent-cowguard
same "sort" sort "$TMP/lines"
same "sort -n | uniq -c" sh -c "sort -n '$TMP/lines' | uniq -c | sort -rn | head -5"
same "bash" bash -c 'a=(); for i in $(seq 1 3000); do a+=("x$i"); done; echo "${#a[@]} ${a[2999]}"; exit 5'
same "bash with subshells" bash -c 'for i in 1 2 3; do (echo "sub $i"); done; x=$(echo hi); echo "$x"'
for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    same "$py" "$py" -c 'import json, collections
d = {str(i): [i] * 3 for i in range(50000)}
print(len(json.dumps(d)), collections.Counter(len(k) for k in d).most_common(2))'
    same "$py with PYTHONMALLOC=malloc" env PYTHONMALLOC=malloc "$py" -c 'import os, sys
d = {i: bin(i) for i in range(100000)}
pid = os.fork()
if pid == 0:
    os._exit(sum(v.count("1") for v in d.values()) % 200)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
sys.exit(3)'
done
