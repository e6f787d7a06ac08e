"""A concurrent.futures ProcessPoolExecutor (fork context) whose workers
read a global dict of 200,000 records built before the executor started.

With --gc-freeze the parent calls gc.freeze() first, as CPython's
documentation recommends before a fork: no collection in a worker then
writes the records' collector headers. (cowguard --python does that before
every fork; run with plain LD_PRELOAD, or compare the two reports, to see
the difference.)

    cowguard --python -- python3 executor_dict.py [--gc-freeze]
"""
import concurrent.futures as cf
import gc
import multiprocessing as mp
import sys

import cowguard

with cowguard.readonly():
    records = {f"user{i}": (i, [i % 7, i % 11], {"score": i * 0.5}) for i in range(200_000)}


def score(start):
    total = 0.0
    for i in range(start, start + 10_000):
        uid, tags, extra = records[f"user{i}"]
        total += extra["score"] + len(tags)
    gc.collect()  # a worker's own garbage, collected: the records' headers are visited too
    return total


def main():
    if "--gc-freeze" in sys.argv:
        gc.freeze()
    with cf.ProcessPoolExecutor(4, mp_context=mp.get_context("fork")) as ex:
        total = sum(ex.map(score, range(0, 200_000, 10_000)))
    print(f"RESULT records={len(records)} total={total:.0f}")


if __name__ == "__main__":
    main()
