#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

// moq-lite (draft-lcurley-moq-lite), the dialect today's MoQ clients speak
// (docs/dialects.md §2). Versions differ in a handful of fields; every
// codec takes the Version and asks it what to read.

namespace moq::lite {

enum class Version : uint32_t {
  kLite03 = 0xff0dad03,
  kLite04 = 0xff0dad04,
  kLite05 = 0xff0dad05,
};

// The WebTransport protocol name (wt-protocol / ALPN) of a version and back.
std::string_view protocol_name(Version v);
std::optional<Version> version_from_protocol(std::string_view name);
// What we speak, most preferred first (what a client of ours offers and the
// order a server of ours ranks a client's list by... see choose_protocol).
const std::vector<std::string_view>& supported_protocols();

// Each side opens a one-way SETUP stream (05+; none on 03/04).
inline bool has_setup_stream(Version v) {
  return v >= Version::kLite05;
}
// ANNOUNCE_REQUEST carries exclude_hop; ANNOUNCE carries hop ids (04+).
inline bool has_hop_ids(Version v) {
  return v >= Version::kLite04;
}
// ANNOUNCE_OK precedes the announcements; the publisher leaves itself out
// of the hops (05+).
inline bool has_announce_ok(Version v) {
  return v >= Version::kLite05;
}
// SUBSCRIBE_OK (03/04) vs SUBSCRIBE_START/END/DROP (05+).
inline bool has_subscribe_ok(Version v) {
  return v <= Version::kLite04;
}
// Per-frame timestamps on group streams, TRACK/TRACK_INFO, FETCH (05+).
inline bool has_timestamps(Version v) {
  return v >= Version::kLite05;
}

}  // namespace moq::lite
