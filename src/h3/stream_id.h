#pragma once

#include <cstdint>

namespace moq::h3 {

// QUIC stream id arithmetic (RFC 9000 §2.1): bit 0 is the initiator (0 client,
// 1 server), bit 1 the direction (0 bidirectional, 1 unidirectional).
namespace stream_id {
constexpr bool is_client_initiated(uint64_t id) {
  return (id & 0x1) == 0;
}
constexpr bool is_server_initiated(uint64_t id) {
  return (id & 0x1) == 1;
}
constexpr bool is_bidi(uint64_t id) {
  return (id & 0x2) == 0;
}
constexpr bool is_uni(uint64_t id) {
  return (id & 0x2) != 0;
}
// Request streams, and so WebTransport session ids, are client-initiated
// bidirectional streams: 0, 4, 8, ...
constexpr bool is_client_bidi(uint64_t id) {
  return (id & 0x3) == 0;
}
constexpr bool is_server_bidi(uint64_t id) {
  return (id & 0x3) == 1;
}
constexpr bool is_client_uni(uint64_t id) {
  return (id & 0x3) == 2;
}
constexpr bool is_server_uni(uint64_t id) {
  return (id & 0x3) == 3;
}
}  // namespace stream_id

}  // namespace moq::h3
