# The Python helper as a pip user gets it: 'pip install tools/python' into
# a fresh venv, offline (no index: the in-tree backend needs nothing), then
# a plain script run by the venv's python, with no launcher and no
# LD_PRELOAD, only the build tree's tools/ on PATH. Importing cowguard finds
# the build tree's library beside that launcher, starts the script again
# under it, and the script marks a buffer and forks: the child finds the
# page read-only in its own maps (the kernel's word), writes it, and the
# report at exit counts that one trapped write at the script's line.
. "$SRC/tests/integration/lib.sh"
unset PYTHONPATH
py=/usr/bin/python3
[ -x "$py" ] || py=python3
cd "$TMP" || fail "cd $TMP"

if ! "$py" -m venv "$TMP/v" >"$TMP/out" 2>"$TMP/err"; then
    cat "$TMP/out" "$TMP/err"
    echo "SKIP: $py -m venv does not work (Debian: python3-venv)"
    exit 77
fi
[ -x "$TMP/v/bin/pip" ] || { echo "SKIP: the venv has no pip (Debian: python3-venv)"; exit 77; }
vpy="$TMP/v/bin/python"

# No bytecode written for the backend into the source tree.
PYTHONDONTWRITEBYTECODE=1 "$TMP/v/bin/pip" install --no-index --no-cache-dir --disable-pip-version-check \
    "$SRC/tools/python" >"$TMP/out" 2>"$TMP/err" || fail "pip install $SRC/tools/python (offline)"
site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -f "$site/cowguard.py" ] || fail "pip put no cowguard.py in $site"
cmp -s "$site/cowguard.py" "$SRC/tools/python/cowguard.py" || fail "the installed cowguard.py is not the source's"
[ ! -e "$site/sitecustomize.py" ] || fail "pip installed a sitecustomize.py into the venv"
ls "$site" | grep -q '^cowguard-.*\.dist-info$' || fail "no cowguard .dist-info in $site"
pass "pip installs the helper into a venv offline: cowguard.py and its metadata, no sitecustomize"

cat >prog.py <<'PY'
import cowguard  # first: without the preload this starts the script again under the library
import ctypes, os, sys

maps = [l.split() for l in open("/proc/self/maps")]
lib = sorted({m[5] for m in maps if len(m) > 5 and m[5].endswith("/libcowguard.so")})
print("RESULT active=%s launched=%s pid=%d venv=%s lib=%s" % (cowguard.active(), os.environ.get("COWGUARD_LAUNCHED"),
      os.getpid(), sys.prefix != sys.base_prefix, ",".join(lib) or "-"), flush=True)
with cowguard.readonly():
    buf = bytearray(b"\1" * (1 << 20))
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
pid = os.fork()
if pid == 0:
    perms = "-"
    for m in (l.split() for l in open("/proc/self/maps")):
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        if lo <= addr < hi:
            perms = m[1]
    frozen = cowguard.is_frozen(addr)
    buf[100] = 7  # the write the report must count
    os._exit(0 if "w" not in perms and frozen and buf[100] == 7 and buf[99] == 1 else 10)
_, status = os.waitpid(pid, 0)
print("RESULT child=%d parent_byte=%d" % (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, buf[100]))
PY
write_line=$(grep -n 'buf\[100\] = 7' prog.py | cut -d: -f1)

rc=0
PATH="$BUILD/tools:$PATH" "$vpy" prog.py >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "the venv's python running prog.py"
lib=$(cd "$BUILD/.libs" && pwd -P)/libcowguard.so
line=$(grep '^RESULT active' "$TMP/out")
[ "$(grep -c '^RESULT active' "$TMP/out")" -eq 1 ] || fail "the script's output before the restart was not one line"
pid=$(echo "$line" | sed 's/.* pid=\([0-9]*\).*/\1/')
[ "$line" = "RESULT active=True launched=$pid pid=$pid venv=True lib=$lib" ] ||
    fail "after the restart: '$line', expected active, COWGUARD_LAUNCHED=$pid, the venv, $lib mapped"
expect_out "^RESULT child=0 parent_byte=1$" "the forked child found the page read-only and frozen, and its write landed in its own copy"
expect_err "processes: 2;" "the report's processes"
# The child's write into the buffer's data (the buffer object's reference
# count, marked with it, is a second trapped write of its own).
grep -A3 'page copied (data), by 1 trapped write in 1 process' "$TMP/err" | grep -q "prog.py:$write_line in <module>" ||
    fail "the report names no data write at prog.py:$write_line"
pass "the venv's python starts prog.py again under the build tree's library; the child's write to the marked buffer is trapped and reported"
