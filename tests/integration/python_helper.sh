# The Python helper: with the preload, readonly() marks, freeze/is_frozen/
# thaw work, stats() reports; without it, one warning and no effect.
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
pass "without the preload: one warning, every call a no-op, the program runs"
