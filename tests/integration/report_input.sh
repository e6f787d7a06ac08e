# cowguard-report on damaged input: truncated, malformed, mistyped, deeply
# nested, too large, not UTF-8, missing. Each gets exactly one line on
# stderr and exit status 1, never a traceback. A large valid report works.
. "$SRC/tests/integration/lib.sh"
tool="$SRC/tools/cowguard-report"
cd "$TMP"
printf '{"cowguard": "0.1.0", "root_pid": ' >trunc.json
echo '[1,2' >malformed.json
echo '{"cowguard":"0.1","root_pid":1,"totals":{},"processes":[{"pid":"x"}],"sites":[]}' >types.json
echo '{"cowguard":"0.1","root_pid":1,"totals":{},"processes":[],"sites":[{"writer":[{"function":5}]}]}' >frames.json
echo '{"cowguard":"0.1","root_pid":1,"totals":{},"processes":[{"pid":1,"exit":{"how":"vanished"}}],"sites":[]}' >exit.json
echo '{"root_pid":1}' >other.json
python3 -c "print('[' * 100000)" >deep.json
truncate -s 300M huge.json
printf '\377\376' >binary.json
for f in trunc malformed types frames exit other deep huge binary missing; do
    rc=0
    python3 "$tool" "$f.json" >out 2>err || rc=$?
    [ "$rc" -eq 1 ] || fail "$f.json: exit status $rc"
    [ "$(wc -l <err)" -eq 1 ] && grep -q "^cowguard-report: $f.json: " err || fail "$f.json: $(cat err)"
    [ ! -s out ] || fail "$f.json: printed a report"
done
pass "10 kinds of damaged input: one line each, exit 1, no traceback"

python3 - <<'PY'
import json
frames = [{"function": f"f{i}", "object": "/bin/x", "offset": hex(i)} for i in range(16)]
r = {"cowguard": "0.1.0", "root_pid": 1, "scope": "tree", "totals": {"frozen_bytes": 1 << 30},
     "processes": [{"pid": i + 1, "ppid": 1, "role": "child" if i else "root",
                    "exit": {"how": "exit", "code": 0, "signal": None}, "frozen_bytes": 1 << 30,
                    "faults": i, "copied_pages": i, "copied_bytes": i * 4096,
                    "private_dirty_kb": 4 * i, "pss_kb": 8 * i, "measured": True} for i in range(20000)],
     "sites": [{"pages": i, "writes": i, "processes": 1, "writer": frames, "allocated": frames}
               for i in range(20000)]}
json.dump(r, open("large.json", "w"))
PY
python3 "$tool" large.json >out 2>err || fail "a large report: $(cat err)"
grep -q "processes: 20000;" out || fail "a large report: wrong totals"
pass "a large valid report ($(wc -c <large.json) bytes, 20000 processes and sites) is merged"
