"""A Pool's workers need a large cache, {i: bin(i)}, and count the
1 bits of each entry. The usual cure is a Pool initializer that makes the
cache global; the cache is then inherited through fork, not pickled.

Under cowguard the cache is built inside cowguard.readonly(), so it gets
pages of its own, frozen in every worker, and the report shows what the
workers copied anyway: CPython writes the reference count of every object it
reads, so the pages holding the strings are copied page by page.

    cowguard --python -- python3 pool_bin_cache.py

With --freeze (CPython 3.12 and later), cowguard.freeze(cache) makes the
cache and everything in it immortal before the Pool forks: reading it then
writes no reference count, and the workers copy almost nothing.

    cowguard --python -- python3 pool_bin_cache.py --freeze
"""
import multiprocessing as mp
import sys

import cowguard

N = 200_000


def make_global(cache):
    global global_cache
    global_cache = cache


def func(i):
    return global_cache[i].count("1")


def main():
    with cowguard.readonly():
        cache = {i: bin(i) for i in range(N)}
    size = sys.getsizeof(cache) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in cache.items())
    print(f"cache: {N} entries, {size} bytes of Python objects")
    if "--freeze" in sys.argv:
        print(f"immortal: {cowguard.freeze(cache)} objects")
    ctx = mp.get_context("fork")
    with ctx.Pool(4, initializer=make_global, initargs=(cache,)) as pool:
        counts = pool.map(func, range(N), chunksize=2000)
    print(f"ones: {sum(counts)}")
    print(f"RESULT dict_bytes={size} ones={sum(counts)}")


if __name__ == "__main__":
    main()
