/* thread.c: the per-thread state every layer reads (base.h). The other
 * layers keep theirs in their own files. */
#include "base.h"

__thread cg_tls_t cg_tls CG_TLS;
