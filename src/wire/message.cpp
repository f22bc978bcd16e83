#include "wire/message.h"

#include <cstdio>
#include <string>

#include "coding/writer.h"

namespace moq::wire {
namespace {

template <size_t... I>
constexpr bool unique_types(std::index_sequence<I...>) {
  constexpr uint64_t types[] = {std::variant_alternative_t<I, Message>::kType...};
  for (size_t a = 0; a < sizeof...(I); ++a) {
    for (size_t b = a + 1; b < sizeof...(I); ++b) {
      if (types[a] == types[b]) return false;
    }
  }
  return true;
}
static_assert(unique_types(std::make_index_sequence<std::variant_size_v<Message>>{}),
              "two messages share a type id");

// Walks the variant's alternatives looking for `type`, decoding into the one
// that matches.
template <size_t I = 0>
bool decode_fields(uint64_t type, Reader& r, Message& out) {
  if constexpr (I == std::variant_size_v<Message>) {
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(type));
    return r.fail(code::kInternal, std::string("unknown message type ") + hex);
  } else {
    using M = std::variant_alternative_t<I, Message>;
    if (type != M::kType) return decode_fields<I + 1>(type, r, out);
    M m;
    if (!m.decode(r)) return false;
    out = std::move(m);
    return true;
  }
}

template <size_t I = 0>
std::string_view name_for(uint64_t type) {
  if constexpr (I == std::variant_size_v<Message>) {
    return "unknown";
  } else {
    using M = std::variant_alternative_t<I, Message>;
    return type == M::kType ? M::kName : name_for<I + 1>(type);
  }
}

}  // namespace

uint64_t type_of(const Message& m) {
  return std::visit([](const auto& msg) { return std::decay_t<decltype(msg)>::kType; }, m);
}

std::string_view name_of(const Message& m) {
  return std::visit([](const auto& msg) { return std::decay_t<decltype(msg)>::kName; }, m);
}

std::string_view message_name(uint64_t type) {
  return name_for(type);
}

Result<void> encode(const Message& m, std::vector<uint8_t>& out) {
  Writer w(out);
  w.varint(type_of(m));
  std::visit([&w](const auto& msg) { msg.encode(w); }, m);
  if (!w.ok()) return w.error();
  return {};
}

DecodeStatus decode(Reader& r, Message& out) {
  uint64_t type = 0;
  if (r.varint(type)) decode_fields(type, r, out);
  return r.status();
}

}  // namespace moq::wire
