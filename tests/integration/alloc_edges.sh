# The allocator keeps its contract: a double free or a foreign pointer is
# reported and aborts, as glibc does, instead of a block being handed out
# twice; no frozen block is handed out after a fork that raced with frees;
# successful calls leave errno alone; requests cowguard does not mark behave
# exactly as the next allocator's.
. "$SRC/tests/integration/lib.sh"

aborts() { # WHAT MODE [ARG]: killed by SIGABRT, after a message naming the block
    what=$1
    shift
    run COWGUARD_REPORT=off "$PROGS/alloc_edges" "$@"
    expect_rc 134 "$what"
    block=$(sed -n 's/^block \(0x[0-9a-f]*\)$/\1/p' "$TMP/out")
    [ -n "$block" ] || fail "$what: no block printed"
    expect_err "cowguard: free(): .*$block" "$what"
    ! grep -q "returned" "$TMP/out" || fail "$what: the bad free returned"
}

plain "$PROGS/alloc_edges" double-free 48
expect_rc 134 "double free without cowguard (glibc aborts too)"
aborts "double free of a small block (thread cache)" double-free 48
expect_err "double free" "small double free"
aborts "double free of a large block" double-free 20000
aborts "double free across threads" double-free-thread
aborts "free of an interior pointer" interior
expect_err "not the start of a block" "interior"
pass "double frees (cached, large, across threads) and interior frees abort with the pointer named"

run COWGUARD_REPORT=off timeout 120 "$PROGS/alloc_edges" fork-race
expect_rc 0 "fork-race"
expect_out "^ok$" "fork-race"
pass "frees racing 200 forks: no frozen block is handed out afterwards"

plain "$PROGS/alloc_edges" errno
expect_rc 0 "errno without cowguard"
run COWGUARD_REPORT=off "$PROGS/alloc_edges" errno
expect_rc 0 "errno"
expect_out "^ok$" "errno"
pass "the first marked malloc, calloc, realloc, free, read and stat leave errno as it was"

run COWGUARD_MIN_SIZE=1 COWGUARD_REPORT=off "$PROGS/alloc_edges" small-stacks
expect_rc 0 "small-stacks"
expect_out "^ok$" "small-stacks"
pass "threads with 64 KiB stacks allocate marked blocks, and so do destructors that run after cowguard's"

plain "$PROGS/alloc_edges" aligned
cp "$TMP/out" "$TMP/plain"
run COWGUARD_REPORT=off "$PROGS/alloc_edges" aligned
expect_rc 0 "aligned"
diff "$TMP/plain" "$TMP/out" >"$TMP/diff" || fail "aligned requests differ from the next allocator's: $(cat "$TMP/diff")"
pass "alignments that are not powers of two get what the next allocator gives, marked or not"

# The option strings' pool (16 KiB): a value that does not fit keeps the
# variable's default instead of becoming empty (an empty COWGUARD_REPORT
# once wrote ./.partial).
long=$(head -c 17000 /dev/zero | tr '\0' 'x')
mkdir "$TMP/cwd"
(cd "$TMP/cwd" && env LD_PRELOAD="$CG_LIB" COWGUARD_SITES="$long" COWGUARD_REPORT=stderr COWGUARD_MIN_SIZE=1M \
    "$PROGS/table_write" >"$TMP/out" 2>"$TMP/err") || true
expect_err "COWGUARD_SITES: value too long" "long value"
[ -z "$(ls -A "$TMP/cwd")" ] || fail "long value: files appeared in the working directory: $(ls -A "$TMP/cwd")"
pass "a value too long for the pool keeps the default, with one message"
