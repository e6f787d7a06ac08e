#!/bin/sh
# tools/demo.sh LIB PROG: the C example (examples/lookup_table.c) plainly and
# under cowguard, side by side, with what the kernel says each worker copied,
# then cowguard's report. Run by 'make demo'.
set -eu
lib=$1
prog=$2
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
