#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding/reader.h"
#include "coding/writer.h"

namespace moq::wire {

// Server -> client: reconnect to `url`; this session is going away.
struct GoAway {
  static constexpr uint64_t kType = 0x10;
  static constexpr std::string_view kName = "GOAWAY";
  std::string url;

  bool decode(Reader& r) { return r.string(url); }
  void encode(Writer& w) const { w.string(url); }
  friend bool operator==(const GoAway&, const GoAway&) = default;
};

}  // namespace moq::wire
