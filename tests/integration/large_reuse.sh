# Large marked blocks freed and allocated again keep their pages, up to a
# budget (64 MiB here): 40 rounds more of a 16 MiB block fault in far
# fewer pages than the first round did 40 times (the kernel's count of
# minor faults; huge pages or not), calloc of
# a reused block still reads as zeros, and what is kept past the budget is
# given back (resident anonymous memory after 128 MiB freed).
. "$SRC/tests/integration/lib.sh"

plain "$PROGS/large_reuse"
expect_rc 0 "large_reuse without cowguard"
run COWGUARD_MIN_SIZE=1M COWGUARD_REPORT=off "$PROGS/large_reuse"
expect_rc 0 "large_reuse"
first=$(sed -n 's/^first_faults=//p' "$TMP/out")
faults=$(sed -n 's/^churn_faults=//p' "$TMP/out")
kept=$(sed -n 's/^kept_mb=//p' "$TMP/out")
[ -n "$first" ] && [ -n "$faults" ] && [ "$faults" -lt $((first * 8)) ] ||
    fail "40 rounds of a 16 MiB block took $faults faults, the first alone ${first:-?}: its pages were given back"
[ -n "$kept" ] && [ "$kept" -le 72 ] || fail "after 128 MiB freed, $kept MiB stayed resident (budget 64 MiB)"
pass "a reused 16 MiB block: $faults faults in 40 rounds after $first in the first; calloc reads zeros; $kept MiB kept after 128 MiB freed"
