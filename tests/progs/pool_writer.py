"""A multiprocessing Pool (fork context, used as a context manager, so its
workers are terminated with SIGTERM) whose workers write a large buffer
the parent built: with COWGUARD_MIN_SIZE=1M the buffer is marked, frozen at
each fork, and every worker's writes are trapped."""
import multiprocessing as mp
import os

buf = None


def work(i):
    buf[(i % 2048) * 4096] = 1  # one page of the parent's buffer
    return os.getpid()


if __name__ == "__main__":
    buf = bytearray(8 << 20)
    with mp.get_context("fork").Pool(4) as pool:
        pids = set(pool.map(work, range(256), chunksize=4))
    print("workers", len(pids))
