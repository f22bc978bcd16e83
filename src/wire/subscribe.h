#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding/reader.h"
#include "coding/writer.h"

namespace moq::wire {

// Subscriber -> publisher: send me track (namespace, name); objects of it will
// carry `id` (chosen by the subscriber, counting up from 0).
struct Subscribe {
  static constexpr uint64_t kType = 0x3;
  static constexpr std::string_view kName = "SUBSCRIBE";
  uint64_t id = 0;
  std::string ns;  // empty in this ecosystem
  std::string name;

  bool decode(Reader& r) { return r.varint(id) && r.string(ns) && r.string(name); }
  void encode(Writer& w) const {
    w.varint(id);
    w.string(ns);
    w.string(name);
  }
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

// Publisher -> subscriber: the subscription is accepted.
struct SubscribeOk {
  static constexpr uint64_t kType = 0x4;
  static constexpr std::string_view kName = "SUBSCRIBE_OK";
  uint64_t id = 0;

  bool decode(Reader& r) { return r.varint(id); }
  void encode(Writer& w) const { w.varint(id); }
  friend bool operator==(const SubscribeOk&, const SubscribeOk&) = default;
};

// Publisher -> subscriber: refused, or ended later (code 0 = clean end).
struct SubscribeReset {
  static constexpr uint64_t kType = 0x5;
  static constexpr std::string_view kName = "SUBSCRIBE_RESET";
  uint64_t id = 0;
  uint64_t code = 0;
  std::string reason;

  bool decode(Reader& r) { return r.varint(id) && r.varint(code) && r.string(reason); }
  void encode(Writer& w) const {
    w.varint(id);
    w.varint(code);
    w.string(reason);
  }
  friend bool operator==(const SubscribeReset&, const SubscribeReset&) = default;
};

// Subscriber -> publisher: no longer interested; answered by SUBSCRIBE_RESET 206.
struct SubscribeStop {
  static constexpr uint64_t kType = 0x15;
  static constexpr std::string_view kName = "SUBSCRIBE_STOP";
  uint64_t id = 0;

  bool decode(Reader& r) { return r.varint(id); }
  void encode(Writer& w) const { w.varint(id); }
  friend bool operator==(const SubscribeStop&, const SubscribeStop&) = default;
};

}  // namespace moq::wire
