#!/bin/sh
# tests/installcheck.sh SRCDIR: what 'make install' put in the prefix works
# on its own, from a directory outside the build: the launcher finds the
# library, the report tool merges the reports of a small forking program,
# a program builds with 'pkg-config --cflags --libs cowguard' and another
# with the header alone (run without the preload), the Python helper
# imports under the launcher and, by plain python3, starts the program again
# under the installed library, the man pages render; and a staged 'make
# install prefix=DIR' from the build tree gives files that name DIR. Run by
# 'make installcheck' with the install directories in the environment:
# prefix exec_prefix bindir includedir libdir pkglibdir pythondir mandir
# docdir VERSION CC PKG_CONFIG PYTHON, and MAKE and builddir for the staged
# install.
set -u
src=$(cd "$1" && pwd)
: "${bindir:?}" "${includedir:?}" "${libdir:?}" "${pkglibdir:?}" "${pythondir:?}"
: "${mandir:?}" "${docdir:?}" "${VERSION:?}" "${CC:=cc}" "${PKG_CONFIG:=pkg-config}" "${PYTHON:=python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Nothing from the build tree or the caller: the installed files only.
for v in $(env | sed -n 's/^\(COWGUARD_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD PYTHONPATH
cd "$tmp" || exit 1

failed=0
fail() { echo "FAIL: $*"; failed=1; }
pass() { echo "ok: $*"; }
show() { [ -s "$1" ] && sed 's/^/    /' "$1" | head -30; }

# 1. Every installed piece is where its users look for it.
for f in "$bindir/cowguard" "$bindir/cowguard-report" "$pkglibdir/libcowguard.so" \
    "$includedir/cowguard.h" "$libdir/pkgconfig/cowguard.pc" "$pythondir/cowguard.py" \
    "$mandir/man1/cowguard.1" "$mandir/man1/cowguard-report.1" "$mandir/man3/cowguard.3" \
    "$mandir/man7/cowguard.7" "$docdir/README.md" "$docdir/examples/lookup_table.c"; do
    [ -e "$f" ] || fail "not installed: $f"
done
[ "$failed" -eq 0 ] && pass "library, header, cowguard.pc, launcher, report tool, Python helper, man pages and docs installed"

# 2. The launcher, found on PATH, knows its version and finds its library.
PATH="$bindir:$PATH"
export PATH
out=$(cowguard --version 2>&1)
[ "$out" = "cowguard $VERSION" ] || fail "cowguard --version: '$out'"
cowguard --help | grep -q -- '--min-size' || fail "cowguard --help lists no options"
pkg_cflags() { PKG_CONFIG_PATH="$libdir/pkgconfig" "$PKG_CONFIG" "$@" cowguard; }
preload=$(pkg_cflags --variable=preload)
[ "$preload" = "$pkglibdir/libcowguard.so" ] || fail "pkg-config --variable=preload: '$preload'"

# 3. The installed example, built with pkg-config, under the installed
# launcher: 4 workers read the table, worker 1 also writes one node.
flags=$(pkg_cflags --cflags --libs) || fail "pkg-config --cflags --libs cowguard failed"
# shellcheck disable=SC2086 # the flags are words
if $CC -g -O0 $flags -o lookup_table "$docdir/examples/lookup_table.c" 2>cc.err; then
    rc=0
    cowguard --report-format json --report "$tmp/cg.%p.json" -- ./lookup_table -n 20000 -w 4 --write-node \
        >run.out 2>run.err || rc=$?
    [ "$rc" -eq 0 ] || { show run.err; fail "cowguard -- ./lookup_table: exit status $rc"; }
    result=$(grep '^RESULT' run.out)
    # What the kernel says (pagemap bit 56): worker 1 copied the page it
    # wrote, the other three copied nothing.
    # What the kernel says (pagemap bit 56): one worker copied the node
    # page it wrote (two when the node straddles pages), the others none.
    case $result in *" ok=1") ;; *) fail "lookup_table under cowguard: $result" ;; esac
    copied=$(echo "$result" | sed 's/.* copied=\([0-9,]*\).*/\1/' | tr ',' '\n')
    sum=$(echo "$copied" | awk '{s += $1} END {print s + 0}')
    writers=$(echo "$copied" | grep -cv '^0$')
    [ "$sum" -ge 1 ] && [ "$sum" -le 2 ] && [ "$writers" -eq 1 ] ||
        fail "lookup_table: node pages copied per worker: $(echo $copied), expected one worker's 1 or 2"
    n=$(ls "$tmp"/cg.*.json 2>/dev/null | wc -l)
    [ "$n" -eq 5 ] || fail "expected 5 JSON reports (root and 4 workers), found $n"
    # The installed report tool merges them: 5 processes, 1 trapped write
    # by worker(), into memory allocated by main().
    if cowguard-report "$tmp"/cg.*.json >merged.txt 2>merged.err &&
        cowguard-report --json "$tmp"/cg.*.json >merged.json 2>>merged.err; then
        grep -q 'processes: 5;' merged.txt || { show merged.txt; fail "merged text report: not 5 processes"; }
        "$PYTHON" - merged.json <<'EOF' || fail "merged JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
assert t["processes"] == 5, t
assert t["frozen_bytes"] > 0 and t["copied_pages"] >= 1, t
assert len(r["processes"]) == 5 and sum(p["role"] == "root" for p in r["processes"]) == 1
site = r["sites"][0]
assert site["writer"][0]["function"] == "worker", site["writer"][0]
assert any(f["function"] == "main" for f in site["allocated"]), site["allocated"]
EOF
        cowguard-report --svg picture.svg "$tmp"/cg.*.json >/dev/null 2>>merged.err &&
            grep -q '<svg' picture.svg || fail "cowguard-report --svg"
    else
        show merged.err
        fail "cowguard-report on the installed launcher's reports"
    fi
    [ "$failed" -eq 0 ] && pass "installed launcher and report tool: 5 processes, the written node page copied by worker 1 only, the writer named"

    # The same binary without cowguard: a plain program, every worker copies.
    rc=0
    ./lookup_table -n 20000 -w 2 >plain.out 2>plain.err || rc=$?
    [ "$rc" -eq 0 ] && [ ! -s plain.err ] || fail "lookup_table without the preload: exit $rc"
    grep -q '^RESULT.* ok=1' plain.out || fail "lookup_table without the preload: $(cat plain.out)"
else
    show cc.err
    fail "cannot build the installed example with pkg-config's flags"
fi

# 4. The header alone (no pkg-config, nothing to link), run plainly and
# under the launcher.
if $CC -I"$includedir" -o api_plain "$src/tests/install/api_plain.c" 2>cc.err; then
    if readelf -d api_plain | grep -q 'NEEDED.*cowguard'; then fail "api_plain links libcowguard"; fi
    out=$(./api_plain plain 2>&1) || fail "api_plain without the preload: $out"
    out=$(cowguard -- ./api_plain preloaded 2>&1) || fail "api_plain under cowguard: $out"
    [ "$failed" -eq 0 ] && pass "a program built with the header only runs with and without the library"
else
    show cc.err
    fail "cannot build a program with -I$includedir"
fi

# 5. The example of cowguard(3) builds as printed and runs both ways.
sed -n '/^#include <cowguard.h>$/,/^}$/p' "$mandir/man3/cowguard.3" | sed 's/\\-/-/g; s/\\e/\\/g' >man_example.c
if [ -s man_example.c ] && $CC $flags -o man_example man_example.c 2>cc.err; then
    ./man_example && cowguard -- ./man_example 2>man.err || fail "cowguard(3)'s example does not run"
    if grep -q 'processes: 5; .*copied: 0 B (0 pages)[^;]*; trapped writes: 0' man.err; then
        pass "cowguard(3)'s example builds as printed; under cowguard its 4 workers copy no frozen page"
    else
        show man.err
        fail "cowguard(3)'s example: not 5 processes sharing every frozen page"
    fi
else
    show cc.err
    fail "cowguard(3)'s example does not build"
fi

# 6. The Python helper, from its installed place, through the launcher.
if "$PYTHON" -c 'import ctypes' 2>/dev/null; then
    # Standard output only: a report of what a child copied (the python3
    # on PATH may be a shell script that forks) goes to standard error.
    out=$(cowguard --python -- "$PYTHON" -c '
import cowguard, sys
print(cowguard.__file__)
sys.exit(0 if cowguard.active() else 1)' 2>py.err) || fail "import cowguard under the launcher: $out $(cat py.err)"
    case $out in
    "$pythondir/cowguard.py"*) pass "cowguard --python imports the installed helper, active" ;;
    *) fail "imported cowguard from '$out', not $pythondir" ;;
    esac

    # Plain python3, no launcher and no LD_PRELOAD: the helper finds the
    # installed library (its path is written into the installed copy) and
    # starts the script again under it. Where the install is one that python3
    # searches by itself (/usr/local, /usr) nothing is added to its path;
    # under a staged prefix (distcheck) only pythondir goes on PYTHONPATH.
    # What is checked comes from the kernel and the data: the library mapped,
    # the marked page's permissions in a forked child, the child's write.
    cat >plain_import.py <<'EOF'
import cowguard  # first: the script is started again under the library
import ctypes, os
maps = [l.split() for l in open("/proc/self/maps")]
lib = sorted({m[5] for m in maps if len(m) > 5 and m[5].endswith("/libcowguard.so")})
print("file", cowguard.__file__)
print("active", cowguard.active(), os.environ.get("COWGUARD_LAUNCHED") == str(os.getpid()))
print("lib", ",".join(lib) or "-")
with cowguard.readonly():
    buf = bytearray(b"\1" * (1 << 20))
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
pid = os.fork()
if pid == 0:
    perms = None
    for m in (l.split() for l in open("/proc/self/maps")):
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        if lo <= addr < hi:
            perms = m[1]
    ok = perms is not None and "w" not in perms and cowguard.is_frozen(addr)
    buf[5] = 9
    os._exit(0 if ok and buf[5] == 9 else 1)
_, status = os.waitpid(pid, 0)
print("child", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, buf[5])
EOF
    if "$PYTHON" -c 'import sys; sys.exit(0 if sys.argv[1] in sys.path else 1)' "$pythondir"; then
        how="plain $PYTHON"
        out=$("$PYTHON" plain_import.py 2>plain.err)
    else
        how="$PYTHON with PYTHONPATH=$pythondir"
        out=$(PYTHONPATH="$pythondir" "$PYTHON" plain_import.py 2>plain.err)
    fi
    lib=$(cd "$pkglibdir" && pwd -P)/libcowguard.so
    want="file $pythondir/cowguard.py
active True True
lib $lib
child 0 1"
    if [ "$out" = "$want" ]; then
        pass "$how: 'import cowguard' starts the script again under $lib; a forked child finds the marked page read-only"
    else
        show plain.err
        fail "$how, importing the installed helper: '$out', expected '$want'"
    fi
fi

# 7. The prefix moved elsewhere: the launcher finds the library from its
# own place.
if [ -n "${exec_prefix:-}" ] && [ "$bindir" = "$exec_prefix/bin" ]; then
    rel=${pkglibdir#"$exec_prefix"/}
    mkdir -p moved/bin "moved/$rel"
    cp "$bindir/cowguard" moved/bin/ && cp "$pkglibdir/libcowguard.so" "moved/$rel/"
    out=$(moved/bin/cowguard -- sh -c 'echo "$LD_PRELOAD"' 2>moved.err)
    if [ "$out" = "$tmp/moved/$rel/libcowguard.so" ]; then
        pass "a moved prefix: the launcher preloads the library next to it"
    else
        fail "moved launcher preloads '$out' $(cat moved.err)"
    fi
fi

# 8. The man pages: man finds them in the prefix and renders them without a
# warning.
if command -v man >/dev/null 2>&1; then
    for page in 1:cowguard 1:cowguard-report 3:cowguard 7:cowguard; do
        f=$(MANPATH="$mandir" man -w "${page%%:*}" "${page#*:}" 2>/dev/null)
        case $f in "$mandir"/*) ;; *) fail "man -w ${page%%:*} ${page#*:}: '$f'" ;; esac
        MANWIDTH=80 man --warnings -E UTF-8 -l "$f" >/dev/null 2>warn || fail "man -l $f"
        [ ! -s warn ] || { show warn; fail "man --warnings -l $f warns"; }
    done
    [ "$failed" -eq 0 ] && pass "man finds cowguard(1), cowguard-report(1), cowguard(3), cowguard(7) in $mandir; no warnings"
fi

# 9. A staged install (the GNU convention): 'make install prefix=DIR' in the
# build tree, configured for another prefix. Every file that names a path
# names DIR: the launcher (copied away from DIR, so that it cannot find the
# library from its own place), cowguard.pc, cowguard(7) and the installed
# helper. Only when every directory lies under the configured prefix (they
# then all move with it); the build tree is made for its own paths again after.
under_prefix=yes
for d in "$bindir" "$libdir" "$pkglibdir" "$includedir" "$pythondir" "$mandir"; do
    case $d in "${prefix:-/nowhere}"/*) ;; *) under_prefix=no ;; esac
done
if [ -n "${MAKE:-}" ] && [ -n "${builddir:-}" ] && [ "$under_prefix" = yes ]; then
    staged=$tmp/staged
    at() { echo "$staged${1#"$prefix"}"; }
    if $MAKE -C "$builddir" install prefix="$staged" >staged.log 2>&1; then
        before=$failed
        mkdir -p away
        cp "$(at "$bindir")/cowguard" away/
        out=$(away/cowguard -- sh -c 'grep -o "/[^ ]*/libcowguard.so" /proc/self/maps | sort -u' 2>staged.err)
        [ "$out" = "$(at "$pkglibdir")/libcowguard.so" ] ||
            fail "staged launcher, moved away: maps '$out', not $(at "$pkglibdir")/libcowguard.so $(cat staged.err)"
        pc() { PKG_CONFIG_PATH="$(at "$libdir")/pkgconfig" "$PKG_CONFIG" "$@" cowguard; }
        [ "$(pc --variable=preload)" = "$(at "$pkglibdir")/libcowguard.so" ] &&
            [ "$(pc --variable=includedir)" = "$(at "$includedir")" ] &&
            [ "$(pc --cflags | sed 's/ *$//')" = "-I$(at "$includedir")" ] ||
            fail "staged cowguard.pc: preload '$(pc --variable=preload)', includedir '$(pc --variable=includedir)', cflags '$(pc --cflags)'"
        page=$(at "$mandir")/man7/cowguard.7
        grep -q "^$(at "$pkglibdir")/libcowguard.so" "$page" && ! grep -q "$pkglibdir" "$page" ||
            fail "staged cowguard(7) does not name $(at "$pkglibdir") alone"
        out=$(PATH=/usr/bin:/bin PYTHONPATH="$(at "$pythondir")" "$PYTHON" -c '
import cowguard, os
print(cowguard.__file__, cowguard.active(), *sorted({l.split()[-1] for l in open("/proc/self/maps") if l.rstrip().endswith("/libcowguard.so")}))' 2>staged.err)
        [ "$out" = "$(at "$pythondir")/cowguard.py True $(at "$pkglibdir")/libcowguard.so" ] ||
            fail "staged helper: '$out' $(cat staged.err)"
        [ "$failed" -ne "$before" ] ||
            pass "make install prefix=$staged: launcher, cowguard.pc, cowguard(7) and the Python helper name it"
    else
        tail -20 staged.log
        fail "make install prefix=$staged"
    fi
    $MAKE -C "$builddir" all >staged.log 2>&1 || { tail -20 staged.log; fail "make all after the staged install"; }
    grep -qx "pkglibdir=$pkglibdir" "$builddir/install-paths.stamp" ||
        fail "after the staged install, make all did not make the build tree's files for $pkglibdir again"
fi

[ "$failed" -eq 0 ] || exit 1
echo "installcheck: all passed"
