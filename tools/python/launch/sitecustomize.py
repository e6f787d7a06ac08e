"""Put on PYTHONPATH by 'cowguard --python' only (never installed where
Python looks by itself): the helper routes CPython's allocator through
cowguard, applies prepare_fork() before every fork and says when marked data
is pickled into a task. The sitecustomize this one shadows (Debian ships
one) runs first, as it would have."""
import os
import sys


def _chain():
    import importlib.machinery
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


try:
    _chain()
except Exception as e:  # theirs failing is theirs: say so, and go on
    sys.stderr.write("cowguard: the sitecustomize module cowguard's shadows failed: %r\n" % (e,))

try:
    import cowguard
    cowguard._launched()
except Exception as e:
    sys.stderr.write("cowguard: cannot set up the Python helper: %r\n" % (e,))
