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

# An ordinary dlopen by a bare name is searched in the caller's RUNPATH
# ($ORIGIN), from the first call on: cowguard's dlopen must leave the
# program's return address to glibc.
plain "$PROGS/dl_origin"
expect_rc 0 "dl_origin without cowguard"
run COWGUARD_REPORT=off "$PROGS/dl_origin"
expect_rc 0 "dl_origin"
expect_out "^dlopen 1: ok$" "dl_origin"
expect_out "^dlopen 2: ok$" "dl_origin"
pass "dlopen by a bare name finds the library through the caller's RUNPATH, first call included"
