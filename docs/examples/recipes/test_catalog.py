"""Tests that fork: run them under cowguard to see what their workers copy.

    cowguard --python -- /usr/bin/python3 -m pytest -q docs/examples/recipes/test_catalog.py
"""
import multiprocessing
import os

import catalog


def _sum_chunk(i):
    return catalog.price_sum(i * 5000, 5000)


def test_pool_sums_match():
    with multiprocessing.get_context("fork").Pool(4) as pool:
        parts = pool.map(_sum_chunk, range(40), chunksize=1)
    assert round(sum(parts), 2) == catalog.price_sum(0, catalog.N)


def test_forked_child_reads_entry():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, catalog.entry(777)[0].encode())
        os._exit(0)
    os.close(w)
    name = os.read(r, 100).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert name == "product-0000777"


def test_entry_layouts_agree():
    name, price, tags = catalog.entry(123456)
    assert name == "product-0123456" and price == catalog._price(123456)
    assert tags == ("tag%d" % (123456 % 13), "tag%d" % (123456 % 7))
