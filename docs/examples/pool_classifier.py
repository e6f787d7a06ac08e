"""A classifier that cannot be pickled (it holds a lock and other
objects from extension modules) is shared with Pool workers by leaving it
in a global before the fork, which is the only way to pass it without
serialising it.

Built inside cowguard.readonly(), its parts get pages of their own and are
frozen in the workers. The report tells them apart: the weights table is a
buffer (array.array), which the workers only read, and it stays shared; the
vocabulary is a dict of Python strings, whose reference counts the workers
write on every lookup, so its pages are copied.

    cowguard --python -- python3 pool_classifier.py
"""
import array
import multiprocessing as mp
import threading

import cowguard

FEATURES = 100_000


class Classifier:
    def __init__(self):
        self.vocabulary = {f"w{i}": i for i in range(FEATURES)}
        self.weights = array.array("d", (((i * 7919) % 1000) / 1000.0 for i in range(FEATURES * 20)))
        self._lock = threading.Lock()  # makes the object unpicklable

    def classify(self, record):
        score = 0.0
        for word in record:
            i = self.vocabulary.get(word)
            if i is not None:
                score += self.weights[i * 20]
        return score > 1.0


classifier = None


def classify(record):
    return classifier.classify(record)


def main():
    global classifier
    with cowguard.readonly():
        classifier = Classifier()
    records = [[f"w{(r * 31 + k) % FEATURES}" for k in range(5)] for r in range(50_000)]
    with mp.get_context("fork").Pool(4) as pool:
        positive = sum(pool.map(classify, records, chunksize=1000))
    print(f"RESULT records={len(records)} positive={positive}")


if __name__ == "__main__":
    main()
