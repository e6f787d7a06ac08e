#!/bin/sh
# tools/demo.sh LIB PROG LAUNCHER SRCDIR: the C example
# (examples/lookup_table.c) plainly and under cowguard, side by side, with
# what the kernel says each worker copied, then cowguard's report; then the
# Python examples (docs/examples) under the launcher. Run by
# 'make demo'.
set -eu
lib=$1
prog=$2
launcher=$3
src=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "A lookup table of 20000 nodes, allocated one by one between mutable counters,"
echo "read by 4 forked workers that update their counters."
echo

"$prog" -w 4 >"$tmp/plain"
LD_PRELOAD="$lib" "$prog" -w 4 >"$tmp/cg" 2>"$tmp/report"

# Worker lines: id, node pages, copied pages, Private_Dirty growth (kB).
awk '/^[0-9]/ {print $1, $2, $3, $4}' "$tmp/plain" | sort -n >"$tmp/p"
awk '/^[0-9]/ {print $1, $2, $3, $4}' "$tmp/cg" | sort -n >"$tmp/c"
echo "                      plain malloc                  under cowguard"
printf "%-7s %-16s %-14s %-16s %s\n" worker "table pages" "Private_Dirty" "table pages" "Private_Dirty"
printf "%-7s %-16s %-14s %-16s %s\n" "" "copied/total" "growth" "copied/total" "growth"
join "$tmp/p" "$tmp/c" | while read -r id pn pc pd cn cc cd; do
    printf "%-7s %-16s %-14s %-16s %s\n" "$id" "$pc/$pn" "$pd kB" "$cc/$cn" "$cd kB"
done
echo
echo "copied: table pages this worker holds exclusively (/proc/self/pagemap bit 56)"
echo "Private_Dirty: growth of the worker's /proc/self/smaps_rollup Private_Dirty"
echo "(under cowguard only the counters, which the workers do write, are copied)"
echo
echo "cowguard's report (LD_PRELOAD=$lib):"
cat "$tmp/report"
echo
echo "Now worker 1 writes one node, under COWGUARD_POLICY=abort:"
COWGUARD_POLICY=abort LD_PRELOAD="$lib" "$prog" -w 2 --write-node 2>&1 >/dev/null | grep -Ev ' (root|child) +[0-9]+$' || true

py=/usr/bin/python3
[ -x "$py" ] || py=python3
summary() { # the first lines of the merged report and the top site's first frames
    python3 "$src/tools/cowguard-report" --top 1 "$@" | awk '
        /^cowguard report/ {next}
        /^frozen:/ {print "  " $0; next}
        /^  site 1:/ {print "  top" substr($0, 7); next}
        /^    (written by|into memory allocated by):/ {print "  " $0; n = 0; next}
        /^      #/ {if (n++ < 2) print "  " $0; next}'
}

echo
echo "A dict of 200,000 bin() strings built inside cowguard.readonly(),"
echo "read by a fork Pool of 4 (docs/examples/pool_bin_cache.py)."
echo "\$ cowguard --python -- python3 pool_bin_cache.py"
"$launcher" --python --report-format json --report "$tmp/s1.%p.json" -- "$py" "$src/docs/examples/pool_bin_cache.py" | grep -v '^RESULT'
summary "$tmp"/s1.*.json
echo "  The strings stay frozen, but CPython writes the reference count of every"
echo "  object it reads (cause refcount): the workers copy the pages they touch,"
echo "  and the top site names the line that read them (func) and the line that"
echo "  built them (the dict comprehension in main)."

if "$py" -c 'import numpy' 2>/dev/null; then
    echo
    echo "A 400 MB NumPy array read by 4 fork workers as a global"
    echo "(docs/examples/pool_numpy.py), marked by COWGUARD_MIN_SIZE=1M alone."
    echo "\$ COWGUARD_MIN_SIZE=1M cowguard -- python3 pool_numpy.py global 400"
    COWGUARD_MIN_SIZE=1M "$launcher" --report-format json --report "$tmp/s3.%p.json" -- \
        "$py" "$src/docs/examples/pool_numpy.py" global 400 >/dev/null
    summary "$tmp"/s3.*.json
    echo "  The array's buffer is only read: all of it stays shared by the five processes."
else
    echo
    echo "(pool_numpy.py needs NumPy for $py: Debian's python3-numpy; skipped.)"
fi
