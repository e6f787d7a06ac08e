"""A read-only catalogue built once, at import, and read by forked workers.

Shared by the recipes (a WSGI app for gunicorn and uWSGI, a Celery task, a
multiprocessing Pool).  Product i has a name, a price and two tags.

CATALOG_LAYOUT=objects (the default): CATALOG is a dict of i -> (name,
price, tags) tuples, about 1.4 million Python objects for 200,000 products.
Every worker that reads an entry writes the reference counts of the tuple,
the name, the price and the tags, so it copies the pages they are on.

CATALOG_LAYOUT=buffers: the same data in three buffers (an array of
prices, the names in one bytes object of fixed-width records, the tags as an
array of bytes).  Reading them writes nothing.

CATALOG_READONLY=1: build it inside cowguard.readonly() when the program
runs under cowguard --python, so that it gets pages of its own, frozen at
the fork; without cowguard the variable does nothing.
"""
import array
import contextlib
import os

N = int(os.environ.get("CATALOG_SIZE", "200000"))
LAYOUT = os.environ.get("CATALOG_LAYOUT", "objects")
NAME_WIDTH = 15  # "product-0000000"


def _region():
    if os.environ.get("CATALOG_READONLY") == "1":
        try:
            import cowguard
            return cowguard.readonly()
        except ImportError:
            pass
    return contextlib.nullcontext()


def _price(i):
    return (i * 37) % 10000 / 100.0


def _build_objects():
    return {i: ("product-%07d" % i, _price(i), ("tag%d" % (i % 13), "tag%d" % (i % 7)))
            for i in range(N)}


def _build_buffers():
    prices = array.array("d", (_price(i) for i in range(N)))
    names = b"".join(b"product-%07d" % i for i in range(N))
    tags = array.array("B", ((i % 13) << 4 | (i % 7) for i in range(N)))
    # Only the finished buffers are copied into the marked region: the
    # temporaries above (a float per price, a bytes per name) would be freed
    # blocks on frozen pages.
    with _region():
        return array.array("d", prices), bytes(memoryview(names)), array.array("B", tags)


if LAYOUT == "buffers":
    PRICES, NAMES, TAGS = _build_buffers()
else:
    with _region():
        CATALOG = _build_objects()


def entry(i):
    """Product i as (name, price, tags), from either layout."""
    i %= N
    if LAYOUT == "buffers":
        t = TAGS[i]
        return (NAMES[i * NAME_WIDTH:(i + 1) * NAME_WIDTH].decode(), PRICES[i],
                ("tag%d" % (t >> 4), "tag%d" % (t & 15)))
    return CATALOG[i]


def price_sum(start, count):
    """Read count products from start on: what a request or a task does."""
    total = 0.0
    if LAYOUT == "buffers":
        for i in range(start, start + count):
            total += PRICES[i % N]
    else:
        for i in range(start, start + count):
            name, price, tags = CATALOG[i % N]
            total += price
    return round(total, 2)
