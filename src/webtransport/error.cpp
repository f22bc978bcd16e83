#include "webtransport/error.h"

namespace moq::wt {

static_assert(to_http3(0xffffffff) == kLastMappedCode);
static_assert(from_http3(to_http3(0)) == 0u);
static_assert(from_http3(to_http3(0x1e)) == 0x1eu);

}  // namespace moq::wt
