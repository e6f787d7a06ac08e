"""test_fork_pool.py: a pytest module whose big dict is built at import time
(so before any fork, and by pytest's collection) and read by forked
workers: a multiprocessing Pool with the fork context, a Process that
writes into its copy, and a bare os.fork. pytest enables faulthandler for
the session unless -p no:faulthandler."""
import multiprocessing
import os

BIG = {i: f"value-{i}-" * 4 for i in range(200_000)}
TOTAL = sum(len(v) for v in BIG.values())
CTX = multiprocessing.get_context("fork")


def _part(lo):
    return sum(len(BIG[i]) for i in range(lo, lo + 50_000))


def test_pool_reads_big_dict():
    # close and join, not `with` (terminate): workers still exiting when
    # terminate() comes would die by SIGTERM or not, depending on timing.
    pool = CTX.Pool(3)
    parts = pool.map(_part, range(0, 200_000, 50_000))
    pool.close()
    pool.join()
    assert sum(parts) == TOTAL


def _writer(q):
    for i in range(1000):
        BIG[i] = "changed"
    q.put(sum(len(v) for v in BIG.values()))


def test_process_writes_its_copy():
    q = CTX.Queue()
    p = CTX.Process(target=_writer, args=(q,))
    p.start()
    seen = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert seen != TOTAL
    assert BIG[0] == "value-0-" * 4


def test_bare_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0 if sum(len(v) for v in BIG.values()) == TOTAL else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
