# The public API and the malloc family in one process: regions nest, aligned
# and zeroed marked blocks, freeze and thaw as the kernel shows them
# (/proc/self/maps), realloc of a frozen block copies it out, frees of frozen
# blocks write nothing, later marked blocks go to fresh pages.
. "$SRC/tests/integration/lib.sh"

run COWGUARD_POLICY=abort "$PROGS/api_calls"
expect_rc 0 "api_calls"
expect_out "^ok$" "api_calls"
pass "API calls under the preload (policy abort: no stray write to frozen memory)"
