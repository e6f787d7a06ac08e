#!/bin/bash
# The C library writing into frozen memory through its internal read and
# getdents, which cowguard cannot interpose (progs/stdio_frozen.c, built
# here with cc): a 1 MiB fread into a buffer malloc'd before the fork,
# fgets on a stream opened and first read before the fork, readdir on a
# directory opened before the fork, each in a forked child. The counts
# printed must be the plain run's.
#
# Failed on cowguard 0.1: fread returned 0 with EFAULT in both modes (glibc reads a
# large request straight into the caller's frozen buffer); in mode B fgets
# also stops early with EFAULT (stdio's 4 KiB buffer is malloc'd by libc,
# >= 64 bytes, so marked and frozen; mode A leaves libc's own allocations
# unmarked). Assertion: output. (readdir passed in both even then.)
. "$(dirname "$0")/common.sh"
command -v cc >/dev/null 2>&1 || { echo "skip: no C compiler (cc)"; exit 77; }

mkdir -p "$TMP/bin" "$TMP/dir"
cc -O2 -o "$TMP/bin/stdio_frozen" "$REAL/progs/stdio_frozen.c" || fail "cannot build stdio_frozen"
seq 1 200000 >"$TMP/data"
for i in $(seq 1 300); do : >"$TMP/dir/f$i"; done
for m in plain $MODES; do nsrun stdio "$m" -- "$TMP/bin/stdio_frozen" "$TMP/data" "$TMP/dir"; done
for m in $MODES; do check stdio "$m"; done
finish
