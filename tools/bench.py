#!/usr/bin/env python3
"""bench.py: cowguard's benchmarks, each measured side by side in one run.

    python3 tools/bench.py --build BUILDDIR [--pairs N] [--quick] [--out docs]

Each benchmark runs the same workload plainly and under cowguard (or in two
cowguard settings), alternating, N pairs, and reports the medians and their
ratio. With --out, writes performance.md and perf.svg there. --quick runs
small sizes and one pair, to check the suite works (make check runs that).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape


class Bench:
    def __init__(self, build, quick):
        self.build = build
        self.lib = os.path.join(build, ".libs", "libcowguard.so")
        self.quick = quick
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COWGUARD_")}
        self.env.pop("LD_PRELOAD", None)

    def run(self, argv, preload=False, extra=None, want=None):
        env = dict(self.env)
        if preload:
            env["LD_PRELOAD"] = self.lib
            env.setdefault("COWGUARD_REPORT", "off")
        env.update(extra or {})
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr[-500:]}")
        if want is None:
            return p.stdout
        m = re.search(want + r"=([0-9.]+)", p.stdout)
        if not m:
            raise RuntimeError(f"{' '.join(argv)}: no {want} in {p.stdout[-300:]}")
        return float(m.group(1))

    def pairs(self, n, a, b):
        """Run a() and b() alternately n times; their medians."""
        return self.rounds(n, [a, b])

    def rounds(self, n, fns, raw=False):
        """Run each of fns in turn, n rounds; the median of each (raw: every
        result of each)."""
        got = [[] for _ in fns]
        for _ in range(n):
            for k, f in enumerate(fns):
                got[k].append(f())
        return got if raw else [statistics.median(g) for g in got]


def prog(b, name):
    return os.path.join(b.build, "bench", name)


PYTHON_WORK = r"""
import time
t = time.perf_counter()
n = 0
for r in range(%d):
    d = {i: str(i) * 3 for i in range(20000)}
    l = [list(range(i %% 50)) for i in range(20000)]
    n += len(d) + len(l)
    del d, l
print("ns_per_op=%%.2f" %% ((time.perf_counter() - t) * 1e9 / (%d * 40000)))
"""


def benchmarks(b, npairs):
    q = b.quick
    ops = "400000" if q else "4000000"
    rows = []

    def row(name, measures, plain_label, cg_label, plain, cg, unit, target, ok, note="", others=None):
        rows.append({"name": name, "measures": measures, "a_label": plain_label, "b_label": cg_label,
                     "a": plain, "b": cg, "unit": unit, "ratio": cg / plain if plain else float("nan"),
                     "target": target, "ok": ok, "note": note, "others": others or {}})

    alloc = prog(b, "alloc")
    for threads in ("1", "2"):
        a, c = b.pairs(npairs, lambda: b.run([alloc, threads, ops], want="ns_per_op"),
                       lambda: b.run([alloc, threads, ops], True, want="ns_per_op"))
        row(f"pass-through, C, {threads} thread{'s' if threads != '1' else ''}",
            "malloc+free pairs, nothing marked", "plain", "under cowguard", a, c, "ns/op",
            "<= 1.02x; <= 2 ns added", c / a <= 1.02 or c - a <= 2, f"{c - a:+.1f} ns per op")
    if shutil.which("valgrind"):
        # Instructions, not time: callgrind counts are the same run after run,
        # so the pass-through cost per operation shows under the noise.
        def instr(ops, preload):
            env = dict(b.env)
            if preload:
                env.update(LD_PRELOAD=b.lib, COWGUARD_REPORT="off")
            p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", alloc, "1", ops],
                               env=env, capture_output=True, text=True, timeout=600)
            return int(re.search(r"Collected : (\d+)", p.stderr).group(1))
        lo, hi = ("20000", "40000") if q else ("200000", "400000")
        per = [(instr(hi, pre) - instr(lo, pre)) / (int(hi) - int(lo)) for pre in (False, True)]
        row("pass-through, instructions", "per malloc+free pair, 1 thread (callgrind)", "plain", "under cowguard",
            per[0], per[1], "instr/op", "<= 10 added", per[1] - per[0] <= 10,
            f"{per[1] - per[0]:+.0f} instructions per op")

    py = sys.executable
    rounds = 2 if q else 10
    code = PYTHON_WORK % (rounds, rounds)
    a, c = b.pairs(npairs, lambda: b.run([py, "-c", code], want="ns_per_op"),
                   lambda: b.run([py, "-c", code], True, want="ns_per_op"))
    row("pass-through, Python", "dicts and lists, nothing marked", "plain", "under cowguard", a, c, "ns/object",
        "<= 1.02x", c / a <= 1.02)

    no_bt = {"COWGUARD_BACKTRACE": "0"}
    for threads in ("1", "2"):
        a, c = b.pairs(npairs, lambda: b.run([alloc, threads, ops], want="ns_per_op"),
                       lambda: b.run([alloc, threads, ops, "marked"], True, no_bt, want="ns_per_op"))
        row(f"marked allocation, {threads} thread{'s' if threads != '1' else ''}",
            "every allocation marked, no backtraces", "glibc malloc", "cowguard arena", a, c, "ns/op",
            "<= 1.0x glibc", c <= a)

    small_ops = "200000" if q else "1000000"
    a, c = b.pairs(npairs, lambda: b.run([alloc, "1", small_ops, "marked"], True, no_bt, want="ns_per_op"),
                   lambda: b.run([alloc, "1", small_ops, "marked"], True, {"COWGUARD_BACKTRACE": "16"},
                                 want="ns_per_op"))
    row("site capture", "marked allocation, COWGUARD_BACKTRACE=16", "BACKTRACE=0", "BACKTRACE=16", a, c, "ns/op",
        "<= 200 ns added", c - a <= 200, f"{c - a:+.0f} ns per allocation")

    rows.extend(patterns(b, npairs))

    forkp = prog(b, "fork")
    sizes = ["64"] if q else ["256", "1024"]
    if not q and mem_available_gib() >= 20:
        sizes.append("8192")  # 8 GiB touched, in each of the two processes' turns
    for mb in sizes:
        forks = "3" if mb == "8192" else "10"
        def fork_run(extra=None, marked=True):
            out = b.run([forkp, mb, forks] + (["marked"] if marked else []), marked, extra)
            return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", out)}
        small = {"COWGUARD_HUGE_PAGES": "0"}
        runs = b.rounds(npairs if mb != "8192" else min(npairs, 3),
                        [lambda: fork_run(marked=False), lambda: fork_run(),
                         lambda: fork_run({"COWGUARD_FREEZE_PARENT": "0"}), lambda: fork_run(small),
                         lambda: fork_run(dict(small, COWGUARD_FREEZE_PARENT="0"))], raw=True)
        (plain, cg, thawed, cg4k, thawed4k) = [{k: statistics.median(d[k] for d in r) for k in r[0]} for r in runs]
        size = f"{int(mb) // 1024} GiB" if int(mb) >= 1024 else f"{mb} MiB"
        row(f"first fork, {size}", "the fork that freezes the heap (touched)", "plain fork", "fork + freeze",
            plain["first_us"], cg["first_us"], "us", "<= 1.2x", cg["first_us"] / plain["first_us"] <= 1.2,
            "huge pages")
        row(f"first fork, {size}, 4 KiB pages", "the same, COWGUARD_HUGE_PAGES=0", "plain fork", "fork + freeze",
            plain["first_us"], cg4k["first_us"], "us", "<= 1.2x", cg4k["first_us"] / plain["first_us"] <= 1.2)
        if mb == "8192":
            continue
        row(f"later forks, {size}", "fork latency once frozen", "plain fork", "fork, frozen", plain["us_per_fork"],
            cg["us_per_fork"], "us/fork", "<= 1.1x", cg["us_per_fork"] / plain["us_per_fork"] <= 1.1)
        row(f"later forks, {size}, FREEZE_PARENT=0", "fork latency, the parent thawed after each fork", "plain fork",
            "fork, freeze, thaw", plain["us_per_fork"], thawed["us_per_fork"], "us/fork", "<= 1.1x",
            thawed["us_per_fork"] / plain["us_per_fork"] <= 1.1, "huge pages")
        row(f"later forks, {size}, FREEZE_PARENT=0, 4 KiB pages", "the same, COWGUARD_HUGE_PAGES=0", "plain fork",
            "fork, freeze, thaw", plain["us_per_fork"], thawed4k["us_per_fork"], "us/fork", "<= 1.1x",
            thawed4k["us_per_fork"] / plain["us_per_fork"] <= 1.1)
        row(f"reaping, {size}", "fork's return to the child's end (it exits at once)", "plain", "under cowguard",
            plain["reap_us"], cg["reap_us"], "us", "<= 1.1x", cg["reap_us"] / plain["reap_us"] <= 1.1)

    # 8,000 pages: every write traps. 100,000: past the mapping budget,
    # cowguard thaws larger units part way and most writes do not trap.
    faultp = prog(b, "fault")
    for pages in (("8000",) if q else ("8000", "100000")):
        for order in ("seq", "random"):
            a, c = b.pairs(npairs, lambda: b.run([faultp, pages, order], want="ns_per_page"),
                           lambda: b.run([faultp, pages, order, "marked"], True, want="ns_per_page"))
            row(f"trapped write, {'sequential' if order == 'seq' else 'random'}, {int(pages):,} pages",
                f"first write to each shared page, 16-frame writer stacks", "copy-on-write fault", "under cowguard",
                a, c, "ns/page", "<= 2x", c / a <= 2)

    rounds = "5" if q else "100"
    reportp = prog(b, "report")

    def report_time(where):
        start = time.monotonic()
        out = b.run([reportp, rounds], True, {"COWGUARD_REPORT": where})
        end = time.monotonic()
        at = float(re.search(r"exit_at=([0-9.]+)", out).group(1))
        return max(0.0, (end - at) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        a, c = b.pairs(npairs if q else min(npairs, 3), lambda: report_time("off"),
                       lambda: report_time(os.path.join(tmp, f"r.{time.monotonic_ns()}.txt")))
    row("report", f"10,000 sites, {int(rounds) * 10000:,} trapped writes", "no report", "text report", a, c, "ms",
        "< 100 ms", c - a < 100, f"{c - a:.1f} ms to write the report")

    rows.extend(shutdown(b, npairs))
    rows.extend(whole_tree(b, npairs))
    rows.extend(python_rows(b, npairs))
    rows.extend(sharing(b))
    return rows


def mem_available_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0


PRELOADED = {"jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
             "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"}


def patterns(b, npairs):
    """The allocation patterns mimalloc-bench showed costly (bench/churn.c):
    plain glibc, cowguard passing through, every allocation marked without
    and with 16-frame stacks, and jemalloc and mimalloc preloaded beside."""
    q = b.quick
    churn = prog(b, "churn")
    work = [("server", "2", "400000" if q else "4000000", "larson-style server: blocks freed by another thread"),
            ("thread", "2", "400000" if q else "8000000", "glibc-thread style: each thread its own blocks"),
            ("large", "1", "20" if q else "150", "blocks of 5..25 MiB, filled, 20 live"),
            ("append", "1", "200000", "realloc by 16 bytes, 200,000 times")]
    mark = {"COWGUARD_MIN_SIZE": "1", "COWGUARD_BACKTRACE": "0"}
    others = {k: v for k, v in PRELOADED.items() if os.path.exists(v)}
    rows = []
    for pattern, threads, ops, what in work:
        argv = [churn, pattern, threads, ops]
        fns = [lambda: b.run(argv, want="ns_per_op"),
               lambda: b.run(argv, True, want="ns_per_op"),
               lambda: b.run(argv, True, mark, want="ns_per_op"),
               lambda: b.run(argv, True, dict(mark, COWGUARD_BACKTRACE="16"), want="ns_per_op")]
        for lib in others.values():
            fns.append(lambda lib=lib: b.run(argv, extra={"LD_PRELOAD": lib}, want="ns_per_op"))
        got = b.rounds(npairs, fns)
        plain, passing, marked, traced = got[:4]
        beside = {name: got[4 + k] / plain for k, name in enumerate(others)}
        rows.append(row_of(f"pass-through, {pattern}", what + ", nothing marked", "plain", "under cowguard",
                           plain, passing, "ns/op", "<= 1.02x", passing / plain <= 1.02, others=beside))
        limit = 2.0 if pattern == "append" else 1.5
        rows.append(row_of(f"marked, {pattern}", what + ", every block marked, no stacks", "glibc malloc",
                           "cowguard arena", plain, marked, "ns/op", f"<= {limit}x glibc", marked / plain <= limit,
                           others=beside))
        rows.append(row_of(f"site capture, {pattern}", what + ", COWGUARD_BACKTRACE=16", "BACKTRACE=0",
                           "BACKTRACE=16", marked, traced, "ns/op", "<= 1.5x", traced / marked <= 1.5))
    # Appending is amortized O(1): twice the appends, the same time per append.
    argv = [churn, "append", "1"]
    one, two = b.rounds(npairs, [lambda: b.run(argv + ["200000"], True, mark, want="ns_per_op"),
                                 lambda: b.run(argv + ["400000"], True, mark, want="ns_per_op")])
    rows.append(row_of("marked, append x2", "realloc by 16 bytes: 400,000 against 200,000 times", "200,000",
                       "400,000", one, two, "ns/append", "<= 1.2x (linear)", two / one <= 1.2))
    return rows


def row_of(name, measures, a_label, b_label, a, c, unit, target, ok, note="", others=None):
    return {"name": name, "measures": measures, "a_label": a_label, "b_label": b_label, "a": a, "b": c,
            "unit": unit, "ratio": c / a if a else float("nan"), "target": target, "ok": ok, "note": note,
            "others": others or {}}


def shutdown(b, npairs):
    """A preforking server's shutdown (bench/server.c): from SIGTERM to the
    parent's exit, plain and under COWGUARD_PREFORK=1 with a report."""
    server = prog(b, "server")
    blocks = "20000" if b.quick else "200000"

    def once(preload, tmp):
        env = dict(b.env)
        if preload:
            env.update(LD_PRELOAD=b.lib, COWGUARD_PREFORK="1",
                       COWGUARD_REPORT=os.path.join(tmp, f"r.{time.monotonic_ns()}.txt"))
        p = subprocess.Popen([server, "4", blocks], stdout=subprocess.PIPE, env=env, text=True)
        if p.stdout.readline().strip() != "ready":
            p.kill()
            raise RuntimeError("server: no ready line")
        time.sleep(0.2)
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)
        if p.wait(timeout=120) != 0:
            raise RuntimeError(f"server: exit {p.returncode}")
        return (time.monotonic() - start) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        a, c = b.pairs(npairs, lambda: once(False, tmp), lambda: once(True, tmp))
    return [row_of("server shutdown", "4 workers killed, reaped, report written", "plain", "COWGUARD_PREFORK=1",
                   a, c, "ms", "<= 50 ms added", c - a <= 50, f"{c - a:+.0f} ms")]


# The four seeds' programs and five more of the same kind (docs/examples),
# as their users run them: (script and arguments, extra environment, what
# it is). pool_numpy.py's buffer is marked by size, as its docstring says.
PYTHON_WORKLOADS = [
    (["pool_classifier.py"], {}, "seed 000: a classifier in a global"),
    (["pool_bin_cache.py"], {}, "seed 001: a bin() cache through an initializer"),
    (["pool_ids_ctypes.py"], {}, "seed 002: objects passed by id()"),
    (["pool_numpy.py", "global", "400"], {"COWGUARD_MIN_SIZE": "1M"}, "seed 003: a 400 MB NumPy array"),
    (["pool_paths.py"], {}, "a list of a million paths"),
    (["pool_pandas.py"], {}, "a pandas catalogue"),
    (["pool_numpy.py", "self", "40"], {"COWGUARD_MIN_SIZE": "1M"}, "an instance passed as self"),
    (["executor_dict.py"], {}, "a ProcessPoolExecutor"),
    (["executor_dict.py", "--gc-freeze"], {}, "the same, gc.freeze() first"),
]


def whole_tree(b, npairs):
    """The rest of a child's memory: measured at every fork and exit
    (COWGUARD_MEASURE=all, the launcher's default), and watched in place
    (COWGUARD_WATCH=heap) on the unmodified interleaved table."""
    rows = []
    forkp = prog(b, "fork")
    mb = "64" if b.quick else "256"
    with tempfile.TemporaryDirectory() as tmp:
        n_reports = [0]

        def report():  # the root's report, to a file of its own each run
            n_reports[0] += 1
            return {"COWGUARD_REPORT": os.path.join(tmp, f"r{n_reports[0]}.txt")}

        def fork_run(extra):
            out = b.run([forkp, mb, "10"], extra is not None, extra)
            return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", out)}
        runs = b.rounds(npairs, [lambda: fork_run(None), lambda: fork_run(dict(report(), COWGUARD_MEASURE="all"))],
                        raw=True)
        plain, measured = [{k: statistics.median(d[k] for d in r) for k in r[0]} for r in runs]
        rows.append(row_of(f"measured forks, {mb} MiB", "a child's fork and end, nothing marked, "
                           "COWGUARD_MEASURE=all (its mappings listed at the fork, pagemap read at its end)",
                           "plain", "measured", plain["reap_us"], measured["reap_us"], "us", "<= 2x",
                           measured["reap_us"] / plain["reap_us"] <= 2,
                           f"later forks {measured['us_per_fork'] / plain['us_per_fork']:.2f}x"))
        table = os.path.join(b.build, "examples", "table_counters")
        n = "20000" if b.quick else "200000"

        def timed(extra):
            start = time.monotonic()
            b.run([table, "-n", n, "-w", "3"], extra is not None, extra)
            return (time.monotonic() - start) * 1000
        a, c = b.pairs(npairs, lambda: timed(None), lambda: timed(dict(report(), COWGUARD_WATCH="heap")))
        pages = 3 * int(n) * 128 // 4096
        rows.append(row_of(f"watched in place, {int(n):,}-node table", "table_counters, 3 workers, nothing marked: "
                           "the whole run, report included", "plain", "COWGUARD_WATCH=heap", a, c, "ms", "<= 2x",
                           c / a <= 2, f"{(c - a) * 1000 / pages:.1f} us per copied page, site capture included"))
    return rows


def python_rows(b, npairs):
    """The Python workloads (docs/examples) as their users run them: plainly
    (the helper found on PYTHONPATH marks nothing without the library) and
    under `cowguard --python`, which writes its text report to a file."""
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    here = os.path.dirname(os.path.abspath(__file__))
    launcher = os.path.join(b.build, "tools", "cowguard")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for argv, env, what in PYTHON_WORKLOADS:
            script = os.path.join(here, "..", "docs", "examples", argv[0])
            need = {"pool_pandas.py": "pandas", "pool_numpy.py": "numpy"}.get(argv[0])
            if need and subprocess.run([py, "-c", f"import {need}"], capture_output=True).returncode != 0:
                continue
            if b.quick and argv[0] != "pool_bin_cache.py":
                continue

            def timed(cmd, extra):
                e = dict(b.env)
                e.update(extra)
                start = time.monotonic()
                p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-300:]}")
                return (time.monotonic() - start) * 1000
            report = os.path.join(tmp, "r.%p.txt")
            a, c = b.pairs(npairs, lambda: timed([py, script] + argv[1:], {"PYTHONPATH": os.path.join(here, "python")}),
                           lambda: timed([launcher, "--python", "--report", report, "--", py, script] + argv[1:], env))
            rows.append(row_of(f"Python, {' '.join(argv)}", f"{what}: the whole run, report included", "plain",
                               "cowguard --python", a, c, "ms", "<= 1.3x", c / a <= 1.3))
    return rows


def sharing(b):
    """What the kernel says each worker copied: lookup_table's nodes, and the
    NumPy example's workers' private memory."""
    rows = []
    lookup = os.path.join(b.build, "examples", "lookup_table")
    out_plain = b.run([lookup, "-w", "4"])
    out_cg = b.run([lookup, "-w", "4"], True)

    def copied(out):
        m = re.search(r"node_pages=(\d+) copied=([\d,]+)", out)
        return int(m.group(1)), sum(int(x) for x in m.group(2).split(","))
    pages, plain = copied(out_plain)
    _, cg = copied(out_cg)
    rows.append({"name": "sharing, read-only table", "measures": f"node pages copied by 4 workers ({pages} each)",
                 "a_label": "plain malloc", "b_label": "under cowguard", "a": plain, "b": cg, "unit": "pages",
                 "ratio": cg / plain if plain else float("nan"), "target": "0 vs all", "ok": cg == 0 and plain == 4 * pages,
                 "note": ""})
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    seed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "examples", "pool_numpy.py")
    if subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode != 0:
        return rows
    mb = "40" if b.quick else "400"
    with tempfile.TemporaryDirectory() as tmp:
        # The plain run measures its workers with the same report machinery:
        # cowguard with nothing marked freezes nothing, so COWGUARD_MIN_SIZE
        # is what differs.
        b.run([py, seed, "global", mb], True, {"COWGUARD_MIN_SIZE": "1M", "COWGUARD_REPORT_FORMAT": "json",
                                                "COWGUARD_REPORT": os.path.join(tmp, "r.%p.json")})
        tree = [json.load(open(os.path.join(tmp, f))) for f in os.listdir(tmp)]
        tree = [r for r in tree if r["scope"] == "tree"][0]
        kids = [p for p in tree["processes"] if p["role"] == "child" and p["measured"]]
        uss = statistics.median(p["private_dirty_kb"] for p in kids) / 1024 if kids else float("nan")
        copied_mb = tree["totals"]["copied_bytes"] / 2**20
    plain_uss = plain_worker_uss(py, seed, mb)
    rows.append({"name": "sharing, NumPy example", "measures": f"{mb} MB array read by 4 workers: worker Private_Dirty",
                 "a_label": "plain", "b_label": "under cowguard", "a": plain_uss, "b": uss, "unit": "MB",
                 "ratio": uss / plain_uss if plain_uss else float("nan"), "target": "within 2 MB",
                 "ok": abs(uss - plain_uss) <= 2, "note": f"{copied_mb:.1f} MB copied under cowguard"})
    return rows


WORKER_USS = r"""
import multiprocessing as mp, statistics, sys
import numpy as np
array = np.arange(int(sys.argv[1]) * (1 << 20) // 8, dtype=np.float64)  # as pool_numpy.py's MyClass
def uss(i):
    float(array[i::4].sum())
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
with mp.get_context("fork").Pool(4) as pool:
    print("mb=%.2f" % (statistics.median(pool.map(uss, range(4), chunksize=1)) / 1024))
"""


def plain_worker_uss(py, seed, mb):
    """Private_Dirty of a plain (no cowguard) worker of the same workload."""
    p = subprocess.run([py, "-c", WORKER_USS, mb], capture_output=True, text=True, timeout=600)
    m = re.search(r"mb=([0-9.]+)", p.stdout)
    return float(m.group(1)) if m else float("nan")


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu or platform.processor()}, {os.cpu_count()} cores, Linux {platform.release()}"


def table(rows):
    lines = ["| benchmark | measures | plain | cowguard | ratio | target | met | beside (x plain) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r['note']})" if r["note"] else ""
        beside = ", ".join(f"{k} {v:.2f}x" for k, v in r.get("others", {}).items())
        lines.append(f"| {r['name']} | {r['measures']} | {r['a']:.2f} {r['unit']} ({r['a_label']}) | "
                     f"{r['b']:.2f} {r['unit']} ({r['b_label']}){note} | {r['ratio']:.2f}x | {r['target']} | "
                     f"{'yes' if r['ok'] else 'no'} | {beside} |")
    return "\n".join(lines)


def svg(rows, path):
    timed = [r for r in rows if r["unit"] not in ("pages", "MB")]
    w, left, bar, gap = 820, 300, 14, 12
    h = 70 + len(timed) * (2 * bar + gap) + 40
    span = w - left - 230
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           '<text x="10" y="24" font-size="15" font-weight="bold">cowguard: each benchmark, plain and under cowguard</text>',
           '<text x="10" y="44">bars scaled per row to the slower of the two; labels give the medians</text>']
    for i, r in enumerate(timed):
        y = 62 + i * (2 * bar + gap)
        top = max(r["a"], r["b"]) or 1
        out.append(f'<text x="10" y="{y + bar + 4}">{escape(r["name"])}</text>')
        for k, (v, lab, col) in enumerate(((r["a"], r["a_label"], "#7a8ca3"), (r["b"], r["b_label"], "#d0533b"))):
            width = span * v / top
            out.append(f'<rect x="{left}" y="{y + k * bar}" width="{width:.1f}" height="{bar - 2}" fill="{col}"/>')
            out.append(f'<text x="{left + width + 4:.1f}" y="{y + k * bar + bar - 4}">{v:.1f} {escape(r["unit"])} '
                       f'{escape(lab)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="the build directory")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small sizes, one pair: a smoke run")
    ap.add_argument("--out", help="write performance.md and perf.svg into this directory")
    ap.add_argument("--python", action="store_true", help="the Python rows only (no --out)")
    args = ap.parse_args()
    b = Bench(os.path.abspath(args.build), args.quick)
    start = time.monotonic()
    if args.python:
        args.out = None
        rows = python_rows(b, 1 if args.quick else args.pairs)
    else:
        rows = benchmarks(b, 1 if args.quick else args.pairs)
    took = time.monotonic() - start
    text = table(rows)
    print(f"machine: {machine()}")
    print(text)
    print(f"{len(rows)} benchmarks, {sum(r['ok'] for r in rows)} on target, in {took:.0f} s")
    if args.out:
        svg(rows, os.path.join(args.out, "perf.svg"))
        results = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, "
                   f"{1 if args.quick else args.pairs} pairs per benchmark, medians; "
                   f"made by `make bench` in {took:.0f} s.\n\n{text}\n\n![each benchmark](perf.svg)\n")
        doc = os.path.join(args.out, "performance.md")
        page = open(doc).read()
        begin, end = "<!-- results: written by make bench -->", "<!-- end of results -->"
        if begin in page and end in page:
            page = page[:page.index(begin) + len(begin)] + "\n" + results + page[page.index(end):]
            with open(doc, "w") as f:
                f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
