"""cowguard: keep read-only data shared across fork, and see who copies it.

Run the program under the launcher, which preloads libcowguard.so and makes
this module importable:

    cowguard --python -- python3 program.py

then mark what the workers only read:

    import cowguard

    with cowguard.readonly():
        table = build_table()          # every allocation in here is marked

    with multiprocessing.get_context("fork").Pool(8) as pool:
        pool.map(work, items)          # the marked data is frozen in every worker

At exit the first process prints a report for the whole tree: what was
frozen, what stayed shared, what each worker copied, and the stacks that
wrote and allocated it.

What cowguard can and cannot do for Python:

- Buffers stay shared. The data of NumPy arrays, bytes, bytearray,
  array.array and C extension tables is written only when the program writes
  it, so once marked it stays shared by every worker, and cowguard reports
  each write that breaks that.
- Python objects do not. CPython keeps a reference count in every object's
  header and changes it whenever the object is used, even to read it; the
  cyclic garbage collector also writes its header fields. A worker that reads
  a dict of a million small objects therefore writes the pages holding them,
  and the kernel copies those pages. cowguard cannot prevent this; it shows
  exactly how much it costs and which code did it (the top write sites point
  at the interpreter's reference counting). gc.freeze() before the fork keeps
  the collector off those objects; the reference counts remain.
- Small objects come from CPython's own allocator (pymalloc), which never
  calls malloc, unless PYTHONMALLOC=malloc; the launcher's --python sets it.
- multiprocessing must use the fork start method (the default on Linux
  before Python 3.14; ask with multiprocessing.get_context("fork")). With
  spawn or forkserver the workers do not inherit the parent's memory at all,
  and there is nothing to share.

Without the preloaded library every function here does nothing (readonly()
is an empty block, freeze() and thaw() return False, active() False, stats()
an empty dict) and one warning says so: the program still runs.
"""

import contextlib
import ctypes
import warnings

__all__ = ["readonly", "freeze", "thaw", "stats", "active", "is_frozen"]
__version__ = "0.1.0"


class _Stats(ctypes.Structure):
    # Mirrors cowguard_stats_t in cowguard.h.
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("marked_bytes", ctypes.c_ulonglong),
        ("marked_blocks", ctypes.c_ulonglong),
        ("arena_bytes", ctypes.c_ulonglong),
        ("frozen_bytes", ctypes.c_ulonglong),
        ("faults", ctypes.c_ulonglong),
        ("processes", ctypes.c_ulonglong),
        ("tree_faults", ctypes.c_ulonglong),
        ("is_root", ctypes.c_int),
    ]


_lib = None
_looked = False


def _library():
    """The preloaded library's API, or None (warning once)."""
    global _lib, _looked
    if _looked:
        return _lib
    _looked = True
    try:
        lib = ctypes.CDLL(None)  # the program and everything preloaded into it
        lib.cowguard_active.restype = ctypes.c_int
        if lib.cowguard_active():
            lib.cowguard_freeze.restype = ctypes.c_int
            lib.cowguard_thaw.restype = ctypes.c_int
            lib.cowguard_is_frozen.restype = ctypes.c_int
            lib.cowguard_is_frozen.argtypes = [ctypes.c_void_p]
            lib.cowguard_stats.restype = ctypes.c_int
            lib.cowguard_stats.argtypes = [ctypes.POINTER(_Stats)]
            _lib = lib
    except (AttributeError, OSError):
        pass
    if _lib is None:
        warnings.warn("cowguard: libcowguard.so is not preloaded, so marking does nothing; "
                      "run the program under 'cowguard --python -- python3 ...'",
                      RuntimeWarning, stacklevel=3)
    return _lib


def active():
    """True when libcowguard.so is preloaded and marking works."""
    return _library() is not None


@contextlib.contextmanager
def readonly():
    """Mark every allocation this thread makes inside the block.

    Blocks nest. Marked memory is placed in cowguard's own pages and frozen
    when the process forks."""
    lib = _library()
    if lib is None:
        yield
        return
    lib.cowguard_readonly_begin()
    try:
        yield
    finally:
        lib.cowguard_readonly_end()


def freeze():
    """Freeze marked data now, as a fork would. True on success."""
    lib = _library()
    return lib is not None and lib.cowguard_freeze() == 0


def thaw():
    """Make marked data writable again in this process. True on success."""
    lib = _library()
    return lib is not None and lib.cowguard_thaw() == 0


def is_frozen(address):
    """True when the page at address (an int, e.g. from a buffer) is frozen."""
    lib = _library()
    return lib is not None and lib.cowguard_is_frozen(address) == 1


def stats():
    """This process's numbers and the tree's so far, as a dict."""
    lib = _library()
    if lib is None:
        return {}
    s = _Stats(size=ctypes.sizeof(_Stats))
    if lib.cowguard_stats(ctypes.byref(s)) != 0:
        return {}
    out = {name: getattr(s, name) for name, _ in _Stats._fields_ if name != "size"}
    out["is_root"] = bool(out["is_root"])
    return out
