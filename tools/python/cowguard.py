"""cowguard: keep read-only data shared across fork, and see who copies it.

Run the program under the launcher, which preloads libcowguard.so and makes
this module importable:

    cowguard --python -- python3 program.py

or import this module first thing in the main script, run plainly: it finds
the installed library (or a build tree's, through the cowguard on PATH) and
starts the program again under it, as the launcher would. Then mark what
the workers only read:

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
  calls malloc. Importing this module puts cowguard in front of it: what is
  allocated inside readonly() (or before the first fork under
  COWGUARD_PREFORK=1) is marked, and pymalloc keeps serving everything else.
- Stacks in the report carry the Python frames (file, line, function) on
  CPython 3.9, 3.11 and 3.13, and each copied page its cause: a reference
  count, the collector's header, a cached hash, another field, or data.
- prepare_fork() applies the gc.freeze() recipe before a fork (the
  launcher's --python does it before every fork); on 3.12 and later,
  freeze(obj) makes everything reachable from obj immortal, so that
  reading it writes nothing.
- multiprocessing must use the fork start method (the default on Linux
  before Python 3.14; ask with multiprocessing.get_context("fork")). With
  spawn or forkserver the workers do not inherit the parent's memory at all,
  and there is nothing to share.

Imported without the library preloaded, this module looks for it: where
'make install' put it (written into the installed copy of this file), beside
each cowguard launcher on PATH (a build tree's .libs, or PREFIX/lib/cowguard
and PREFIX/lib/<multiarch>/cowguard), then in /usr/local/lib/cowguard,
/usr/lib/cowguard and /usr/lib/<multiarch>/cowguard. When the import is
made by the main script's module-level code (not interactively, not a
program read from standard input), with one thread, and the process was not
started again already, it flushes standard output and error and executes
the same command line again with what 'cowguard --python' sets:
LD_PRELOAD, PYTHONPATH, COWGUARD_MEASURE=all and COWGUARD_LAUNCHED. What the
script did before the import runs twice, so import cowguard first.
Otherwise every function here does nothing (readonly() is an empty block,
freeze() and thaw() return False, active() False, stats() an empty dict)
and one warning gives the command to run instead: the program still runs.
"""

import atexit
import contextlib
import ctypes
import gc
import os
import sys
import warnings

__all__ = ["readonly", "freeze", "thaw", "stats", "active", "is_frozen", "prepare_fork"]
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


# The directory 'make install' put the library in, written into the
# installed copy of this file at make time. The source and a pip-installed
# copy keep the placeholder (not an absolute path), and it is skipped.
_INSTALLED_LIBDIR = "@CG_PKGLIBDIR@"


def _preloaded():
    """The preloaded library's API, or None."""
    try:
        lib = ctypes.CDLL(None)  # the program and everything preloaded into it
        lib.cowguard_active.restype = ctypes.c_int
        if not lib.cowguard_active():
            return None
        # Looked up now: a lookup inside readonly() would allocate there.
        lib.begin, lib.end = lib.cowguard_readonly_begin, lib.cowguard_readonly_end
        lib.cowguard_freeze.restype = ctypes.c_int
        lib.cowguard_thaw.restype = ctypes.c_int
        lib.cowguard_is_frozen.restype = ctypes.c_int
        lib.cowguard_is_frozen.argtypes = [ctypes.c_void_p]
        lib.cowguard_stats.restype = ctypes.c_int
        lib.cowguard_stats.argtypes = [ctypes.POINTER(_Stats)]
        return lib
    except (AttributeError, OSError):
        return None


def _library():
    """The preloaded library's API, or None."""
    return _lib


def _multiarch():
    """Debian's name for this interpreter's architecture (x86_64-linux-gnu),
    or None: an installed library of another architecture would not load."""
    arch = getattr(sys.implementation, "_multiarch", None)
    if not arch:
        try:
            import sysconfig
            arch = sysconfig.get_config_var("MULTIARCH")
        except Exception:
            arch = None
    return arch or None


def _find_library():
    """(library, launch directory or None) for the first libcowguard.so found
    where it is installed or built, or None. The launch directory holds the
    sitecustomize that the launcher's --python puts on PYTHONPATH."""
    here = os.path.dirname(os.path.abspath(__file__))
    arch = _multiarch()
    places = []  # (library, launch directories to try)
    if os.path.isabs(_INSTALLED_LIBDIR):
        places.append((os.path.join(_INSTALLED_LIBDIR, "libcowguard.so"), []))
    # Beside a launcher on PATH, where the launcher itself looks: a build
    # tree (tools/cowguard next to .libs, the sitecustomize in tools/python/
    # launch) or an installed prefix (PREFIX/bin/cowguard).
    for d in os.environ.get("PATH", "").split(os.pathsep):
        d = d or os.curdir
        launcher = os.path.join(d, "cowguard")
        if not (os.path.isfile(launcher) and os.access(launcher, os.X_OK)):
            continue
        places.append((os.path.join(d, os.pardir, ".libs", "libcowguard.so"), [os.path.join(d, "python", "launch")]))
        places.append((os.path.join(d, os.pardir, "lib", "cowguard", "libcowguard.so"), []))
        if arch:
            places.append((os.path.join(d, os.pardir, "lib", arch, "cowguard", "libcowguard.so"), []))
    for d in ["/usr/local/lib", "/usr/lib"] + (["/usr/lib/" + arch] if arch else []):
        places.append((os.path.join(d, "cowguard", "libcowguard.so"), []))
    for lib, launch in places:
        if not os.path.isfile(lib):
            continue
        lib = os.path.realpath(lib)
        # Any launch directory serves: its sitecustomize imports whichever
        # helper comes first on PYTHONPATH. This helper's own (a source
        # tree), the one installed beside the library, a build tree's.
        for d in [os.path.join(here, "launch"), os.path.join(os.path.dirname(lib), "python")] + launch:
            if os.path.isfile(os.path.join(d, "sitecustomize.py")):
                return lib, os.path.realpath(d)
        return lib, None
    return None


def _command_line():
    """The interpreter's own arguments as it was started, or None."""
    argv = getattr(sys, "orig_argv", None)  # 3.10 and later
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # Each argument ends with a NUL: the last piece of the split is empty.
    argv = [os.fsdecode(a) for a in raw.split(b"\0")[:-1]]
    return argv or None


def _importer():
    """The frame of the code that imported this module: past this module's
    own frames and importlib's."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_globals.get("__name__") or ""
        if not (f.f_globals is globals() or f.f_code.co_filename.startswith("<frozen importlib")
                or name in ("importlib", "_frozen_importlib", "_frozen_importlib_external")
                or name.startswith("importlib.")):
            return f
        f = f.f_back
    return None


def _why_not_restart(frame, argv):
    """Why this process must not be started again under the library, or None.
    Starting again runs the main script anew: only safe when the script has
    done little yet and can be read again."""
    if not sys.executable or not argv:
        return "the interpreter's command line is unknown"
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return "interactive"
    if frame is None or frame.f_globals.get("__name__") != "__main__" or frame.f_code.co_name != "<module>":
        return "not imported by the main script's module-level code"
    script = (getattr(sys, "argv", None) or [""])[0]
    if frame.f_code.co_filename == "<stdin>" or script in ("-", ""):
        return "the program was read from standard input"
    # A script from a pipe (python3 <(...), /dev/stdin) is read only once.
    if script != "-c" and not os.path.isfile(script):
        return "the script %s cannot be read again" % script
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        import threading
        threads = threading.active_count()
    if threads != 1:
        return "more than one thread runs"
    return None


def _restart(lib, launch, argv):
    """Execute the same command line again with the environment of
    'cowguard --python': the library preloaded first, the launch directory
    and this helper's directory on PYTHONPATH, every child measuring what it
    copies, and COWGUARD_LAUNCHED naming this process (exec keeps its pid),
    which also says that it was started again already."""
    env = dict(os.environ)
    old = env.get("LD_PRELOAD")
    env["LD_PRELOAD"] = lib + (" " + old if old else "")
    old = [d for d in env.get("PYTHONPATH", "").split(os.pathsep) if d]
    path = [d for d in (launch, os.path.dirname(os.path.abspath(__file__))) if d and d not in old]
    env["PYTHONPATH"] = os.pathsep.join(path + old)
    if not env.get("COWGUARD_MEASURE"):
        env["COWGUARD_MEASURE"] = "all"
    env["COWGUARD_LAUNCHED"] = str(os.getpid())
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    # The interpreter's own path as argv[0]: a bare 'python3' would be
    # looked up on PATH again, and a relative path from the directory the
    # script may have left; either could find another interpreter or venv.
    os.execve(sys.executable, [sys.executable] + argv[1:], env)


def _warn(message, frame):
    """One RuntimeWarning, shown at the line that imported this module."""
    if frame is None:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return
    g = frame.f_globals
    filename = frame.f_code.co_filename
    # The globals let the warning show the line's source; not for a script
    # from -c or standard input, whose loader would be asked for it and fail.
    warnings.warn_explicit(message, RuntimeWarning, filename, frame.f_lineno,
                           module=g.get("__name__"), registry=g.setdefault("__warningregistry__", {}),
                           module_globals=g if os.path.isfile(filename) else None)


def _without_library():
    """At import, with the library not preloaded: start the program again
    under it, or say once what to run."""
    frame = _importer()
    argv = _command_line()
    import shlex
    run = "cowguard --python -- " + (" ".join(shlex.quote(a) for a in argv) if argv else "python3 PROGRAM")
    said = "cowguard: libcowguard.so is not preloaded, so marking does nothing"
    if os.environ.get("COWGUARD_LAUNCHED") == str(os.getpid()):
        # Started again (by this module or the launcher) and still without
        # it: the preload failed, and ld.so said why.
        _warn("%s, although this process was started to preload it (LD_PRELOAD=%s)"
              % (said, os.environ.get("LD_PRELOAD", "")), frame)
        return
    found = _find_library()
    if found is None:
        _warn("%s, and it is not installed (looked where 'make install' puts it, beside each cowguard "
              "on PATH, and in /usr/local/lib/cowguard and /usr/lib/cowguard); install cowguard "
              "('make install' in its source tree, or its Debian package), then run: %s" % (said, run), frame)
        return
    why = _why_not_restart(frame, argv)
    if why is None:
        try:
            _restart(found[0], found[1], argv)
        except OSError as e:
            why = "cannot execute %s again: %s" % (sys.executable, e.strerror)
    _warn("%s (not started again under %s: %s); run: %s" % (said, found[0], why, run), frame)


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
    lib.begin()
    try:
        yield
    finally:
        lib.end()


def _route():
    """Put cowguard in front of CPython's own allocator (pymem.c): marked
    requests go to cowguard, the rest to pymalloc as before. Called with the
    interpreter's lock held (PyDLL keeps it)."""
    try:
        ctypes.PyDLL(None).cowguard__python_route()
    except (AttributeError, OSError):
        pass


def freeze(obj=None):
    """freeze(): freeze marked data now, as a fork would. True on success.

    freeze(obj), CPython 3.12 and later: make obj and everything reachable
    from it immortal (PEP 683) and move it out of the collector's reach, so
    that reading it in a worker writes no reference count and no collector
    header: its pages stay shared. It costs: those objects are never freed,
    the change cannot be undone, and a reference count read from them
    (sys.getrefcount) is meaningless. Returns the number of objects made
    immortal; raises RuntimeError on older versions."""
    if obj is None:
        lib = _library()
        return lib is not None and lib.cowguard_freeze() == 0
    return _immortalize(obj)


# Py_INCREF of 3.12 and 3.13 skips an object whose low 32 bits of
# ob_refcnt are all ones, and Py_DECREF one whose low half is negative as a
# 32-bit number: _Py_IMMORTAL_REFCNT, UINT_MAX.
_IMMORTAL = 0xFFFFFFFF


def _immortalize(obj):
    if sys.implementation.name != "cpython" or not (3, 12) <= sys.version_info[:2] <= (3, 13):
        raise RuntimeError("cowguard.freeze(obj) needs CPython 3.12 or 3.13 (immortal objects, PEP 683); "
                           "this is %s %d.%d" % (sys.implementation.name, *sys.version_info[:2]))
    seen = set()
    pending = [obj]
    refcnt = ctypes.c_ssize_t
    while pending:
        o = pending.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, type) or type(o).__name__ in ("module", "function", "code", "frame", "cell"):
            continue  # the program's classes, modules and functions: not data
        pending.extend(gc.get_referents(o))
    for addr in seen:
        refcnt.from_address(addr).value = _IMMORTAL
    gc.freeze()  # the collector leaves them (and everything older) alone
    return len(seen)


def prepare_fork():
    """Before a fork: move every object the collector tracks out of its
    reach (gc.freeze()), as CPython's documentation recommends, so that no
    collection in a worker writes their headers. The launcher's --python
    does this before every fork."""
    gc.freeze()


def thaw():
    """Make marked data writable again in this process. True on success."""
    lib = _library()
    return lib is not None and lib.cowguard_thaw() == 0


def is_frozen(address):
    """True when the page at address (an int, e.g. from a buffer) is frozen."""
    lib = _library()
    return lib is not None and lib.cowguard_is_frozen(address) == 1


def _buffer_address(obj):
    """Where the data of a buffer object (NumPy array, bytes, bytearray,
    array.array) starts, or None."""
    face = getattr(type(obj), "__array_interface__", None)
    if face is not None:
        try:
            return obj.__array_interface__["data"][0]
        except Exception:
            return None
    if isinstance(obj, (bytearray, memoryview)) or type(obj).__name__ == "array":
        try:
            return ctypes.addressof(ctypes.c_char.from_buffer(obj))
        except (TypeError, ValueError):
            return None
    return None


def _holds_marked(obj, depth, seen):
    """Does obj, or what it holds (a few levels down), lie in marked memory?"""
    if depth > 6 or id(obj) in seen or isinstance(obj, (int, float, str, bool, type(None), type)):
        return False
    seen.add(id(obj))
    if is_frozen(id(obj)):
        return True
    address = _buffer_address(obj)
    if address is not None:
        return is_frozen(address)
    if isinstance(obj, (tuple, list)):
        inner = obj[:16]
    elif isinstance(obj, dict):
        inner = list(obj.values())[:16]
    elif hasattr(obj, "__self__"):
        inner = [obj.__self__]
    elif hasattr(obj, "__dict__"):
        inner = list(vars(obj).values())[:16]
    else:
        inner = []
    return any(_holds_marked(o, depth + 1, seen) for o in inner)


def _marked_argument(obj, depth=0):
    """In a task multiprocessing pickles, the outermost object (not a tuple,
    list or dict) that holds marked data, or None."""
    if depth > 6 or isinstance(obj, (int, float, str, bytes, bool, type(None), type)):
        return None
    if isinstance(obj, (tuple, list)):
        inner = obj[:16]
    elif isinstance(obj, dict):
        inner = list(obj.values())[:16]
    elif hasattr(obj, "__self__") and not hasattr(obj, "__dict__"):
        inner = [obj.__self__]  # a bound method: pool.map(self.method, ...)
    else:
        return obj if _holds_marked(obj, 0, set()) else None
    for o in inner:
        found = _marked_argument(o, depth + 1)
        if found is not None:
            return found
    return None


def _pickled_marked():
    """Say when multiprocessing pickles marked data into tasks (seed 003's
    pool.map over (self, i)): each worker then gets a copy, not the shared
    pages. One line per type, at the parent's exit."""
    from multiprocessing import reduction
    original = reduction.ForkingPickler.dumps
    seen = {}

    def dumps(obj, protocol=None):
        data = original(obj, protocol)
        try:
            found = _marked_argument(obj)
        except Exception:
            found = None
        if found is not None:
            t = type(found)
            name = t.__qualname__ + " instance" if t.__module__ != "builtins" else t.__name__
            entry = seen.setdefault(name, [0, 0])
            entry[0] += 1
            entry[1] = max(entry[1], len(data))
        return data

    def say():
        for name, (tasks, size) in seen.items():
            sys.stderr.write("cowguard: %s, %s, pickled into %d task%s: not shared; make it a global "
                             "before the Pool forks\n" % (name, _size(size), tasks, "" if tasks == 1 else "s"))

    reduction.ForkingPickler.dumps = dumps
    pid = os.getpid()
    atexit.register(lambda: os.getpid() == pid and say())


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def _launched():
    """Under the launcher's --python (its sitecustomize): route the
    allocator, apply prepare_fork() before every fork, and, once
    multiprocessing is in use, watch for marked data pickled into tasks."""
    if _library() is None:
        return
    watching = []

    def before_fork():
        prepare_fork()
        if not watching and "multiprocessing.reduction" in sys.modules:
            watching.append(True)
            _pickled_marked()  # imported by the program already: costs nothing more

    os.register_at_fork(before=before_fork)


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


def _set_up(lib):
    """With the library preloaded, once, at import."""
    _route()
    # A forked worker that leaves by sys.exit runs the program's
    # atexit callbacks and finalizes the interpreter: that writes
    # and frees pages it never wrote while it worked. Registered in
    # each child after its fork, this runs before the callbacks
    # registered before the fork, and from then on copies are
    # counted apart, as "during exit".
    try:
        os.register_at_fork(after_in_child=lambda: atexit.register(lib.cowguard__exiting))
    except (AttributeError, OSError):
        pass


_lib = _preloaded()
if _lib is not None:
    _set_up(_lib)
else:
    _without_library()
