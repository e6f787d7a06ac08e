"""The catalogue read by a multiprocessing Pool or a ProcessPoolExecutor.

usage: pool_catalog.py [--executor] [--start fork|spawn|forkserver] [--workers N]

Each of 40 tasks sums the prices of 5,000 products.  With the fork start
method the workers inherit the catalogue the parent built at import; with
spawn or forkserver each worker imports this module again and builds a
catalogue of its own: nothing is shared, nothing is copied either.
"""
import argparse
import concurrent.futures
import multiprocessing

from catalog import price_sum


def task(i):
    return price_sum(i * 5000, 5000)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--executor", action="store_true")
    p.add_argument("--start", default="fork", choices=("fork", "spawn", "forkserver"))
    p.add_argument("--workers", type=int, default=4)
    a = p.parse_args()
    ctx = multiprocessing.get_context(a.start)
    if a.executor:
        with concurrent.futures.ProcessPoolExecutor(a.workers, mp_context=ctx) as ex:
            total = sum(ex.map(task, range(40)))
    else:
        with ctx.Pool(a.workers) as pool:
            total = sum(pool.map(task, range(40), chunksize=1))
    print("%s %s: sum %.2f" % ("executor" if a.executor else "Pool", a.start, total))


if __name__ == "__main__":
    main()
