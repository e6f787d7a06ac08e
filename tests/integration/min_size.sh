# COWGUARD_MIN_SIZE marks large allocations with no API call, through every
# entry point of the malloc family.
. "$SRC/tests/integration/lib.sh"

for how in malloc calloc memalign realloc; do
    run COWGUARD_POLICY=abort COWGUARD_MIN_SIZE=1M "$PROGS/table_write" "$how" child
    expect_out "parent: child=signal:6 data=ok" "MIN_SIZE=1M, $how"
done
pass "MIN_SIZE=1M: a 1 MiB table from malloc, calloc, posix_memalign and realloc is frozen"

run COWGUARD_POLICY=abort "$PROGS/table_write" malloc child
expect_rc 0 "no MIN_SIZE"
run COWGUARD_POLICY=abort COWGUARD_MIN_SIZE=2M "$PROGS/table_write" malloc child
expect_rc 0 "MIN_SIZE=2M"
pass "below the size, or without MIN_SIZE, nothing is marked"

run COWGUARD_MIN_SIZE=1M "$PROGS/table_write" malloc child
expect_rc 0 "MIN_SIZE=1M, report"
expect_out "child: wrote=1 exclusive_pages=1 data=ok" "MIN_SIZE=1M, report"
expect_err "copied: 4.0 KiB (1 page) while working; trapped writes: 1$" "MIN_SIZE=1M, report"
pass "under report the write is trapped once and copies one page"
