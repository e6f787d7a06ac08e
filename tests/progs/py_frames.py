# The Python program of tests/integration/python_frames.sh. Each mode
# builds marked data at the line marked BUILT and makes one worker touch it
# at the line marked TOUCHED; the test finds both lines by those words.
import gc
import os
import sys

import cowguard

mode = sys.argv[1]


def build():
    with cowguard.readonly():
        if mode == "read":
            return {i: "value %d" % i for i in range(60000)}  # BUILT read
        if mode == "gc":
            return [[i] for i in range(60000)]  # BUILT gc
        return bytearray(1 << 20)  # BUILT data


table = build()


def reader():
    n = 0
    for k in table:
        n += len(table[k])  # TOUCHED read
    return n


def collector():
    gc.collect()  # TOUCHED gc


def writer():
    for i in range(0, len(table), 4096):
        table[i] = 1  # TOUCHED data


pid = os.fork()
if pid == 0:
    {"read": reader, "gc": collector, "data": writer}[mode]()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("worker", os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status)
