# Programs compiled against cowguard.h run without the library: marking calls
# are no-ops, cowguard_malloc is malloc, nothing is printed by cowguard. And
# the library exports only the interposed symbols and the public API.
. "$SRC/tests/integration/lib.sh"

for prog in "$PROGS/table_write" "$BUILD/examples/lookup_table"; do
    if readelf -d "$prog" 2>/dev/null | grep -q 'NEEDED.*cowguard'; then
        fail "$prog links against libcowguard"
    fi
done
plain "$PROGS/table_write" api child
expect_rc 0 "table_write without the library"
expect_out "parent: child=exit:0 data=ok" "table_write without the library"
[ ! -s "$TMP/err" ] || fail "stderr not empty without the library"
plain "$BUILD/examples/lookup_table" -w 2
expect_rc 0 "lookup_table without the library"
pass "header-only programs run normally without the library"

nm -D --defined-only "$CG_LIB" | awk '{print $3}' | sed 's/@.*//' | LC_ALL=C sort >"$TMP/exports"
cat >"$TMP/allowed" <<'LIST'
_Exit
__sysv_signal
_exit
aligned_alloc
bsd_signal
calloc
cowguard_active
cowguard_calloc
cowguard_free
cowguard_freeze
cowguard_is_frozen
cowguard_malloc
cowguard_readonly_begin
cowguard_readonly_end
cowguard_stats
cowguard_thaw
epoll_pwait
fork
free
malloc
malloc_usable_size
memalign
mprotect
posix_memalign
ppoll
pread
pread64
preadv
preadv2
preadv64
preadv64v2
pselect
pthread_sigmask
pvalloc
read
readv
realloc
reallocarray
recv
recvfrom
recvmmsg
recvmsg
sigaction
signal
sigprocmask
sigset
sigsuspend
sysv_signal
valloc
wait
wait3
wait4
waitid
waitpid
LIST
diff "$TMP/allowed" "$TMP/exports" >"$TMP/out" || fail "exported symbols differ from the list"
pass "exports: the interposed libc symbols and the public API only"
