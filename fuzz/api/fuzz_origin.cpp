// libFuzzer target: api::parse_origin on arbitrary bytes. It must never
// crash or throw; whatever it accepts must be a valid https:// URL that
// survives to_json -> parse_origin unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/origin.h"
#include "api/path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto origin = moq::api::parse_origin(input);
  if (origin.ok()) {
    if (!moq::api::validate_url(origin->url).ok()) std::abort();
    auto again = moq::api::parse_origin(moq::api::to_json(*origin));
    if (!again.ok() || !(*again == *origin)) std::abort();
  }
  // Names are arbitrary bytes too: encoding must round-trip through the path.
  if (!input.empty()) {
    auto path = moq::api::origin_path(input);
    if (path.find_first_not_of(
            "/%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._~") !=
        std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
