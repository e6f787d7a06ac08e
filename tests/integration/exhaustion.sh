# When cowguard runs short (arena full, no address space, mmap or mprotect
# refused): one warning, marked allocations pass through or stay unfrozen,
# the program runs on with correct data, and nothing is lost or freed twice
# across the boundary (every block, cowguard's or not, is freed with free()).
. "$SRC/tests/integration/lib.sh"
shim="$BUILD/tests/progs/.libs/failshim.so"

# under: VAR=VALUE ... -- args: exhaust with the shim and cowguard preloaded
under() {
    rc=0
    env LD_PRELOAD="$CG_LIB $shim" "$@" "$PROGS/exhaust" write >"$TMP/out" 2>"$TMP/err" || rc=$?
}
one_warning() { # PATTERN WHAT
    [ "$(grep -c 'cowguard: ' "$TMP/err")" -eq 1 ] || fail "$2: expected one cowguard line on stderr"
    expect_err "$1" "$2"
}

run COWGUARD_ARENA_MAX=16M COWGUARD_REPORT=off "$PROGS/exhaust" write
expect_rc 0 "arena full"
expect_out " ok$" "arena full"
one_warning "the arena is full (COWGUARD_ARENA_MAX=16M); further marked allocations are passed through" "arena full"
marked=$(sed -n 's/^marked=\([0-9]*\) .*/\1/p' "$TMP/out")
[ "$marked" -gt 0 ] && [ "$marked" -lt 48 ] || fail "arena full: $marked blocks marked, expected some but not all"
pass "arena full: one warning, $marked of 48 blocks marked, the rest passed through; data intact, all freed"

under FAILSHIM_MMAP_MIN=1073741824 COWGUARD_REPORT=off
expect_rc 0 "no address space for the arena"
expect_out "^marked=0 ok$" "no address space"
one_warning "cannot reserve 65536M of address space for marked data" "no address space"
pass "reservation refused: one warning, everything passed through"

under FAILSHIM_MMAP_SHARED=1
expect_rc 0 "no shared board"
expect_out "^marked=48 ok$" "no shared board"
one_warning "cannot map the process-tree board" "no shared board"
pass "the process-tree board refused: one warning, marking and freezing go on without a report"

under FAILSHIM_MPROTECT=read COWGUARD_REPORT=off
expect_rc 0 "freeze refused"
expect_out "^marked=48 ok$" "freeze refused"
one_warning "cannot freeze marked data (mprotect: Cannot allocate memory); it stays writable" "freeze refused"
pass "freezing refused: one warning, the data stays writable and the child's writes go through"

under FAILSHIM_MPROTECT=write FAILSHIM_SKIP=3 COWGUARD_REPORT=off
expect_rc 0 "arena growth refused"
expect_out " ok$" "arena growth refused"
one_warning "the arena is full" "arena growth refused"
pass "growing the arena refused: one warning, later marked allocations passed through"

# Blocks freed while frozen, with the parent's view frozen for good
# (FREEZE_PARENT=1): reclaimed once nothing live is left in their pages, so
# 1000 rounds of allocate, fork, free stay as small as one round.
run COWGUARD_REPORT=off "$PROGS/churn" 1000
expect_rc 0 "churn"
arena=$(sed -n 's/^arena_kb=\([0-9]*\) .*/\1/p' "$TMP/out")
rss=$(sed -n 's/.* rss_kb=\([0-9]*\) .*/\1/p' "$TMP/out")
[ "$arena" -lt 8192 ] || fail "churn: the arena grew to $arena kB (1000 rounds of 1.1 MiB)"
[ "$rss" -lt 32768 ] || fail "churn: resident memory grew to $rss kB"
pass "1000 rounds of allocate, fork, free: arena $arena kB, resident $rss kB"
