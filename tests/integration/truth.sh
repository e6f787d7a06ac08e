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
