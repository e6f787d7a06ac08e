# The Python program of tests/integration/python_frames.sh. Each mode
# builds marked data at the line marked BUILT and makes one worker touch it
# at the line marked TOUCHED; the test finds both lines by those words.
import gc
import os
import struct
import sys

import cowguard

mode = sys.argv[1]


def private_dirty_kb():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1])
    return 0


def build():
    with cowguard.readonly():
        if mode in ("read", "freeze"):
            return {i: "value %d" % i for i in range(60000)}  # BUILT read
        if mode == "gc":
            return [[i] for i in range(60000)]  # BUILT gc
        if mode == "probe":
            # Data that starts like an object whose type pointer leads
            # nowhere mapped: telling what the write hit reads there, and
            # that read faults (on faulthandler's alternate stack).
            return bytearray(struct.pack("<qQ", 1, 0x100000000) * 4096)  # BUILT probe
        return bytearray(1 << 20)  # BUILT data


table = build()
if mode == "freeze":
    try:
        print("immortal", cowguard.freeze(table))
    except RuntimeError as e:
        print("refused", e)
        sys.exit(0)


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


def prober():
    for i in range(64, len(table), 4096):
        table[i] = 1  # TOUCHED probe


pid = os.fork()
if pid == 0:
    before = private_dirty_kb()
    {"read": reader, "freeze": reader, "gc": collector, "data": writer, "probe": prober}[mode]()
    # What the kernel says the worker's work made private (its own frames
    # and objects included, so a few hundred kB at least).
    sys.stderr.write("worker private_dirty_growth_kb %d\n" % (private_dirty_kb() - before))
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("worker", os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status)
