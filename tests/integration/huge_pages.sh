# Marked data is backed by transparent huge pages where the kernel allows
# them (COWGUARD_HUGE_PAGES, on by default), as the kernel's smaps shows,
# and not with COWGUARD_HUGE_PAGES=0; either way a child's writes into the
# frozen data are trapped one 4 KiB page at a time and counted so.
. "$SRC/tests/integration/lib.sh"

thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "")
for setting in 1 0; do
    run COWGUARD_HUGE_PAGES=$setting COWGUARD_REPORT_FORMAT=json COWGUARD_REPORT="$TMP/r$setting.json" \
        "$PROGS/huge_arena"
    expect_rc 0 "huge_arena, COWGUARD_HUGE_PAGES=$setting"
    python3 - "$TMP/r$setting.json" <<'PY' || fail "COWGUARD_HUGE_PAGES=$setting: report"
import json, sys
r = json.load(open(sys.argv[1]))
child = [p for p in r["processes"] if p["role"] == "child"][0]
assert child["copied_pages"] == 100 and child["faults"] == 100, child
PY
    eval "huge$setting=\$(sed -n 's/^huge_kb=//p' \"\$TMP/out\")"
done
case "$thp" in
*"[never]"*)
    echo "skip: transparent huge pages are off on this machine ($thp)"
    ;;
*)
    [ "${huge1:-0}" -ge 32768 ] || fail "COWGUARD_HUGE_PAGES=1: ${huge1:-?} kB of huge pages, expected most of 64 MiB"
    case "$thp" in *"[madvise]"*)
        [ "${huge0:-1}" -eq 0 ] || fail "COWGUARD_HUGE_PAGES=0: $huge0 kB of huge pages" ;;
    esac
    pass "64 MiB marked: $huge1 kB in huge pages (0: $huge0 kB); 100 writes in a child trapped and counted as 100 pages"
    ;;
esac
