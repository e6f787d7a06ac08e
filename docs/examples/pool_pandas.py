"""A product catalogue in a pandas DataFrame, built once and read by fork
Pool workers that look up the rows of their share of the orders.

The numeric columns are NumPy buffers: reading them writes nothing. The
name column holds Python str objects: reading them writes their reference
counts.

    cowguard --python -- python3 pool_pandas.py

usage: pool_pandas.py [ROWS]
"""
import multiprocessing as mp
import sys

import numpy as np
import pandas as pd

import cowguard

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000

with cowguard.readonly():
    catalogue = pd.DataFrame({
        "sku": np.arange(ROWS, dtype=np.int64),
        "price": np.linspace(1.0, 100.0, ROWS),
        "stock": np.arange(ROWS, dtype=np.int32) % 97,
        "name": [f"product {i}" for i in range(ROWS)],
    })


def value(part):
    rows = catalogue.iloc[part::4]
    names = sum(len(n) for n in rows["name"])
    return float((rows["price"] * rows["stock"]).sum()) + names


def main():
    with mp.get_context("fork").Pool(4) as pool:
        total = sum(pool.map(value, range(4), chunksize=1))
    print(f"RESULT rows={ROWS} total={total:.0f}")


if __name__ == "__main__":
    main()
