"""A large NumPy array in an object whose method is run by Pool
workers. Passing the instance (self) to the workers pickles the array into
each of them, a full copy per worker; reading it from a global inherited
through fork shares it.

With COWGUARD_MIN_SIZE=1M the array's buffer (allocated by NumPy with
malloc) is marked without any code change, frozen in every worker, and the
report shows that reading it as a global copies nothing, while the objects
the workers touch are small and few.

    COWGUARD_MIN_SIZE=1M cowguard -- python3 pool_numpy.py global 400
    COWGUARD_MIN_SIZE=1M cowguard -- python3 pool_numpy.py self 40

usage: pool_numpy.py [global|self] [MEGABYTES]
"""
import multiprocessing as mp
import sys

import numpy as np


class MyClass:
    def __init__(self, megabytes):
        self.my_attribute = np.arange(megabytes * (1 << 20) // 8, dtype=np.float64)

    def analyze(self, i):
        part = self.my_attribute[i::4]
        return float(part.sum())


my_instance = None


def call_global(i):
    return my_instance.analyze(i)


def call_method(args):
    instance, i = args  # the instance arrived pickled: a private copy
    return instance.analyze(i)


def main():
    global my_instance
    how = sys.argv[1] if len(sys.argv) > 1 else "global"
    megabytes = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    my_instance = MyClass(megabytes)
    with mp.get_context("fork").Pool(4) as pool:
        if how == "self":
            sums = pool.map(call_method, [(my_instance, i) for i in range(4)], chunksize=1)
        else:
            sums = pool.map(call_global, range(4), chunksize=1)
    print(f"RESULT how={how} megabytes={megabytes} total={sum(sums):.0f}")


if __name__ == "__main__":
    main()
