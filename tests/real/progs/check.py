"""check.py: the assertions every tests/real script makes about one run
under cowguard, compared with the plain run of the same program.

  check.py runs PLAINDIR CGDIR LABEL
      PLAINDIR and CGDIR were made by nsrun.py (status.json, acct); CGDIR
      also has reports/ (COWGUARD_REPORT=CGDIR/reports/cg.%p.json). Prints
      one line per failed assertion, "FAIL LABEL: <assertion>: <why>", and
      a summary line; exits 1 if any assertion failed. Assertions:
        status     same exit status as the plain run
        partial    no *.partial report file left (a writer died mid-report)
        json       every report file is complete JSON with cowguard's fields
        report     at least one tree report was written
        listed     every process that wrote its own report, and every
                   child forked (without exec) by a process of a tree, is
                   in that tree's report; no process is still "running"
        exit       each listed process ended as its report says (exit
                   code, or killing signal), per the kernel's accounting
        signal     no process died by a signal the plain run had no death
                   by (crash signals SEGV/BUS/ABRT/ILL/FPE/SYS: no more of
                   them than in the plain run), per the kernel's process
                   accounting and per the reports' exit fields
  check.py acct DIR         prints DIR's process accounting records
  check.py normalize KIND <FILE
      prints FILE with what differs between runs (pids, times, addresses,
      temporary names) replaced; KIND is generic or cpython.
"""
import glob
import json
import os
import re
import struct
import sys

AFORK, ACORE, AXSIG = 0x01, 0x08, 0x10
CRASH = {4, 6, 7, 8, 11, 31}  # SIGILL SIGABRT SIGBUS SIGFPE SIGSEGV SIGSYS
SIGNAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS",
            8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM",
            15: "SIGTERM", 10: "SIGUSR1", 12: "SIGUSR2", 31: "SIGSYS"}


def signame(n):
    return SIGNAMES.get(n, f"signal {n}")


def read_acct(d):
    """acct v3 records: struct acct_v3 in <linux/acct.h>, 64 bytes each."""
    fmt = "<BBHIIIIIIf8H16s"
    size = struct.calcsize(fmt)
    try:
        data = open(os.path.join(d, "acct"), "rb").read()
    except OSError:
        return None
    recs = []
    for i in range(0, len(data) - size + 1, size):
        flag, ver, _tty, code, _uid, _gid, pid, ppid, _bt, _et, *_c, comm = \
            struct.unpack(fmt, data[i:i + size])
        if ver != 3:
            continue
        sig = code & 0x7f if flag & AXSIG else 0
        recs.append({"pid": pid, "ppid": ppid, "comm": comm.rstrip(b"\0").decode(errors="replace"),
                     "forked": bool(flag & AFORK), "signal": sig,
                     "code": None if sig else (code >> 8) & 0xff})
    return recs


def status(d):
    try:
        with open(os.path.join(d, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"status": None, "acct": False}


def fmt_status(s):
    if not s:
        return "none (did not end)"
    return f"exit {s['exit']}" if "exit" in s else f"killed by {signame(s['signal'])}"


def check_runs(plain, cg, label):
    fails = []
    notes = []

    def fail(what, why):
        fails.append(f"FAIL {label}: {what}: {why}")

    ps, cs = status(plain), status(cg)
    if ps.get("status") != cs.get("status"):
        fail("status", f"{fmt_status(cs.get('status'))}, plain run: {fmt_status(ps.get('status'))}")

    rdir = os.path.join(cg, "reports")
    files = sorted(glob.glob(os.path.join(rdir, "*")))
    partial = [f for f in files if f.endswith(".partial")]
    if partial:
        fail("partial", f"{len(partial)} report(s) left half-written: "
             + ", ".join(os.path.basename(f) + (" (empty)" if os.path.getsize(f) == 0 else "")
                         for f in partial[:5]))
    trees, own = {}, []
    for f in files:
        if f.endswith(".partial"):
            continue
        try:
            with open(f) as fh:
                r = json.load(fh)
            for k in ("root_pid", "pid", "scope", "totals", "processes", "sites"):
                r[k]
            for p in r["processes"]:
                p["pid"], p["exit"]["how"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail("json", f"{os.path.basename(f)} is not a complete cowguard JSON report ({e!r:.80})")
            continue
        if r["scope"] == "tree":
            trees[r["root_pid"]] = r
        else:
            own.append(r)
    precs, crecs = read_acct(plain), read_acct(cg)
    # Only a fork freezes; a tree that never forked (subprocess's vfork and
    # exec, say) writes no report. The kernel's accounting tells whether any
    # process was forked without exec (a fork followed by exec looks the
    # same as vfork there, so that case is not required to report).
    forked = crecs is None or any(a["forked"] for a in crecs)
    if not trees and forked:
        fail("report", "no tree report in " + rdir + f" ({len(files)} file(s))")
    elif not trees:
        notes.append("no process forked without exec: no report expected, none written")

    member = {}  # pid -> root_pid of the tree whose report lists it
    for root, r in trees.items():
        for p in r["processes"]:
            member[p["pid"]] = root
    in_any = set(member) | {r["pid"] for r in own}
    missing = []
    for r in own:
        t = trees.get(r["root_pid"])
        if t is not None and r["pid"] not in {p["pid"] for p in t["processes"]}:
            missing.append(f"{r['pid']} (wrote its own report) not in tree {r['root_pid']}")
    running = [f"{p['pid']} in tree {root}" for root, r in trees.items() for p in r["processes"]
               if p["exit"]["how"] == "running"]
    if crecs is not None:
        for a in crecs:
            # A forked child (no exec) of a process in a report inherited
            # its frozen memory: it belongs to the same tree.
            # Exit 255 or 127 without exec: most likely a vfork or
            # posix_spawn child whose exec failed (Python's _posixsubprocess
            # exits 255, glibc's posix_spawn 127); those share their
            # parent's memory, are not on cowguard's board, and the kernel's
            # accounting cannot tell them from forked children.
            vfork_like = a["code"] in (127, 255)
            if a["forked"] and not vfork_like and a["ppid"] in in_any and a["pid"] not in in_any:
                missing.append(f"{a['pid']} ({a['comm']}, child of {a['ppid']}, "
                               f"{'killed by ' + signame(a['signal']) if a['signal'] else 'exit %s' % a['code']})")
    if missing:
        fail("listed", f"{len(missing)} process(es) missing from the report: " + "; ".join(missing[:6]))
    if running:
        fail("listed", f"{len(running)} process(es) still 'running' in the tree report: "
             + ", ".join(running[:6]))

    # How each listed process ended, per the report, against the kernel.
    if crecs is not None:
        last = {a["pid"]: a for a in crecs}
        wrong = []
        seen = set()
        for r in list(trees.values()) + own:
            for p in r["processes"]:
                a = last.get(p["pid"])
                e = p["exit"]
                if a is None or e["how"] == "running" or p["pid"] in seen:
                    continue
                seen.add(p["pid"])
                rep = f"killed by {signame(e['signal'] or 0)}" if e["how"] == "signal" else f"{e['how']} {e['code']}"
                ker = f"killed by {signame(a['signal'])}" if a["signal"] else f"exit {a['code']}"
                if (e["how"] == "signal") != bool(a["signal"]) or \
                        (a["signal"] and e["signal"] != a["signal"]) or \
                        (not a["signal"] and e["code"] != a["code"]):
                    wrong.append(f"{p['pid']} ({a['comm']}): report says {rep}, kernel: {ker}")
        if wrong:
            fail("exit", f"{len(wrong)} process(es) ended otherwise than their report says: "
                 + "; ".join(wrong[:5]))

    # Deaths by signal: the kernel's account, and the reports' own.
    def deaths(recs):
        out = {}
        for a in recs or []:
            if a["signal"]:
                out.setdefault(a["signal"], []).append(a)
        return out
    pd, cd = deaths(precs), deaths(crecs)
    for sig, lst in sorted(cd.items()):
        n_plain = len(pd.get(sig, []))
        if (sig in CRASH and len(lst) > n_plain) or (sig not in CRASH and n_plain == 0):
            who = ", ".join(f"{a['pid']} {a['comm']}" for a in lst[:5])
            fail("signal", f"{len(lst)} process(es) killed by {signame(sig)} "
                 f"(plain run: {n_plain}): {who}")
    if crecs is None or precs is None:
        notes.append("no process accounting: signal deaths from the reports only")
        for root, r in trees.items():
            for p in r["processes"]:
                if p["exit"]["how"] == "signal":
                    fail("signal", f"report: {p['pid']} ({p['role']}) killed by "
                         f"{signame(p['exit']['signal'] or 0)}")
    nproc = len(crecs) if crecs is not None else "?"
    for f in fails:
        print(f)
    for n in notes:
        print(f"note {label}: {n}")
    tot = [f"{r['totals']['processes']} procs/{r['totals']['faults']} writes" for r in trees.values()]
    print(f"{label}: {'FAILED' if fails else 'ok'}: status {fmt_status(cs.get('status'))} "
          f"in {cs.get('seconds') or 0:.1f}s (plain {ps.get('seconds') or 0:.1f}s); "
          f"{len(files)} report file(s), {len(trees)} tree(s) [{', '.join(tot[:4])}]; "
          f"{nproc} process(es) ended")
    return 1 if fails else 0


def normalize(kind, text):
    t = text
    t = re.sub(r"/tmp/[\w.+-]+", "/tmp/X", t)
    t = re.sub(r"0x[0-9a-fA-F]+", "0xADDR", t)
    t = re.sub(r"\b(pid|process|child|parent|worker)[ =:]+\d+", r"\1 N", t, flags=re.I)
    t = re.sub(r"\d+(\.\d+)?\s*(sec|s|ms|seconds)\b", "T", t)
    t = re.sub(r"\d\d:\d\d:\d\d", "HH:MM:SS", t)
    if kind == "cpython":
        t = re.sub(r"load avg: [\d.]+", "load avg: L", t)
        t = re.sub(r"test_python_\w+", "test_python_X", t)
        t = re.sub(r"Total duration: .*", "Total duration: T", t)
    return t


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "runs":
        sys.exit(check_runs(*sys.argv[2:5]))
    elif cmd == "acct":
        for a in read_acct(sys.argv[2]) or []:
            print(a)
    elif cmd == "normalize":
        sys.stdout.write(normalize(sys.argv[2], sys.stdin.read()))
    else:
        sys.exit(__doc__)
