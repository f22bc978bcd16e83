#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding/reader.h"
#include "coding/writer.h"

namespace moq::wire {

// Publisher -> subscriber: I publish tracks under this namespace.
struct Announce {
  static constexpr uint64_t kType = 0x6;
  static constexpr std::string_view kName = "ANNOUNCE";
  std::string ns;

  bool decode(Reader& r) { return r.string(ns); }
  void encode(Writer& w) const { w.string(ns); }
  friend bool operator==(const Announce&, const Announce&) = default;
};

// Subscriber -> publisher: the announce is accepted.
struct AnnounceOk {
  static constexpr uint64_t kType = 0x7;
  static constexpr std::string_view kName = "ANNOUNCE_OK";
  std::string ns;

  bool decode(Reader& r) { return r.string(ns); }
  void encode(Writer& w) const { w.string(ns); }
  friend bool operator==(const AnnounceOk&, const AnnounceOk&) = default;
};

// Subscriber -> publisher: the announce is refused or ended.
struct AnnounceReset {
  static constexpr uint64_t kType = 0x8;
  static constexpr std::string_view kName = "ANNOUNCE_RESET";
  std::string ns;
  uint64_t code = 0;
  std::string reason;

  bool decode(Reader& r) { return r.string(ns) && r.varint(code) && r.string(reason); }
  void encode(Writer& w) const {
    w.string(ns);
    w.varint(code);
    w.string(reason);
  }
  friend bool operator==(const AnnounceReset&, const AnnounceReset&) = default;
};

// Publisher -> subscriber: the namespace is no longer published.
struct AnnounceStop {
  static constexpr uint64_t kType = 0x18;
  static constexpr std::string_view kName = "ANNOUNCE_STOP";
  std::string ns;

  bool decode(Reader& r) { return r.string(ns); }
  void encode(Writer& w) const { w.string(ns); }
  friend bool operator==(const AnnounceStop&, const AnnounceStop&) = default;
};

}  // namespace moq::wire
