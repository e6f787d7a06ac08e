"""Put on PYTHONPATH by 'cowguard --python' only (never installed where
Python looks by itself): the helper routes CPython's allocator through
cowguard, applies prepare_fork() before every fork and says when marked data
is pickled into a task. The sitecustomize this one shadows (Debian ships
one) runs first, as it would have."""
import os
import sys


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    for d in sys.path:
        f = os.path.join(d or os.curdir, "sitecustomize.py")
        if os.path.abspath(d or os.curdir) != here and os.path.isfile(f):
            with open(f, "rb") as source:
                code = compile(source.read(), f, "exec")
            exec(code, {"__name__": "sitecustomize", "__file__": f})
            return


try:
    _chain()
except Exception as e:  # theirs failing is theirs: say so, and go on
    sys.stderr.write("cowguard: the sitecustomize module cowguard's shadows failed: %r\n" % (e,))

try:
    import cowguard
    cowguard._launched()
except Exception as e:
    sys.stderr.write("cowguard: cannot set up the Python helper: %r\n" % (e,))
