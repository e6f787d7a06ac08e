# The unmodified interleaved table under COWGUARD_WATCH=heap: nothing is
# moved, each worker's first write to each inherited heap page traps. Per
# worker the copies it reports match the kernel's count (pagemap bit 56,
# read by the worker itself) within 2%; the report names the writer's line
# and the counters' allocation site, and suggests marking the table's. With
# that suggestion followed, no page holding table nodes is copied.
. "$SRC/tests/integration/lib.sh"
prog="$BUILD/examples/table_counters"

run COWGUARD_WATCH=heap COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r.json" "$prog" -n 100000 -w 3
expect_rc 0 "watched"
expect_out "ok=1" "watched"
copied=$(field copied "$TMP/out")
python3 - "$TMP/r.json" "$copied" <<'PY' >"$TMP/check" || fail "watched: $(cat "$TMP/check")"
import json, sys
d = json.load(open(sys.argv[1]))
kernel = sorted(int(x) for x in sys.argv[2].split(","))
ours = sorted(p["watched_copied_pages"] for p in d["processes"] if p["role"] == "child")
assert len(ours) == 3 and len(kernel) == 3, f"workers: {ours} {kernel}"
for o, k in zip(ours, kernel):
    assert abs(o - k) <= 0.02 * k, f"a worker's copies: cowguard {o}, the kernel {k}"
site = d["sites"][0]
assert site["watched"], "the first site is not a watched one"
w = [f for f in site["writer"] if f.get("function") == "serve"]
assert w and w[0].get("file", "").endswith("table_counters.c") and w[0].get("line"), f"writer: {site['writer'][:2]}"
a = [f for f in site["allocated"] if f.get("function") == "make_counter"]
assert a, f"allocated: {site['allocated'][:2]}"
b = site.get("beside", {})
assert b.get("allocated") and b["allocated"][0].get("function") == "build_table", f"beside: {b}"
adv = d["outside"]["advice"]
assert adv and adv[0]["allocated"][0].get("function") == "build_table", f"advice: {adv[:1]}"
print(ours, kernel, w[0]["line"], adv[0]["pages_per_worker"])
PY
pass "per worker $(cat "$TMP/check")"

# The watch's own tables (the block table a child sorts at its first trap,
# its scratch array) are cowguard's, not the worker's: its own memory, from
# the kernel's Private_Dirty and resident-set peak, is what it is unwatched.
run COWGUARD_MEASURE=all COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/plain.json" "$prog" -n 100000 -w 3
expect_rc 0 "unwatched"
python3 - "$TMP/plain.json" "$TMP/r.json" <<'PY' >"$TMP/check" || fail "own memory: $(cat "$TMP/check")"
import json, sys
def own(path):
    d = json.load(open(path))
    return [(p["own_kb"], p["own_peak_kb"]) for p in d["processes"] if p["role"] == "child"]
plain, watched = own(sys.argv[1]), own(sys.argv[2])
top = max(max(k, pk) for k, pk in plain)
for k, pk in watched:
    assert k <= top + 512 and pk <= top + 512, f"own memory watched {watched}, unwatched {plain} (kB)"
print(f"watched {watched}, unwatched {plain} kB")
PY
pass "a watched worker's own memory leaves the watch's tables out: $(cat "$TMP/check")"

run COWGUARD_WATCH=heap "$prog" -n 100000 -w 3
expect_err "writes to memory watched in place (COWGUARD_WATCH=heap)" "text"
expect_err "#0 .* in serve .*table_counters.c:[0-9]" "text: the writer's line"
expect_err "#0 .* in make_counter" "text: the counters' allocation site"
expect_err "beside it on the copied pages: [0-9]* blocks a page allocated by build_table, never written" "text"
expect_err "to keep it shared: mark build_table (COWGUARD_SITES=build_table), and [0-9]* pages per worker stay shared" \
    "text: the suggestion"
pass "the text names serve's line, make_counter, and suggests marking build_table"

# The suggestion followed: the nodes move to pages of their own, which stay shared.
node_pages=$(field node_pages "$TMP/out")
run COWGUARD_WATCH=heap COWGUARD_SITES=build_table "$prog" -n 100000 -w 3
expect_rc 0 "marked"
[ "$(field node_copied "$TMP/out")" = "0,0,0" ] ||
    fail "marked: node pages copied $(field node_copied "$TMP/out"), expected 0,0,0"
pass "COWGUARD_SITES=build_table: none of the $(field node_pages "$TMP/out") node pages copied (were $node_pages, all copied)"

# COWGUARD_WATCH=all also watches every object's data, and the program still runs right.
run COWGUARD_WATCH=all "$prog" -n 20000 -w 2
expect_rc 0 "all"
expect_out "ok=1" "all"
expect_err "writes to memory watched in place (COWGUARD_WATCH=all)" "all"
pass "COWGUARD_WATCH=all runs the program to the same end"

# What a child does with memory it inherited: calls that fill it (getcwd,
# uname, ioctl, ...), a grandchild's writes, realloc of a large block and
# mremap (which move pages), frees with every signal blocked (glibc's, as a
# thread exits), writes to a static array.
for mode in heap all; do
    run COWGUARD_WATCH=$mode COWGUARD_REPORT=off "$PROGS/watch_edges"
    [ "$rc" -eq 0 ] || fail "COWGUARD_WATCH=$mode: watch_edges: $(grep FAIL "$TMP/out" | tr '\n' ' ')"
    [ "$(grep -c '^ok ' "$TMP/out")" = 6 ] || fail "COWGUARD_WATCH=$mode: watch_edges ran $(grep -c '^ok ' "$TMP/out") cases"
done
pass "watch_edges: system calls into watched memory, a grandchild, realloc and mremap, frees with signals blocked, static arrays"
