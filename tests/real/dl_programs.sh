#!/bin/bash
# Small C programs around the dynamic loader (progs/dl_*.c, built here with
# cc): dl_fork dlopen()s a library before its first fork and another in each
# child after it; dl_deepbind exchanges heap buffers with a library opened
# with RTLD_DEEPBIND (as PHP opens its extensions), in the parent before and
# after a fork and in the child. Output, exit statuses and reports must be
# as in the plain run.
#
# Both failed on cowguard 0.1 in both modes:
#  dl_fork: the loader malloc()s its _dl_find_object tables and link maps at
#    each dlopen; before the fork they are marked and frozen. At exit the
#    report writer dlopen()s libdw (srcline.c) with every signal blocked; the
#    loader writes those frozen pages and the kernel kills the process with
#    SIGSEGV: status, partial, report, signal, output (the children die
#    too, after the parent printed what they returned).
#  dl_deepbind: the library's free is glibc's own; given a block from
#    cowguard's arena it aborts with "free(): invalid pointer" before the
#    fork: status, signal (SIGABRT), output (no fork happened, so no
#    report is due).
. "$(dirname "$0")/common.sh"
command -v cc >/dev/null 2>&1 || { echo "skip: no C compiler (cc)"; exit 77; }

B=$TMP/bin
mkdir -p "$B"
cc -O2 -fPIC -shared -o "$B/libdl_before.so" "$REAL/progs/dl_lib.c" &&
    cc -O2 -fPIC -shared -o "$B/libdl_after.so" "$REAL/progs/dl_lib.c" &&
    cc -O2 -o "$B/dl_fork" "$REAL/progs/dl_fork.c" -ldl &&
    cc -O2 -o "$B/dl_deepbind" "$REAL/progs/dl_deepbind.c" -ldl || fail "cannot build the programs"

for m in plain $MODES; do
    nsrun dl_fork "$m" -- "$B/dl_fork" "$B/libdl_before.so" "$B/libdl_after.so"
    # 256 bytes: marked in mode B as well as in mode A.
    nsrun dl_deepbind "$m" -- "$B/dl_deepbind" "$B/libdl_before.so" 256
done
for m in $MODES; do
    check dl_fork "$m"
    check dl_deepbind "$m"
done
finish
