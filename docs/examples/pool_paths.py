"""A DataLoader-style dataset: a list of a million file paths, built once,
indexed by fork Pool workers that each take a slice.

Each path is a Python str. Reading one through the list writes its
reference count, so every page of strings a worker touches is copied,
though no worker changes a path.

    cowguard --python -- python3 pool_paths.py

usage: pool_paths.py [COUNT]
"""
import multiprocessing as mp
import sys

import cowguard

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000

with cowguard.readonly():
    paths = [f"/data/train/class_{i % 1000:04d}/image_{i:08d}.jpg" for i in range(N)]


def load(start):
    # What a Dataset's __getitem__ does: look the path up, use it.
    return sum(len(paths[i]) for i in range(start, min(start + 50_000, N)))


def main():
    with mp.get_context("fork").Pool(4) as pool:
        total = sum(pool.map(load, range(0, N, 50_000)))
    print(f"RESULT paths={N} chars={total}")


if __name__ == "__main__":
    main()
