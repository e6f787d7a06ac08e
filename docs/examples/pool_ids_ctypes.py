"""The id()/ctypes trick. Rather than pickling large objects into
Pool workers, the parent sends their addresses, id(obj), and the workers
turn them back into objects with ctypes.cast(addr, ctypes.py_object): the
objects come from the memory inherited through fork.

Built inside cowguard.readonly(), the objects are frozen in the workers, and
the report shows what the trick costs: every deref and every use writes
reference counts, so the pages of the objects the workers touch are copied,
while the payload buffers (bytes) stay shared.

    cowguard --python -- python3 pool_ids_ctypes.py
"""
import ctypes
import multiprocessing as mp

import cowguard


class BigObject:
    def __init__(self, seed):
        self.rows = [(seed, i, str(i)) for i in range(100_000)]
        self.payload = bytes(range(seed, 251)) * ((4 << 20) // 251)

    def compute_something(self):
        return len(self.rows) + self.payload[12345] + sum(r[1] for r in self.rows[:1000])


def ref(obj):
    return id(obj)


def deref(addr):
    return ctypes.cast(addr, ctypes.py_object).value


def child(addr):
    return deref(addr).compute_something()


def main():
    with cowguard.readonly():
        objects = [BigObject(1), BigObject(2)]
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map(child, [ref(o) for o in objects])
    print(f"RESULT results={results}")


if __name__ == "__main__":
    main()
