"""nsrun.py OUTDIR [--grace SECONDS] [--hide FILE]... -- COMMAND ARGS...

Runs COMMAND as the only child of this process and records, independently
of cowguard, every process of the tree and how it ended. Meant to run as
pid 1 of a fresh pid namespace (unshare --pid --fork --mount-proc), where:
  - BSD process accounting (acct(2), per pid namespace) writes one record
    per process that ends in the namespace: pid, ppid, command name, flags
    (forked-without-exec, killed by a signal) and the exit status. That is
    the ground truth the harness compares the cowguard report with, and the
    only way to see a plain run's children that died by a signal.
  - orphans are reparented to us and reaped here, and whatever is left when
    we exit is killed by the kernel: no server outlives its test.
Writes OUTDIR/status.json ({"status": {"exit": N} | {"signal": N},
"seconds": wall time of COMMAND, "leftover": [...], "acct": bool}) and
OUTDIR/acct (raw acct v3 records). --hide FILE bind-mounts /dev/null over
FILE in the namespace's private mounts (a diagnostic: hiding libdw shows
what fails behind the report writer's dlopen at exit). Exits with COMMAND's status (128+signal
if it was killed). Outside a namespace (not root, no unshare) it still runs
the command and writes status.json, with "acct": false.
"""
import ctypes
import json
import os
import signal
import sys
import time

argv = sys.argv[1:]
outdir = argv.pop(0)
grace = 10.0
hide = []
while argv and argv[0] in ("--grace", "--hide"):
    if argv[0] == "--grace":
        grace = float(argv[1])
    else:
        hide.append(argv[1])
    argv = argv[2:]
if argv and argv[0] == "--":
    argv = argv[1:]

acct_path = os.path.join(outdir, "acct")
libc = ctypes.CDLL(None, use_errno=True)
have_acct = False
if os.getpid() == 1:
    open(acct_path, "wb").close()
    have_acct = libc.acct(acct_path.encode()) == 0

if os.getpid() == 1:
    import subprocess
    for f in hide:
        subprocess.run(["mount", "--bind", "/dev/null", os.path.realpath(f)], check=True)

start = time.monotonic()
child = os.fork()
if child == 0:
    # A session of its own: servers signal their process group (Apache's
    # parent kills its children with killpg(getpgrp())), which must not
    # reach the harness. Default signal dispositions, as from a shell.
    os.setsid()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        print(f"nsrun: {argv[0]}: {e}", file=sys.stderr)
        os._exit(127)

# As pid 1 we would ignore these; pass them on to the command instead, so
# that `kill -TERM <unshare's child>` works like killing the command.
def forward(sig, frame):
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGWINCH):
    signal.signal(s, forward)

status = None
seconds = None
while status is None:
    try:
        pid, st = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if pid == child:
        seconds = time.monotonic() - start
        status = {"signal": os.WTERMSIG(st)} if os.WIFSIGNALED(st) else {"exit": os.WEXITSTATUS(st)}

# The command is gone; give what it left behind (workers still exiting,
# orphans) some time, then kill it.
leftover = []
deadline = time.monotonic() + grace
if os.getpid() == 1:
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                for p in os.listdir("/proc"):
                    if p.isdigit() and int(p) != 1:
                        try:
                            comm = open(f"/proc/{p}/comm").read().strip()
                        except OSError:
                            continue
                        leftover.append({"pid": int(p), "comm": comm})
                os.kill(-1, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)
if have_acct:
    libc.acct(None)
with open(os.path.join(outdir, "status.json"), "w") as f:
    json.dump({"status": status, "seconds": seconds, "leftover": leftover, "acct": have_acct,
               "command": argv}, f)
if status is None:
    sys.exit(125)
sys.exit(status["exit"] if "exit" in status else 128 + status["signal"])
