# The Python helper: with the preload, readonly() marks, freeze/is_frozen/
# thaw work, stats() reports; without it, a plain script that imports it is
# started again under the library found beside the launcher on PATH, and
# where that cannot be done (standard input, a module's import, started
# already) one warning gives the command to run, and nothing takes effect.
. "$SRC/tests/integration/lib.sh"
export PYTHONPATH="$SRC/tools/python"

run PYTHONMALLOC=malloc python3 - <<'PY'
import cowguard, ctypes
assert cowguard.active()
before = cowguard.stats()["marked_bytes"]
with cowguard.readonly():
    with cowguard.readonly():  # nests
        buf = bytearray(1 << 20)
    other = bytearray(1 << 16)
outside = bytearray(1 << 16)
s = cowguard.stats()
assert s["marked_bytes"] - before >= (1 << 20) + (1 << 16), s
addr = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
out_addr = ctypes.addressof((ctypes.c_char * len(outside)).from_buffer(outside))
assert cowguard.freeze() and cowguard.is_frozen(addr) and not cowguard.is_frozen(out_addr)
assert cowguard.stats()["frozen_bytes"] >= 1 << 20
assert cowguard.thaw() and not cowguard.is_frozen(addr)
buf[0] = 1
print("ok", sorted(s))
PY
expect_rc 0 "helper under the preload"
expect_out "^ok " "helper under the preload"
pass "readonly() (nested) marks; freeze, is_frozen, thaw, stats agree"

rc=0
python3 - >"$TMP/out" 2>"$TMP/err" <<'PY' || rc=$?
import cowguard
with cowguard.readonly():
    x = [1, 2, 3]
print(cowguard.active(), cowguard.freeze(), cowguard.thaw(), cowguard.stats(), cowguard.is_frozen(id(x)))
PY
expect_rc 0 "helper without the preload"
expect_out "^False False False {} False$" "helper without the preload"
[ "$(grep -c 'RuntimeWarning: cowguard: libcowguard.so is not preloaded' "$TMP/err")" -eq 1 ] ||
    fail "expected one warning without the preload"
[ "$(grep -c 'run: cowguard --python -- [^ ]*python3[^ ]* -$' "$TMP/err")" -eq 1 ] ||
    fail "the warning does not give the command to run (the program came from standard input)"
pass "without the preload: one warning naming the command to run, every call a no-op, the program runs"

# A worker that leaves by sys.exit: the atexit callbacks and the
# interpreter's finalization are its teardown, counted apart from what it
# copied while it worked (1 MiB here; the callback writes 7 MiB more).
cat >"$TMP/teardown.py" <<'PY'
import atexit, os, sys
import cowguard
assert cowguard.active()
MIB = 1 << 20
buf = bytearray(b"\1" * (8 * MIB))
atexit.register(lambda: buf.__setitem__(slice(MIB, 8 * MIB), b"\2" * (7 * MIB)))
pid = os.fork()
if pid == 0:
    buf[0:MIB] = b"\3" * MIB
    sys.exit(0)
os.waitpid(pid, 0)
print("done")
PY
# The interpreter by name: a python3 on PATH may be a shell script whose
# own forks would write the report first.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/td.json" "$py" "$TMP/teardown.py"
expect_rc 0 "teardown"
expect_out "^done$" "teardown"
set -- $(child_outside "$TMP/td.json")
work=$1 late=$2
# the 1 MiB written (256 pages) and the interpreter's few; much of the 7 MiB
# the callback wrote (what finalization frees is not counted)
[ "$work" -ge 256 ] && [ "$work" -lt 700 ] || fail "teardown: $work pages while working"
[ "$late" -ge 256 ] || fail "teardown: $late pages during exit"
echo "$work pages while working, $late during exit" >"$TMP/check"
pass "a worker's sys.exit teardown is counted apart: $(cat "$TMP/check")"

# Imported by a plain script, no launcher: the helper finds the build tree's
# library beside the launcher on PATH and starts the script again under it.
cat >"$TMP/main.py" <<'PY'
import cowguard
import os
lib = sorted({l.split()[-1] for l in open("/proc/self/maps") if l.rstrip().endswith("/libcowguard.so")})
print("RESULT", cowguard.active(), os.environ.get("COWGUARD_LAUNCHED") == str(os.getpid()), ",".join(lib) or "-")
PY
lib=$(cd "$BUILD/.libs" && pwd -P)/libcowguard.so
PATH="$BUILD/tools:$PATH" plain "$py" "$TMP/main.py" one 'two words'
expect_rc 0 "a plain script importing the helper"
[ "$(cat "$TMP/out")" = "RESULT True True $lib" ] || fail "not started again under $lib: $(cat "$TMP/out")"
expect_no_err "RuntimeWarning" "a plain script started again"
pass "a plain script that imports the helper is started again under the build tree's library"

# Imported by another module than the main script: not started again; the
# warning says why and what to run, from the real command line.
echo 'import cowguard' >"$TMP/other.py"
PATH="$BUILD/tools:$PATH" plain env PYTHONPATH="$TMP:$PYTHONPATH" "$py" -c 'import other, cowguard; print(cowguard.active())'
expect_rc 0 "a module importing the helper"
expect_out "^False$" "a module importing the helper"
[ "$(grep -c 'RuntimeWarning: cowguard: libcowguard.so is not preloaded' "$TMP/err")" -eq 1 ] ||
    fail "expected one warning when a module imports the helper"
expect_err "other.py:1: RuntimeWarning: .*not imported by the main script's module-level code.*; run: cowguard --python -- [^ ]*python3[^ ]* -c 'import other, cowguard; print(cowguard.active())'$" \
    "the warning for a module's import"
# Started already (COWGUARD_LAUNCHED names this process) and still without
# the library: no second start, a warning.
PATH="$BUILD/tools:$PATH" plain sh -c 'COWGUARD_LAUNCHED=$$ exec "$0" "$1"' "$py" "$TMP/main.py"
expect_rc 0 "a script started already"
expect_out "^RESULT False True -$" "a script started already"
expect_err "although this process was started to preload it" "a script started already"
pass "imported by a module, or started already: not started again, one warning that says so"
