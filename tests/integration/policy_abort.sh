# COWGUARD_POLICY=abort: a worker that writes frozen data dies by SIGABRT
# with a diagnostic naming the address and the block; the others run on.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=abort "$BUILD/examples/lookup_table" -w 4 --write-node
expect_rc 1 "lookup_table --write-node"
expect_out "worker 1 was killed by signal 6" "lookup_table --write-node"
[ "$(field copied "$TMP/out")" = "0,0,0" ] || fail "the other workers copied node pages: $(field copied "$TMP/out")"
expect_err "ERROR: cowguard: write to frozen memory at 0x[0-9a-f]* in child" "diagnostic"
expect_err "bytes inside a 48-byte live marked block at 0x" "diagnostic"
expect_err "ABORTING" "diagnostic"
# The lines of both stacks, where the report later gives them too.
wline=$(grep -n "if (write_node) {" "$SRC/examples/lookup_table.c" | cut -d: -f1)
aline=$(grep -n "nodes\[i\] = malloc(sizeof(node_t));" "$SRC/examples/lookup_table.c" | cut -d: -f1)
sed -n '/written by/,/allocated by/p' "$TMP/err" | grep -q "in [a-z_]* .*lookup_table.c:$((wline + 1)) (" ||
    fail "diagnostic: the writer's file:line (lookup_table.c:$((wline + 1))) is missing"
sed -n '/allocated by/,/ABORTING/p' "$TMP/err" | grep -q "in main .*lookup_table.c:$aline (" ||
    fail "diagnostic: the allocation's file:line (lookup_table.c:$aline) is missing"
pass "the writing worker got SIGABRT and the diagnostic, with file:line for both stacks; three workers copied nothing"

run COWGUARD_POLICY=abort "$PROGS/table_write" api child
expect_rc 3 "table_write api child"
expect_out "parent: child=signal:6 data=ok" "table_write api child"
pass "a child writing a cowguard_malloc table dies by SIGABRT; the parent's data is intact"

# A multiprocessing Pool respawns a worker that died; a ProcessPoolExecutor
# breaks. Either way the run ends, within the timeout, with the diagnostic
# (naming the Python line) and the tree's report, instead of respawning
# workers that abort, forever.
if [ -x /usr/bin/python3 ]; then
    line=$(grep -n "return len(table\[i\])" "$SRC/tests/progs/abort_pool.py" | cut -d: -f1)
    for kind in pool executor; do
        rc=0
        timeout 120 "$BUILD/tools/cowguard" --python --policy abort -- /usr/bin/python3 \
            "$SRC/tests/progs/abort_pool.py" "$kind" >"$TMP/out" 2>"$TMP/err" || rc=$?
        [ "$rc" -ne 124 ] || fail "$kind: still running after 120 s"
        [ "$rc" -ne 0 ] || fail "$kind: exit status 0"
        expect_err "ERROR: cowguard: write to frozen memory" "$kind: diagnostic"
        expect_err "abort_pool.py:$line in work" "$kind: the Python line in the diagnostic"
        expect_err "copy-on-write report for process tree" "$kind: the tree's report"
    done
    pass "a Pool and a ProcessPoolExecutor under abort end with the diagnostic (abort_pool.py:$line) and the tree's report"
fi
