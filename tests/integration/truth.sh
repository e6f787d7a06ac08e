# Every copied and shared figure of the report agrees with the kernel. The
# processes of tests/progs/truth.c measure themselves just before they leave
# (as root: page frame numbers saved at the fork; else pagemap bit 56 while
# the origin still maps the pages) and print TRUTH lines; each is compared
# with the JSON report's figure for that process: within 2%, and for a
# process killed by SIGKILL never above the truth, marked as a lower bound.
. "$SRC/tests/integration/lib.sh"
root=no
[ "$(id -u)" -eq 0 ] && root=yes

# check WHAT TRUTH-ARGS... -- compares every TRUTH line with the reports
# (tree and per-process) left in $TMP/r.*.json.
check() {
    what=$1
    shift
    rm -f "$TMP"/r.*.json
    run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.%p.json" $envs "$PROGS/truth" "$@"
    expect_rc 0 "$what"
    for _ in $(seq 50); do # a process that outlives the root writes its report later
        [ "$(ls "$TMP"/r.*.json 2>/dev/null | wc -l)" -ge "${want_reports:-1}" ] && break
        sleep 0.1
    done
    python3 - "$TMP" "$TMP/out" "$what" <<'PY' || fail "$what"
import glob, json, re, sys
reports = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/r.*.json")]
procs = {}
for r in sorted(reports, key=lambda r: r["scope"] != "process"):  # a process's own report first
    for p in r["processes"]:
        procs.setdefault(p["pid"], p)
truths = re.findall(r"TRUTH pid=(\d+) copied=(\d+) shared=(\d+)", open(sys.argv[2]).read())
assert truths, "no TRUTH line"
def near(a, b):
    return abs(a - b) <= max(1, 0.02 * b)
for pid, copied, shared in truths:
    p = procs[int(pid)]
    copied, shared = int(copied), int(shared)
    if p["copied_lower_bound"]:
        assert p["copied_pages"] <= copied, (sys.argv[3], p, copied)
        assert p["exit"]["how"] in ("signal", "running"), p
    else:
        assert near(p["copied_pages"], copied), (sys.argv[3], "copied", p["copied_pages"], "kernel", copied)
        if p["shared_bytes"] is not None and p["role"] == "child":  # the root measures after its children left
            got = p["shared_bytes"] // 4096
            assert near(got, shared), (sys.argv[3], "shared", got, "kernel", shared)
    print(f"{sys.argv[3]}: pid {pid}: copied {p['copied_pages']} (kernel {copied})"
          f"{' lower bound' if p['copied_lower_bound'] else ''}, shared "
          f"{p['shared_bytes'] // 4096 if p['shared_bytes'] is not None else '-'} (kernel {shared})")
# Every total adds up: the sites and the pages without a stack make the total.
for r in reports:
    if r["scope"] != "tree": continue
    t = r["totals"]
    work = sum(s["pages"] for s in r["sites"] if s["phase"] == "work")
    assert work + t["copied_unattributed_pages"] == t["copied_pages"], (work, t)
    assert sum(p["copied_pages"] for p in r["processes"]) == t["copied_pages"], t
PY
    cat "$TMP/out" | grep -v '^TRUTH\|^child\|^read' >/dev/null
}

envs=""
for k in 1 10 1000; do
    check "scatter $k, exit" scatter "$k" exit
    check "scatter $k, _exit" scatter "$k" _exit
done
pass "1, 10 and 1000 scattered pages, by exit and _exit: copied and shared as the kernel says"
for how in exit _exit term kill; do
    check "scatter 50000, $how" scatter 50000 "$how"
done
pass "50,000 scattered pages (thawed in bulk past the mapping budget), by exit, _exit, SIGTERM and SIGKILL (a lower bound)"
check "eight threads on eight pages" threads
pass "eight threads writing the same eight pages at once: 8 copied"
check "read of 100 bytes into a frozen 1 MiB buffer, then SIGKILL" kernel 100
check "read of 9000 bytes into a frozen 1 MiB buffer, then SIGKILL" kernel 9000
pass "a kernel write counts only what the kernel wrote (lower bound after SIGKILL)"
envs="COWGUARD_FREEZE_PARENT=0"
check "the root writes 10 pages under COWGUARD_FREEZE_PARENT=0" parent 10
envs=""
pass "COWGUARD_FREEZE_PARENT=0: the root's copies are counted"
want_reports=3 check "a child copies 20 pages, forks a grandchild and leaves first" grandchild 20
pass "a grandchild that holds its parent's copies: the copies stay counted"
if [ "$root" = yes ]; then
    want_reports=2 check "the root leaves first, then the child writes 1000 pages" outlive 1000
    pass "a child outliving the root: its writes after the root left copy nothing, and the report says so"
else
    echo "skip: the child outliving the root needs root (page frame numbers are the only truth then)"
fi

# Writes made after a process began to exit (its atexit handlers) are
# counted apart, and their sites too.
rm -f "$TMP"/r.*.json
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.%p.json" "$PROGS/truth" atexit 30
expect_rc 0 "atexit"
python3 - "$TMP" "$TMP/out" <<'PY' || fail "atexit: during exit"
import glob, json, re, sys
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/r.*.json")) if x["scope"] == "tree"][0]
pid, work, late = map(int, re.search(r"TEARDOWN pid=(\d+) work=(\d+) exit=(\d+)", open(sys.argv[2]).read()).groups())
assert (work, late) == (30, 60), (work, late)  # the kernel's counts
p = [p for p in r["processes"] if p["pid"] == pid][0]
assert p["copied_pages"] == work and p["exit_copied_pages"] == late, p
assert r["totals"]["exit_copied_pages"] == late and r["totals"]["copied_pages"] == work, r["totals"]
assert sum(s["pages"] for s in r["sites"] if s["phase"] == "exit") == late, r["sites"]
PY
pass "writes by atexit handlers: counted apart, as during exit, with their own sites"

# The pickled-argument mistake (pool_numpy.py's question): each worker holds its
# own unpickled copy of an 80 MiB object. That is memory the worker
# allocated, not copy-on-write: the report must say so, and not call it
# shared or copied.
for py in /usr/bin/python3 python3; do command -v "$py" >/dev/null 2>&1 && break; done
rc=0
"$BUILD/tools/cowguard" --python --prefork --report-format json --report "$TMP/p.%p.json" -- \
    "$py" "$SRC/tests/progs/pickled_pool.py" 80 >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "pickled pool"
python3 - "$TMP" "$TMP/out" <<'PY' || fail "pickled pool: report"
import glob, json, re, sys
r = [x for x in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/p.*.json")) if x["scope"] == "tree"][0]
out = open(sys.argv[2]).read()
# A worker's peak, less the code pages it faulted in, less its memory at its fork.
workers = {int(m[0]): int(m[1]) - int(m[2]) - int(m[3])
           for m in re.findall(r"WORKER pid=(\d+) peak_kb=(\d+) file_kb=(\d+) fork_kb=(\d+)", out)}
assert len(workers) == 2, workers
t = r["totals"]
for p in r["processes"]:
    if p["pid"] not in workers: continue
    truth = workers[p["pid"]]  # what the worker grew, by the kernel's high-water mark
    assert p["own_peak_kb"] >= 80 * 1024, p
    assert abs(p["own_peak_kb"] - truth) <= max(1024, 0.02 * truth), (p["own_peak_kb"], truth)
    assert p["copied_bytes"] < 80 << 20, p  # the object's pages were not copied
assert t["shared_bytes"] <= t["frozen_bytes"], t
assert t["own_peak_bytes"] >= 160 << 20, t
PY
"$BUILD/tools/cowguard" --python --prefork -- "$py" "$SRC/tests/progs/pickled_pool.py" 80 >"$TMP/out" 2>"$TMP/err" || true
expect_err "workers' own memory grew up to 1[0-9][0-9].[0-9] MiB each: allocated in the worker, not copied" "pickled pool, text"
pass "a Pool that pickles an 80 MiB object into each task: the workers' own memory, measured, and said so"
