"""pickled_pool.py: the pickled-argument mistake. A big object built before
the Pool forks is shared by its workers, until a bound method of it is
given to pool.map: then the object, payload and all, is pickled into every
task, and each worker unpickles its own copy. Its memory grows; no page of
the shared object is copied.

usage: pickled_pool.py MIB
Prints "PARENT anon_kb=A": its anonymous resident memory as it makes the
Pool (a worker's at its fork), and for each worker "WORKER pid=P peak_kb=K
file_kb=F": the worker's resident set's high-water mark after its last task,
and the file-backed part of it then (code pages, not the worker's own)."""
import multiprocessing as mp
import os
import sys


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


class Catalogue:
    def __init__(self, mib):
        self.payload = bytes(mib << 20)

    def work(self, i):
        return (os.getpid(), status("VmHWM"), status("RssFile"), len(self.payload) >> 20)


if __name__ == "__main__":
    cat = Catalogue(int(sys.argv[1]))
    print(f"PARENT anon_kb={status('RssAnon')}")
    pool = mp.get_context("fork").Pool(2)
    seen = {}
    for pid, peak, file, mib in pool.map(cat.work, range(6), chunksize=1):
        seen[pid] = max((peak, file), seen.get(pid, (0, 0)))
    pool.close()
    pool.join()
    for pid, (peak, file) in sorted(seen.items()):
        print(f"WORKER pid={pid} peak_kb={peak} file_kb={file}")
