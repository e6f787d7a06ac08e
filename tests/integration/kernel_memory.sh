# Memory the kernel writes on its own is never left frozen: alternate signal
# stacks (an 8 KiB one included, with backtraces on), thread and coroutine
# stacks, buffers of calls blocked across a fork in another thread, stdio
# and directory streams, and the dynamic loader's structures (dlopen before
# and after the first fork, and libdw's at the report). Each mode runs
# plainly first: the program's own verdict must not change.
. "$SRC/tests/integration/lib.sh"

check_mode() { # WHAT ENV... -- ARGS...
    what=$1
    shift
    plain "$PROGS/kernel_memory" "$@"
    expect_rc 0 "$what without cowguard"
    run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" $envs "$PROGS/kernel_memory" "$@"
    expect_rc 0 "$what"
    expect_out "child: ok" "$what"
    expect_out "parent: ok" "$what"
    python3 - "$TMP/r.json" <<'PY' || fail "$what: report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["processes"] >= 2, r["totals"]
assert all(p["exit"]["how"] in ("exit", "_exit") for p in r["processes"]), [p["exit"] for p in r["processes"]]
PY
    rm -f "$TMP/r.json"
}

envs=""
check_mode "alternate signal stack of 64 KiB" altstack 65536
check_mode "alternate signal stack of 8 KiB (the old SIGSTKSZ)" altstack 8192
pass "alternate signal stacks in marked memory: signals and trapped writes on them work (8 KiB included)"
check_mode "alternate stack made of a frozen block after the fork" altstack-late
pass "a frozen block made an alternate stack after the fork is thawed for it"
check_mode "pthread_attr_setstack" setstack
pass "threads on stacks given to pthread_attr_setstack run across and after a fork"
check_mode "makecontext" makecontext
pass "a coroutine on a marked stack runs after the fork"
check_mode "calls in flight" inflight
pass "read, recv and epoll_wait blocked across a fork complete into marked buffers; the child's copies are frozen"
check_mode "stdio" stdio "$TMP/lines"
pass "fread (large and small), fgets, getline, fgetc, fscanf, fseek into frozen memory: the same data as without cowguard"
mkdir "$TMP/dir"
check_mode "readdir" readdir "$TMP/dir"
pass "a directory stream opened in a region reads in the child"
envs="COWGUARD_PREFORK=1"
check_mode "dlopen around the first fork" dlopen
run COWGUARD_PREFORK=1 "$PROGS/kernel_memory" dlopen
expect_rc 0 "dlopen, text report (libdw is loaded for file:line)"
expect_err "copy-on-write report for process tree" "dlopen, text report"
pass "dlopen before and after the first fork, and libdw at the report, under COWGUARD_PREFORK=1"
