#!/bin/bash
# pytest (Debian's python3-pytest) on progs/test_fork_pool.py: a dict built
# at import, read by a fork-context multiprocessing Pool, a Process that
# writes its copy, and a bare os.fork. PYTHONMALLOC=malloc. Run twice per
# mode: as pytest runs by default (faulthandler enabled), and with
# -p no:faulthandler, which separates faulthandler's problem from the rest.
#
# Failed on cowguard 0.1, default run, both modes: faulthandler's sigaltstack is
# malloc'd and marked, frozen at the first fork; the first trapped write is
# delivered on it (SA_ONSTACK) and the kernel kills the process with
# SIGSEGV (SI_KERNEL): status, signal, report, output.
. "$(dirname "$0")/common.sh"
need_pkg python3-pytest

mkdir -p "$TMP/t"
cp "$REAL/progs/test_fork_pool.py" "$TMP/t/"
for m in plain $MODES; do
    (cd "$TMP/t" && nsrun pytest "$m" -- env PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 \
        "$PY" -m pytest -p no:cacheprovider -v test_fork_pool.py)
    (cd "$TMP/t" && nsrun pytest_nofh "$m" -- env PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 \
        "$PY" -m pytest -p no:cacheprovider -p no:faulthandler -v test_fork_pool.py)
done
for m in $MODES; do
    check pytest "$m"
    check pytest_nofh "$m"
done
finish
