// Fuzz target: the catalog JSON a subscriber receives from a relay. A
// catalog that parses must survive a write/parse round trip unchanged.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "media/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = moq::media::parse_catalog(text);
  if (!parsed) return 0;
  auto again = moq::media::parse_catalog(moq::media::to_json(*parsed));
  if (!again) std::abort();
  // frame_rate may be any double: compare the rest exactly.
  if (again->tracks.size() != parsed->tracks.size()) std::abort();
  for (size_t i = 0; i < parsed->tracks.size(); ++i) {
    auto a = parsed->tracks[i], b = again->tracks[i];
    a.frame_rate.reset();
    b.frame_rate.reset();
    if (!(a == b)) std::abort();
  }
  return 0;
}
