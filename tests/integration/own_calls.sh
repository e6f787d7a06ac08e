# cowguard calls the real functions, never its own wrappers, and keeps no
# descriptor where the program sees or reuses it.
#
# A call from inside the library to a name it exports goes through its own
# PLT and lands in its own wrapper: the library's dynamic relocations
# (JUMP_SLOT, GLOB_DAT) must name none of the symbols it defines.
. "$SRC/tests/integration/lib.sh"

# Deliberate calls to an exported name, each with the reason (none today).
allowed=""

readelf -rW "$CG_LIB" | awk '$3 ~ /JUMP_SLOT|GLOB_DAT/ { sub(/@.*/, "", $5); print $5 }' | sort -u >"$TMP/called"
nm -D --defined-only "$CG_LIB" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort -u >"$TMP/defined"
[ -s "$TMP/called" ] && [ -s "$TMP/defined" ] || fail "readelf or nm gave nothing"
for name in $(comm -12 "$TMP/called" "$TMP/defined"); do
    case " $allowed " in *" $name "*) continue ;; esac
    fail "the library calls its own exported $name through its PLT (call the next definition or the system call)"
done
pass "no relocation of the library names a symbol it exports"

plain "$PROGS/own_fds"
expect_rc 0 "own_fds without cowguard"
run COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$PROGS/own_fds"
expect_rc 0 "own_fds"
expect_out "unwinds: ok" "own_fds"
expect_out "child: ok" "own_fds"
python3 - "$TMP/r.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["faults"] == 3 and child["copied_pages"] == 3, child
PY
pass "no descriptor left by unwinds; pagemap's is close-on-exec, and a program file put at its number is left alone"
