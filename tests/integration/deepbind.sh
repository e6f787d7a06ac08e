# A library loaded with RTLD_DEEPBIND binds malloc and free to the C
# library's, past cowguard (php-fpm loads its extensions so): marked blocks
# it frees or reallocs, and blocks it allocates that the program frees,
# must each reach the allocator that made them.
. "$SRC/tests/integration/lib.sh"
lib="$BUILD/tests/progs/.libs/deep_lib.so"

for binding in now lazy; do
    plain "$PROGS/deep_main" "$lib" "$binding"
    expect_rc 0 "$binding binding without cowguard"
    run COWGUARD_REPORT=off "$PROGS/deep_main" "$lib" "$binding"
    expect_rc 0 "$binding binding"
    expect_out "^ok$" "$binding binding"
    run COWGUARD_PREFORK=1 COWGUARD_REPORT=off "$PROGS/deep_main" "$lib" "$binding"
    expect_rc 0 "$binding binding, COWGUARD_PREFORK=1"
done
pass "marked blocks freed and realloc'ed inside an RTLD_DEEPBIND library, and its blocks freed outside"
