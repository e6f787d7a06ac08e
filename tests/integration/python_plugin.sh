# Python loaded after start-up (uWSGI's python3 plugin opens libpython with
# dlopen): once the helper routes the allocator from inside it, cowguard
# knows the interpreter, and the report has its Python frames and the
# causes of its writes, as for a python3 program.
. "$SRC/tests/integration/lib.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
# By its soname, as the loader finds it (Debian: libpython3.X.so.1.0 from
# libpython3.X); embed_python exits 77 when it cannot be opened.
lib=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("INSTSONAME") or "")')
case $lib in
*.so*) ;;
*) echo "SKIP: this python3 has no shared libpython"; exit 77 ;;
esac

cat >"$TMP/prog.py" <<'PY'
import os, sys
import cowguard
with cowguard.readonly():
    table = [str(i) * 3 for i in range(100000)]
pid = os.fork()
if pid == 0:
    n = sum(len(table[i]) for i in range(0, 100000, 7))
    os._exit(0 if n > 0 else 1)
_, status = os.waitpid(pid, 0)
print("child", status)
PY
run PYTHONPATH="$SRC/tools/python" COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" \
    "$PROGS/embed_python" "$lib" "exec(open('$TMP/prog.py').read())"
[ "$rc" -ne 77 ] || { echo "SKIP: $(cat "$TMP/err")"; exit 77; }
expect_rc 0 "embedded"
expect_out "^child 0$" "embedded"
"$py" - "$TMP/r.json" <<'PY' >"$TMP/check" 2>&1 || fail "embedded: $(cat "$TMP/check")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["python"] and d["python"]["frames"], f"python: {d['python']}"
site = d["sites"][0]
assert site["cause"] == "refcount", f"top site's cause: {site['cause']}"
w = [f for f in site["writer"] if f.get("python")]
assert w and w[0]["line"] == 7, f"writer: {site['writer'][:3]}"
a = [f for f in site["allocated"] if f.get("python")]
assert a and a[0]["line"] == 4, f"allocated: {site['allocated'][:3]}"
print(d["python"]["version"], site["pages"], "pages")
PY
pass "libpython opened after start-up: Python $(cat "$TMP/check"), refcount, the reading and building lines"
