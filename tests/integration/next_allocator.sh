# A program running on jemalloc keeps jemalloc: unmarked requests reach it
# (its own statistics grow), marked ones do not. Skipped without jemalloc.
. "$SRC/tests/integration/lib.sh"

je=$(ls /usr/lib/*/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 2>/dev/null | head -1)
[ -n "$je" ] || { echo "skip: libjemalloc2 is not installed"; exit 77; }
rc=0
env LD_PRELOAD="$CG_LIB $je" "$PROGS/next_alloc" >"$TMP/out" 2>"$TMP/err" || rc=$?
expect_rc 0 "next_alloc"
expect_out "^ok$" "next_alloc"
pass "$(head -1 "$TMP/out")"
