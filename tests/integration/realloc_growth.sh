# A marked buffer grown by 200,000 appends (16 bytes each, and 2,000 of
# 4000 bytes), with other blocks allocated in between: it grows in place
# where it can and moves where it cannot (its pages remapped, not copied,
# from 128 KiB), and every byte is where the program put it, before and
# after a fork, also when the parent's view is thawed after a fork
# half-way (its pages then pending, recorded by the kernel).
. "$SRC/tests/integration/lib.sh"

for args in "200000 16" "2000 4000"; do
    plain "$PROGS/realloc_append" $args
    expect_rc 0 "realloc_append $args without cowguard"
    run COWGUARD_MIN_SIZE=64 COWGUARD_REPORT=off "$PROGS/realloc_append" $args
    expect_rc 0 "realloc_append $args"
    expect_out "ok" "realloc_append $args"
    run COWGUARD_MIN_SIZE=64 COWGUARD_FREEZE_PARENT=0 COWGUARD_REPORT=off "$PROGS/realloc_append" $args midway
    expect_rc 0 "realloc_append $args midway, COWGUARD_FREEZE_PARENT=0"
    expect_out "ok" "realloc_append $args midway"
done
pass "appends to marked buffers keep every byte, moved or grown in place, across forks"

# The moves happened, as mremap, and the buffer was never copied whole at
# every page it crossed: far fewer mremaps than the 781 pages it grew by.
if command -v strace >/dev/null 2>&1; then
    env LD_PRELOAD="$CG_LIB" COWGUARD_MIN_SIZE=64 COWGUARD_REPORT=off strace -f -qq -e trace=mremap \
        -o "$TMP/trace" "$PROGS/realloc_append" 200000 16 >/dev/null || fail "under strace"
    moves=$(grep -c 'MREMAP_DONTUNMAP' "$TMP/trace" || true)
    [ "$moves" -ge 1 ] && [ "$moves" -le 40 ] || fail "expected a few page moves, saw $moves"
    pass "the buffer's pages moved $moves times (mremap), not copied at each of its 781 pages"
else
    echo "skip: strace is not installed"
fi
