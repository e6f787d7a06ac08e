#!/bin/bash
# Ruby and Perl scripts (progs/fork_workers.rb, .pl): a large hash and array
# built before forking, read by 3 forked workers (one writes, one leaves
# through _exit), results through pipes, a checksum from the parent. Output,
# exit status and reports must be as in the plain run. Runs the languages
# that are installed (Debian: ruby, perl); skips when neither is.
#
# Ruby failed on cowguard 0.1 in both modes: the interpreter malloc()s an alternate
# signal stack for its SIGSEGV handler (SA_ONSTACK, stack overflow
# detection); marked and frozen at fork, the first trapped write is
# delivered on a read-only stack and the kernel kills parent and workers
# with SIGSEGV (SI_KERNEL): status, signal, report, output.
. "$(dirname "$0")/common.sh"

langs=""
command -v ruby >/dev/null 2>&1 && langs="$langs ruby"
command -v perl >/dev/null 2>&1 && langs="$langs perl"
[ -n "$langs" ] || { echo "skip: neither ruby nor perl is installed"; exit 77; }
for l in $langs; do
    case $l in ruby) f=fork_workers.rb ;; perl) f=fork_workers.pl ;; esac
    for m in plain $MODES; do nsrun "$l" "$m" -- "$l" "$REAL/progs/$f"; done
    for m in $MODES; do check "$l" "$m"; done
done
finish
