#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "coding/error.h"
#include "coding/reader.h"
#include "lite/version.h"

// The moq-lite messages (03, 04, 05), sans-IO. A message on the wire is
// `size (varint) | body`; the body must be used up exactly. Layouts, and
// where they come from, are in docs/dialects.md §2.

namespace moq::lite {

// Stream types: the first varint of every stream.
enum class BidiType : uint64_t {
  kSession = 0,  // 01/02 only: refused
  kAnnounce = 1,
  kSubscribe = 2,
  kFetch = 3,
  kProbe = 4,
  kGoaway = 5,
  kTrack = 6,  // 05+
};
enum class UniType : uint64_t {
  kGroup = 0,
  kSetup = 1,  // 05+
};

// Limits on what a peer may make us hold (everything else is refused as a
// protocol violation): a control message body, path parts, hops, params.
inline constexpr size_t kMaxMessageSize = 64 * 1024;
inline constexpr size_t kMaxPathParts = 32;
inline constexpr size_t kMaxHops = 32;
inline constexpr size_t kMaxSetupParams = 64;
// One frame of a group stream (a keyframe of a high bitrate stream is well
// below this).
inline constexpr uint64_t kMaxFrameSize = 64 * 1024 * 1024;

// Session close codes and stream reset codes (moq-net 0.3.18 src/error.rs).
namespace close_code {
inline constexpr uint32_t kCancel = 0x0;
inline constexpr uint32_t kInternal = 0x1;
inline constexpr uint32_t kUnauthorized = 0x2;
inline constexpr uint32_t kProtocolViolation = 0x3;
inline constexpr uint32_t kVersion = 0x15;
}  // namespace close_code
namespace reset_code {
inline constexpr uint32_t kInternal = 0x0;
inline constexpr uint32_t kCancel = 0x1;
inline constexpr uint32_t kTooFarBehind = 0x5;
inline constexpr uint32_t kNotFound = 0x33;
inline constexpr uint32_t kOld = 0x34;
}  // namespace reset_code

struct SetupParam {
  uint64_t id = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const SetupParam&, const SetupParam&) = default;
};
// The SETUP stream's one message (05+).
struct Setup {
  std::vector<SetupParam> params;
  friend bool operator==(const Setup&, const Setup&) = default;
};
namespace setup_param {
inline constexpr uint64_t kProbe = 0x1;
inline constexpr uint64_t kPath = 0x2;
inline constexpr uint64_t kRole = 0x3;
inline constexpr uint64_t kOrigin = 0x5;
}  // namespace setup_param

// "What is live under `prefix`?" (called ANNOUNCE_INTEREST before 05).
struct AnnounceRequest {
  std::string prefix;
  uint64_t exclude_hop = 0;  // 04/05
  friend bool operator==(const AnnounceRequest&, const AnnounceRequest&) = default;
};
// 05+: the first reply: the responder's origin id (≠ 0) and how many
// ANNOUNCEs of currently live broadcasts follow.
struct AnnounceOk {
  uint64_t origin = 0;
  uint64_t active_count = 0;
  friend bool operator==(const AnnounceOk&, const AnnounceOk&) = default;
};
struct Announce {
  bool active = true;
  std::string suffix;          // relative to the request's prefix
  uint64_t hop_count = 0;      // 03: the count only
  std::vector<uint64_t> hops;  // 04/05: the origin ids (hop_count of them)
  friend bool operator==(const Announce&, const Announce&) = default;
};

struct Subscribe {
  uint64_t id = 0;
  std::string broadcast;  // relative to the session's root
  std::string track;
  uint8_t priority = 0;
  bool ordered = false;
  uint64_t max_latency_ms = 0;
  std::optional<uint64_t> start_group;  // none: the latest
  std::optional<uint64_t> end_group;    // none: open-ended
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};
// SUBSCRIBE_UPDATE (subscriber → publisher) and SUBSCRIBE_OK (03/04 reply)
// share a layout.
struct SubscribeUpdate {
  uint8_t priority = 0;
  bool ordered = false;
  uint64_t max_latency_ms = 0;
  std::optional<uint64_t> start_group;
  std::optional<uint64_t> end_group;
  friend bool operator==(const SubscribeUpdate&, const SubscribeUpdate&) = default;
};
using SubscribeOk = SubscribeUpdate;

// Replies on a SUBSCRIBE stream: 03/04: type 0 SUBSCRIBE_OK, type 1 DROP;
// 05: type 0 START, 1 END, 2 DROP. The type varint precedes the message.
struct SubscribeStart {
  uint64_t group = 0;  // the first group delivered
  friend bool operator==(const SubscribeStart&, const SubscribeStart&) = default;
};
struct SubscribeEnd {
  uint64_t group = 0;  // exclusive end (0: no groups)
  friend bool operator==(const SubscribeEnd&, const SubscribeEnd&) = default;
};
struct SubscribeDrop {
  uint64_t start = 0;  // inclusive range of groups that will not come
  uint64_t end = 0;
  uint64_t error = 0;
  friend bool operator==(const SubscribeDrop&, const SubscribeDrop&) = default;
};

// 05+: TRACK asks for a track's properties before SUBSCRIBE / FETCH.
struct TrackRequest {
  std::string broadcast;
  std::string track;
  friend bool operator==(const TrackRequest&, const TrackRequest&) = default;
};
struct TrackInfo {
  uint8_t priority = 0;
  bool ordered = false;
  uint64_t latency_max_ms = 0;
  uint64_t timescale = 1'000'000;  // units per second of frame timestamps; ≠ 0
  friend bool operator==(const TrackInfo&, const TrackInfo&) = default;
};

// 05+: one group, its frames back on the same stream.
struct Fetch {
  std::string broadcast;
  std::string track;
  uint8_t priority = 0;
  uint64_t group = 0;
  friend bool operator==(const Fetch&, const Fetch&) = default;
};

struct Probe {
  uint64_t bitrate = 0;
  uint64_t rtt_ms = 0;  // 04+
  friend bool operator==(const Probe&, const Probe&) = default;
};

struct Goaway {
  std::string uri;  // empty: reconnect to the same URL
  friend bool operator==(const Goaway&, const Goaway&) = default;
};

// The header of a group (uni) stream, after its type varint.
struct GroupHeader {
  uint64_t subscribe_id = 0;
  uint64_t sequence = 0;
  friend bool operator==(const GroupHeader&, const GroupHeader&) = default;
};

// ---- encoding: appends `size | body` to `out` ----
void encode(const Setup& m, Version v, std::vector<uint8_t>& out);
void encode(const AnnounceRequest& m, Version v, std::vector<uint8_t>& out);
void encode(const AnnounceOk& m, Version v, std::vector<uint8_t>& out);
void encode(const Announce& m, Version v, std::vector<uint8_t>& out);
void encode(const Subscribe& m, Version v, std::vector<uint8_t>& out);
void encode(const SubscribeUpdate& m, Version v, std::vector<uint8_t>& out);
void encode(const SubscribeStart& m, Version v, std::vector<uint8_t>& out);
void encode(const SubscribeEnd& m, Version v, std::vector<uint8_t>& out);
void encode(const SubscribeDrop& m, Version v, std::vector<uint8_t>& out);
void encode(const TrackRequest& m, Version v, std::vector<uint8_t>& out);
void encode(const TrackInfo& m, Version v, std::vector<uint8_t>& out);
void encode(const Fetch& m, Version v, std::vector<uint8_t>& out);
void encode(const Probe& m, Version v, std::vector<uint8_t>& out);
void encode(const Goaway& m, Version v, std::vector<uint8_t>& out);
void encode(const GroupHeader& m, Version v, std::vector<uint8_t>& out);
// A bare varint (stream types, reply types, frame headers).
void encode_varint(uint64_t value, std::vector<uint8_t>& out);
// A frame's header on a group stream: 05 `zigzag(ts delta) | size`, 03/04
// `size`. The payload follows as it is.
void encode_frame_header(Version v, int64_t timestamp_delta, uint64_t size,
                         std::vector<uint8_t>& out);

uint64_t zigzag(int64_t v);
int64_t unzigzag(uint64_t v);

// ---- decoding ----
// Decodes one `size | body` message from the front of `in`. kNeedMore until
// the whole body is there; kError for a body that is too long, too short,
// has bytes left over or breaks a rule (the Reader's error says which).
// `consumed` is the size of the message on success.
template <class T>
struct Decoded {
  DecodeStatus status = DecodeStatus::kNeedMore;
  T message{};
  size_t consumed = 0;
  Error error;
};
Decoded<Setup> decode_setup(std::span<const uint8_t> in, Version v);
Decoded<AnnounceRequest> decode_announce_request(std::span<const uint8_t> in, Version v);
Decoded<AnnounceOk> decode_announce_ok(std::span<const uint8_t> in, Version v);
Decoded<Announce> decode_announce(std::span<const uint8_t> in, Version v);
Decoded<Subscribe> decode_subscribe(std::span<const uint8_t> in, Version v);
Decoded<SubscribeUpdate> decode_subscribe_update(std::span<const uint8_t> in, Version v);
Decoded<SubscribeStart> decode_subscribe_start(std::span<const uint8_t> in, Version v);
Decoded<SubscribeEnd> decode_subscribe_end(std::span<const uint8_t> in, Version v);
Decoded<SubscribeDrop> decode_subscribe_drop(std::span<const uint8_t> in, Version v);
Decoded<TrackRequest> decode_track_request(std::span<const uint8_t> in, Version v);
Decoded<TrackInfo> decode_track_info(std::span<const uint8_t> in, Version v);
Decoded<Fetch> decode_fetch(std::span<const uint8_t> in, Version v);
Decoded<Probe> decode_probe(std::span<const uint8_t> in, Version v);
Decoded<Goaway> decode_goaway(std::span<const uint8_t> in, Version v);
Decoded<GroupHeader> decode_group_header(std::span<const uint8_t> in, Version v);
// A bare varint.
Decoded<uint64_t> decode_varint(std::span<const uint8_t> in);

// ---- paths (broadcast names, prefixes) ----
// Runs of '/' collapse to one; leading and trailing '/' go. More than
// kMaxPathParts parts: nullopt.
std::optional<std::string> normalize_path(std::string_view path);
// "a/b" is under "a" and under "" but "ab" is not under "a".
bool has_prefix(std::string_view path, std::string_view prefix);
// The rest of `path` after `prefix` (no leading '/'); call has_prefix first.
std::string strip_prefix(std::string_view path, std::string_view prefix);
// "a" + "b" = "a/b"; "" + "b" = "b"; "a" + "" = "a".
std::string join_path(std::string_view a, std::string_view b);

}  // namespace moq::lite
