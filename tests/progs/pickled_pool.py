"""pickled_pool.py: the pickled-argument mistake. A big object built before
the Pool forks is shared by its workers, until a bound method of it is
given to pool.map: then the object, payload and all, is pickled into every
task, and each worker unpickles its own copy. Its memory grows; no page of
the shared object is copied.

usage: pickled_pool.py MIB
Prints for each worker "WORKER pid=P peak_kb=K file_kb=F fork_kb=A": the
worker's resident set's high-water mark after its last task, the
file-backed and shared-memory part of it then (code pages, and the shared
table cowguard's processes write: not the worker's own), and the
parent's anonymous resident memory just before the fork that made the
worker (the worker's own at its start: taken by an at-fork hook, since
making the Pool allocates, and under huge pages a little allocation can
add 2 MiB)."""
import multiprocessing as mp
import os
import sys


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


AT_FORK = 0


def remember():
    global AT_FORK
    AT_FORK = status("RssAnon")


class Catalogue:
    def __init__(self, mib):
        self.payload = bytes(mib << 20)

    def work(self, i):
        return (os.getpid(), status("VmHWM"), status("RssFile") + status("RssShmem"), AT_FORK,
                len(self.payload) >> 20)


if __name__ == "__main__":
    cat = Catalogue(int(sys.argv[1]))
    os.register_at_fork(before=remember)
    pool = mp.get_context("fork").Pool(2)
    seen = {}
    for pid, peak, file, at_fork, mib in pool.map(cat.work, range(6), chunksize=1):
        seen[pid] = max((peak, file, at_fork), seen.get(pid, (0, 0, 0)))
    pool.close()
    pool.join()
    for pid, (peak, file, at_fork) in sorted(seen.items()):
        print(f"WORKER pid={pid} peak_kb={peak} file_kb={file} fork_kb={at_fork}")
