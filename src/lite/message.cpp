#include "lite/message.h"

#include <utility>

#include "coding/varint.h"
#include "coding/writer.h"

namespace moq::lite {

namespace {

constexpr uint64_t kViolation = close_code::kProtocolViolation;

// Writes `size | body`, the body made by `fill`.
template <class Fill>
void framed(std::vector<uint8_t>& out, Fill fill) {
  std::vector<uint8_t> body;
  Writer w(body);
  fill(w);
  Writer(out).varint(body.size());
  out.insert(out.end(), body.begin(), body.end());
}

void optional_plus_one(Writer& w, const std::optional<uint64_t>& v) {
  w.varint(v ? *v + 1 : 0);
}

bool read_optional_plus_one(Reader& r, std::optional<uint64_t>& out) {
  uint64_t v = 0;
  if (!r.varint(v)) return false;
  out = v == 0 ? std::nullopt : std::optional<uint64_t>(v - 1);
  return true;
}

bool read_bool(Reader& r, bool& out) {
  uint8_t b = 0;
  if (!r.u8(b)) return false;
  if (b > 1) return r.fail(kViolation, "boolean byte " + std::to_string(b));
  out = b == 1;
  return true;
}

bool read_path(Reader& r, std::string& out) {
  std::string raw;
  if (!r.string(raw)) return false;
  auto normalized = normalize_path(raw);
  if (!normalized) return r.fail(kViolation, "path with more than 32 parts");
  out = std::move(*normalized);
  return true;
}

// Reads `size | body` and runs `body` on exactly those bytes.
template <class T, class Body>
Decoded<T> unframe(std::span<const uint8_t> in, Body body) {
  Decoded<T> d;
  Reader outer(in);
  uint64_t size = 0;
  if (!outer.varint(size)) {
    d.status = outer.status();
    d.error = outer.error();
    return d;
  }
  if (size > kMaxMessageSize) {
    d.status = DecodeStatus::kError;
    d.error = {kViolation, "message of " + std::to_string(size) + " bytes (limit " +
                               std::to_string(kMaxMessageSize) + ")"};
    return d;
  }
  if (outer.remaining() < size) return d;  // kNeedMore
  Reader r(outer.rest().subspan(0, size));
  body(r, d.message);
  if (r.status() == DecodeStatus::kOk && r.remaining() != 0) {
    r.fail(kViolation, std::to_string(r.remaining()) + " bytes left over in a message");
  }
  if (r.status() == DecodeStatus::kNeedMore) {
    d.status = DecodeStatus::kError;
    d.error = {kViolation, "message shorter than its fields"};
    return d;
  }
  d.status = r.status();
  d.error = r.error();
  d.consumed = outer.consumed() + size;
  return d;
}

void write_update_fields(Writer& w, const SubscribeUpdate& m) {
  w.u8(m.priority);
  w.u8(m.ordered ? 1 : 0);
  w.varint(m.max_latency_ms);
  optional_plus_one(w, m.start_group);
  optional_plus_one(w, m.end_group);
}

bool read_update_fields(Reader& r, SubscribeUpdate& m) {
  return r.u8(m.priority) && read_bool(r, m.ordered) && r.varint(m.max_latency_ms) &&
         read_optional_plus_one(r, m.start_group) && read_optional_plus_one(r, m.end_group);
}

}  // namespace

uint64_t zigzag(int64_t v) {
  return v >= 0 ? static_cast<uint64_t>(v) << 1 : ((static_cast<uint64_t>(-(v + 1))) << 1) | 1;
}

int64_t unzigzag(uint64_t v) {
  return (v & 1) ? -static_cast<int64_t>(v >> 1) - 1 : static_cast<int64_t>(v >> 1);
}

void encode_varint(uint64_t value, std::vector<uint8_t>& out) {
  Writer(out).varint(value);
}

void encode_frame_header(Version v, int64_t timestamp_delta, uint64_t size,
                         std::vector<uint8_t>& out) {
  Writer w(out);
  if (has_timestamps(v)) w.varint(zigzag(timestamp_delta));
  w.varint(size);
}

void encode(const Setup& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.params.size());
    for (const auto& p : m.params) {
      w.varint(p.id);
      w.varint(p.value.size());
      w.bytes(p.value);
    }
  });
}

void encode(const AnnounceRequest& m, Version v, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.string(m.prefix);
    if (has_hop_ids(v)) w.varint(m.exclude_hop);
  });
}

void encode(const AnnounceOk& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.origin);
    w.varint(m.active_count);
  });
}

void encode(const Announce& m, Version v, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.u8(m.active ? 1 : 0);
    w.string(m.suffix);
    if (has_hop_ids(v)) {
      w.varint(m.hops.size());
      for (uint64_t hop : m.hops)
        w.varint(hop);
    } else {
      w.varint(m.hop_count);
    }
  });
}

void encode(const Subscribe& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.id);
    w.string(m.broadcast);
    w.string(m.track);
    write_update_fields(
        w, SubscribeUpdate{m.priority, m.ordered, m.max_latency_ms, m.start_group, m.end_group});
  });
}

void encode(const SubscribeUpdate& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) { write_update_fields(w, m); });
}

void encode(const SubscribeStart& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) { w.varint(m.group); });
}

void encode(const SubscribeEnd& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) { w.varint(m.group); });
}

void encode(const SubscribeDrop& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.start);
    w.varint(m.end);
    w.varint(m.error);
  });
}

void encode(const TrackRequest& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.string(m.broadcast);
    w.string(m.track);
  });
}

void encode(const TrackInfo& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.u8(m.priority);
    w.u8(m.ordered ? 1 : 0);
    w.varint(m.latency_max_ms);
    w.varint(m.timescale);
  });
}

void encode(const Fetch& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.string(m.broadcast);
    w.string(m.track);
    w.u8(m.priority);
    w.varint(m.group);
  });
}

void encode(const Probe& m, Version v, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.bitrate);
    if (has_hop_ids(v)) w.varint(m.rtt_ms);
  });
}

void encode(const Goaway& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) { w.string(m.uri); });
}

void encode(const GroupHeader& m, Version, std::vector<uint8_t>& out) {
  framed(out, [&](Writer& w) {
    w.varint(m.subscribe_id);
    w.varint(m.sequence);
  });
}

Decoded<Setup> decode_setup(std::span<const uint8_t> in, Version) {
  return unframe<Setup>(in, [](Reader& r, Setup& m) {
    uint64_t count = 0;
    if (!r.varint(count)) return;
    if (count > kMaxSetupParams) {
      r.fail(kViolation, "SETUP with " + std::to_string(count) + " parameters");
      return;
    }
    for (uint64_t i = 0; i < count; ++i) {
      SetupParam p;
      std::string value;
      if (!r.varint(p.id) || !r.string(value)) return;
      for (const auto& seen : m.params) {
        if (seen.id == p.id) {
          r.fail(kViolation, "duplicate SETUP parameter " + std::to_string(p.id));
          return;
        }
      }
      p.value.assign(value.begin(), value.end());
      m.params.push_back(std::move(p));
    }
  });
}

Decoded<AnnounceRequest> decode_announce_request(std::span<const uint8_t> in, Version v) {
  return unframe<AnnounceRequest>(in, [v](Reader& r, AnnounceRequest& m) {
    if (read_path(r, m.prefix) && has_hop_ids(v)) r.varint(m.exclude_hop);
  });
}

Decoded<AnnounceOk> decode_announce_ok(std::span<const uint8_t> in, Version) {
  return unframe<AnnounceOk>(in, [](Reader& r, AnnounceOk& m) {
    if (r.varint(m.origin) && r.varint(m.active_count) && m.origin == 0) {
      r.fail(kViolation, "ANNOUNCE_OK with origin 0");
    }
  });
}

Decoded<Announce> decode_announce(std::span<const uint8_t> in, Version v) {
  return unframe<Announce>(in, [v](Reader& r, Announce& m) {
    uint8_t status = 0;
    if (!r.u8(status)) return;
    // 2 ("restart", 05) is accepted as active, as the JS client does.
    if (status > 2 || (status == 2 && !has_announce_ok(v))) {
      r.fail(kViolation, "ANNOUNCE status " + std::to_string(status));
      return;
    }
    m.active = status != 0;
    if (!read_path(r, m.suffix) || !r.varint(m.hop_count)) return;
    if (m.hop_count > kMaxHops) {
      r.fail(kViolation, "ANNOUNCE with " + std::to_string(m.hop_count) + " hops");
      return;
    }
    if (!has_hop_ids(v)) return;
    m.hops.resize(m.hop_count);
    for (auto& hop : m.hops) {
      if (!r.varint(hop)) return;
    }
  });
}

Decoded<Subscribe> decode_subscribe(std::span<const uint8_t> in, Version) {
  return unframe<Subscribe>(in, [](Reader& r, Subscribe& m) {
    SubscribeUpdate u;
    if (!r.varint(m.id) || !read_path(r, m.broadcast) || !r.string(m.track) ||
        !read_update_fields(r, u)) {
      return;
    }
    m.priority = u.priority;
    m.ordered = u.ordered;
    m.max_latency_ms = u.max_latency_ms;
    m.start_group = u.start_group;
    m.end_group = u.end_group;
  });
}

Decoded<SubscribeUpdate> decode_subscribe_update(std::span<const uint8_t> in, Version) {
  return unframe<SubscribeUpdate>(in,
                                  [](Reader& r, SubscribeUpdate& m) { read_update_fields(r, m); });
}

Decoded<SubscribeStart> decode_subscribe_start(std::span<const uint8_t> in, Version) {
  return unframe<SubscribeStart>(in, [](Reader& r, SubscribeStart& m) { r.varint(m.group); });
}

Decoded<SubscribeEnd> decode_subscribe_end(std::span<const uint8_t> in, Version) {
  return unframe<SubscribeEnd>(in, [](Reader& r, SubscribeEnd& m) { r.varint(m.group); });
}

Decoded<SubscribeDrop> decode_subscribe_drop(std::span<const uint8_t> in, Version) {
  return unframe<SubscribeDrop>(in, [](Reader& r, SubscribeDrop& m) {
    r.varint(m.start) && r.varint(m.end) && r.varint(m.error);
  });
}

Decoded<TrackRequest> decode_track_request(std::span<const uint8_t> in, Version) {
  return unframe<TrackRequest>(
      in, [](Reader& r, TrackRequest& m) { read_path(r, m.broadcast) && r.string(m.track); });
}

Decoded<TrackInfo> decode_track_info(std::span<const uint8_t> in, Version) {
  return unframe<TrackInfo>(in, [](Reader& r, TrackInfo& m) {
    if (r.u8(m.priority) && read_bool(r, m.ordered) && r.varint(m.latency_max_ms) &&
        r.varint(m.timescale) && m.timescale == 0) {
      r.fail(kViolation, "TRACK_INFO with timescale 0");
    }
  });
}

Decoded<Fetch> decode_fetch(std::span<const uint8_t> in, Version) {
  return unframe<Fetch>(in, [](Reader& r, Fetch& m) {
    read_path(r, m.broadcast) && r.string(m.track) && r.u8(m.priority) && r.varint(m.group);
  });
}

Decoded<Probe> decode_probe(std::span<const uint8_t> in, Version v) {
  return unframe<Probe>(in, [v](Reader& r, Probe& m) {
    if (r.varint(m.bitrate) && has_hop_ids(v)) r.varint(m.rtt_ms);
  });
}

Decoded<Goaway> decode_goaway(std::span<const uint8_t> in, Version) {
  return unframe<Goaway>(in, [](Reader& r, Goaway& m) {
    if (r.string(m.uri) && m.uri.size() > 8192) r.fail(kViolation, "GOAWAY uri too long");
  });
}

Decoded<GroupHeader> decode_group_header(std::span<const uint8_t> in, Version) {
  return unframe<GroupHeader>(
      in, [](Reader& r, GroupHeader& m) { r.varint(m.subscribe_id) && r.varint(m.sequence); });
}

Decoded<uint64_t> decode_varint(std::span<const uint8_t> in) {
  Decoded<uint64_t> d;
  Reader r(in);
  r.varint(d.message);
  d.status = r.status();
  d.error = r.error();
  d.consumed = r.consumed();
  return d;
}

std::optional<std::string> normalize_path(std::string_view path) {
  std::string out;
  size_t parts = 0;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/')
      ++i;
    if (i >= path.size()) break;
    const size_t start = i;
    while (i < path.size() && path[i] != '/')
      ++i;
    if (++parts > kMaxPathParts) return std::nullopt;
    if (!out.empty()) out.push_back('/');
    out.append(path.substr(start, i - start));
  }
  return out;
}

bool has_prefix(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string strip_prefix(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return std::string(path);
  if (path.size() <= prefix.size()) return {};
  return std::string(path.substr(prefix.size() + 1));
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

}  // namespace moq::lite
