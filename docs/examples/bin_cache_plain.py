"""Seed 001's program as its author wrote it, with nothing of cowguard in
it: a Pool initializer makes a large cache, {i: bin(i)}, global in every
worker, and the workers count the 1 bits of each entry.

To see what its workers copy, and who writes it, without changing it:

    cowguard --python --watch heap -- python3 bin_cache_plain.py

pool_bin_cache.py is the same program after the fix the report suggests.
"""
from multiprocessing import Pool

N = 200_000


def make_global(cache):
    global global_cache
    global_cache = cache


def func(i):
    return global_cache[i].count("1")


def main():
    cache = {i: bin(i) for i in range(N)}
    with Pool(4, initializer=make_global, initargs=(cache,)) as pool:
        counts = pool.map(func, range(N), chunksize=2000)
    print(f"ones: {sum(counts)}")


if __name__ == "__main__":
    main()
