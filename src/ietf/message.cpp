#include "ietf/message.h"

#include <utility>

#include "coding/writer.h"

namespace moq::ietf {

namespace {

constexpr uint64_t kViolation = close_code::kProtocolViolation;
constexpr size_t kMaxPayload = 0xffff;
constexpr size_t kMaxExtensions = 64 * 1024;

// ---- fields ----
void write_params(Writer& w, const std::vector<Param>& params) {
  w.varint(params.size());
  for (const auto& p : params) {
    w.varint(p.id);
    if (p.id % 2 == 0) {
      w.varint(p.value);
    } else {
      w.varint(p.bytes.size());
      w.bytes(p.bytes);
    }
  }
}

bool read_bytes(Reader& r, std::vector<uint8_t>& out, size_t cap) {
  uint64_t n = 0;
  if (!r.varint(n)) return false;
  if (n > cap) return r.fail(kViolation, "field of " + std::to_string(n) + " bytes");
  if (r.remaining() < n) return r.fail(kViolation, "field longer than its message");
  std::span<const uint8_t> bytes;
  if (!r.take(static_cast<size_t>(n), bytes)) return false;
  out.assign(bytes.begin(), bytes.end());
  return true;
}

bool read_params(Reader& r, std::vector<Param>& params) {
  uint64_t n = 0;
  if (!r.varint(n)) return false;
  if (n > kMaxParams) return r.fail(kViolation, std::to_string(n) + " parameters");
  params.clear();
  for (uint64_t i = 0; i < n; ++i) {
    Param p;
    if (!r.varint(p.id)) return false;
    if (p.id % 2 == 0) {
      if (!r.varint(p.value)) return false;
    } else if (!read_bytes(r, p.bytes, kMaxPayload)) {
      return false;
    }
    params.push_back(std::move(p));
  }
  return true;
}

void write_namespace(Writer& w, const Namespace& ns) {
  w.varint(ns.size());
  for (const auto& part : ns)
    w.string(part);
}

bool read_namespace(Reader& r, Namespace& ns) {
  uint64_t n = 0;
  if (!r.varint(n)) return false;
  if (n > kMaxNamespaceParts)
    return r.fail(kViolation, "namespace of " + std::to_string(n) + " parts");
  ns.assign(n, {});
  for (auto& part : ns) {
    if (!r.string(part)) return false;
  }
  return true;
}

void write_location(Writer& w, const Location& l) {
  w.varint(l.group);
  w.varint(l.object);
}

bool read_location(Reader& r, Location& l) {
  return r.varint(l.group) && r.varint(l.object);
}

bool read_flag(Reader& r, uint8_t& out, const char* what) {
  if (!r.u8(out)) return false;
  if (out > 1) return r.fail(kViolation, std::string(what) + " byte " + std::to_string(out));
  return true;
}

bool read_order(Reader& r, uint8_t& out) {
  if (!r.u8(out)) return false;
  if (out > 2) return r.fail(kViolation, "group order " + std::to_string(out));
  return true;
}

// ---- one function pair per message ----
void write(Writer& w, const ClientSetup& m) {
  w.varint(m.versions.size());
  for (uint64_t v : m.versions)
    w.varint(v);
  write_params(w, m.params);
}
bool read(Reader& r, ClientSetup& m) {
  uint64_t n = 0;
  if (!r.varint(n)) return false;
  if (n == 0 || n > kMaxVersions) return r.fail(kViolation, std::to_string(n) + " versions");
  m.versions.assign(n, 0);
  for (auto& v : m.versions) {
    if (!r.varint(v)) return false;
  }
  return read_params(r, m.params);
}

void write(Writer& w, const ServerSetup& m) {
  w.varint(m.version);
  write_params(w, m.params);
}
bool read(Reader& r, ServerSetup& m) {
  return r.varint(m.version) && read_params(r, m.params);
}

void write(Writer& w, const Subscribe& m) {
  w.varint(m.request_id);
  write_namespace(w, m.track_namespace);
  w.string(m.track_name);
  w.u8(m.subscriber_priority);
  w.u8(m.group_order);
  w.u8(m.forward);
  w.varint(m.filter_type);
  if (m.filter_type == filter::kAbsoluteStart || m.filter_type == filter::kAbsoluteRange)
    write_location(w, m.start.value_or(Location{}));
  if (m.filter_type == filter::kAbsoluteRange) w.varint(m.end_group.value_or(0));
  write_params(w, m.params);
}
bool read(Reader& r, Subscribe& m) {
  if (!(r.varint(m.request_id) && read_namespace(r, m.track_namespace) && r.string(m.track_name) &&
        r.u8(m.subscriber_priority) && read_order(r, m.group_order) &&
        read_flag(r, m.forward, "forward") && r.varint(m.filter_type))) {
    return false;
  }
  switch (m.filter_type) {
    case filter::kNextGroupStart:
    case filter::kLargestObject:
      break;
    case filter::kAbsoluteStart:
      m.start.emplace();
      if (!read_location(r, *m.start)) return false;
      break;
    case filter::kAbsoluteRange:
      m.start.emplace();
      m.end_group.emplace();
      if (!read_location(r, *m.start) || !r.varint(*m.end_group)) return false;
      break;
    default:
      return r.fail(kViolation, "filter type " + std::to_string(m.filter_type));
  }
  return read_params(r, m.params);
}

void write(Writer& w, const SubscribeOk& m) {
  w.varint(m.request_id);
  w.varint(m.track_alias);
  w.varint(m.expires);
  w.u8(m.group_order);
  w.u8(m.largest ? 1 : 0);
  if (m.largest) write_location(w, *m.largest);
  write_params(w, m.params);
}
bool read(Reader& r, SubscribeOk& m) {
  uint8_t exists = 0;
  if (!(r.varint(m.request_id) && r.varint(m.track_alias) && r.varint(m.expires) &&
        read_order(r, m.group_order) && read_flag(r, exists, "content exists"))) {
    return false;
  }
  if (exists) {
    m.largest.emplace();
    if (!read_location(r, *m.largest)) return false;
  }
  return read_params(r, m.params);
}

template <class T>
void write_error(Writer& w, const T& m) {
  w.varint(m.request_id);
  w.varint(m.error_code);
  w.string(m.reason);
}
template <class T>
bool read_error(Reader& r, T& m) {
  return r.varint(m.request_id) && r.varint(m.error_code) && r.string(m.reason);
}
void write(Writer& w, const SubscribeError& m) {
  write_error(w, m);
}
bool read(Reader& r, SubscribeError& m) {
  return read_error(r, m);
}
void write(Writer& w, const PublishNamespaceError& m) {
  write_error(w, m);
}
bool read(Reader& r, PublishNamespaceError& m) {
  return read_error(r, m);
}
void write(Writer& w, const SubscribeNamespaceError& m) {
  write_error(w, m);
}
bool read(Reader& r, SubscribeNamespaceError& m) {
  return read_error(r, m);
}
void write(Writer& w, const RequestError& m) {
  w.varint(m.request_id);
  w.varint(m.error_code);
  w.string(m.reason);
}

void write(Writer& w, const SubscribeUpdate& m) {
  w.varint(m.request_id);
  w.varint(m.subscription_request_id);
  write_location(w, m.start);
  w.varint(m.end_group);
  w.u8(m.subscriber_priority);
  w.u8(m.forward);
  write_params(w, m.params);
}
bool read(Reader& r, SubscribeUpdate& m) {
  return r.varint(m.request_id) && r.varint(m.subscription_request_id) &&
         read_location(r, m.start) && r.varint(m.end_group) && r.u8(m.subscriber_priority) &&
         read_flag(r, m.forward, "forward") && read_params(r, m.params);
}

template <class T>
void write_id(Writer& w, const T& m) {
  w.varint(m.request_id);
}
template <class T>
bool read_id(Reader& r, T& m) {
  return r.varint(m.request_id);
}
void write(Writer& w, const Unsubscribe& m) {
  write_id(w, m);
}
bool read(Reader& r, Unsubscribe& m) {
  return read_id(r, m);
}
void write(Writer& w, const PublishNamespaceOk& m) {
  write_id(w, m);
}
bool read(Reader& r, PublishNamespaceOk& m) {
  return read_id(r, m);
}
void write(Writer& w, const SubscribeNamespaceOk& m) {
  write_id(w, m);
}
bool read(Reader& r, SubscribeNamespaceOk& m) {
  return read_id(r, m);
}
void write(Writer& w, const MaxRequestId& m) {
  write_id(w, m);
}
bool read(Reader& r, MaxRequestId& m) {
  return read_id(r, m);
}
void write(Writer& w, const RequestsBlocked& m) {
  w.varint(m.maximum_request_id);
}
bool read(Reader& r, RequestsBlocked& m) {
  return r.varint(m.maximum_request_id);
}

void write(Writer& w, const PublishDone& m) {
  w.varint(m.request_id);
  w.varint(m.status_code);
  w.varint(m.stream_count);
  w.string(m.reason);
}
bool read(Reader& r, PublishDone& m) {
  return r.varint(m.request_id) && r.varint(m.status_code) && r.varint(m.stream_count) &&
         r.string(m.reason);
}

void write(Writer& w, const PublishNamespace& m) {
  w.varint(m.request_id);
  write_namespace(w, m.track_namespace);
  write_params(w, m.params);
}
bool read(Reader& r, PublishNamespace& m) {
  return r.varint(m.request_id) && read_namespace(r, m.track_namespace) && read_params(r, m.params);
}

void write(Writer& w, const PublishNamespaceDone& m) {
  write_namespace(w, m.track_namespace);
}
bool read(Reader& r, PublishNamespaceDone& m) {
  return read_namespace(r, m.track_namespace);
}

void write(Writer& w, const PublishNamespaceCancel& m) {
  write_namespace(w, m.track_namespace);
  w.varint(m.error_code);
  w.string(m.reason);
}
bool read(Reader& r, PublishNamespaceCancel& m) {
  return read_namespace(r, m.track_namespace) && r.varint(m.error_code) && r.string(m.reason);
}

void write(Writer& w, const SubscribeNamespace& m) {
  w.varint(m.request_id);
  write_namespace(w, m.prefix);
  write_params(w, m.params);
}
bool read(Reader& r, SubscribeNamespace& m) {
  return r.varint(m.request_id) && read_namespace(r, m.prefix) && read_params(r, m.params);
}

void write(Writer& w, const UnsubscribeNamespace& m) {
  if (m.request_id) {
    w.varint(*m.request_id);
  } else {
    write_namespace(w, m.prefix);
  }
}

void write(Writer& w, const Goaway& m) {
  w.string(m.new_session_uri);
}
bool read(Reader& r, Goaway& m) {
  return r.string(m.new_session_uri);
}

void write(Writer& w, const Refusable& m) {
  w.varint(m.request_id);
  w.bytes(m.rest);
}

uint64_t type_of(const Control& m) {
  struct Visitor {
    uint64_t operator()(const ClientSetup&) { return message_type::kClientSetup; }
    uint64_t operator()(const ServerSetup&) { return message_type::kServerSetup; }
    uint64_t operator()(const Subscribe&) { return message_type::kSubscribe; }
    uint64_t operator()(const SubscribeOk&) { return message_type::kSubscribeOk; }
    uint64_t operator()(const SubscribeError&) { return message_type::kSubscribeError; }
    uint64_t operator()(const SubscribeUpdate&) { return message_type::kSubscribeUpdate; }
    uint64_t operator()(const Unsubscribe&) { return message_type::kUnsubscribe; }
    uint64_t operator()(const PublishDone&) { return message_type::kPublishDone; }
    uint64_t operator()(const PublishNamespace&) { return message_type::kPublishNamespace; }
    uint64_t operator()(const PublishNamespaceOk&) { return message_type::kPublishNamespaceOk; }
    uint64_t operator()(const PublishNamespaceError&) {
      return message_type::kPublishNamespaceError;
    }
    uint64_t operator()(const PublishNamespaceDone&) { return message_type::kPublishNamespaceDone; }
    uint64_t operator()(const PublishNamespaceCancel&) {
      return message_type::kPublishNamespaceCancel;
    }
    uint64_t operator()(const SubscribeNamespace&) { return message_type::kSubscribeNamespace; }
    uint64_t operator()(const SubscribeNamespaceOk&) { return message_type::kSubscribeNamespaceOk; }
    uint64_t operator()(const SubscribeNamespaceError&) {
      return message_type::kSubscribeNamespaceError;
    }
    uint64_t operator()(const UnsubscribeNamespace&) { return message_type::kUnsubscribeNamespace; }
    uint64_t operator()(const MaxRequestId&) { return message_type::kMaxRequestId; }
    uint64_t operator()(const RequestsBlocked&) { return message_type::kRequestsBlocked; }
    uint64_t operator()(const Goaway&) { return message_type::kGoaway; }
    uint64_t operator()(const Refusable& m) { return m.type; }
    uint64_t operator()(const RequestError& m) { return m.type; }
  };
  return std::visit(Visitor{}, m);
}

// Reads the payload of a message of `type`; false with the reader's error
// (or an unknown type).
bool read_payload(Reader& r, uint64_t type, Control& out) {
  auto as = [&]<class T>(T message) {
    const bool ok = read(r, message);
    out = std::move(message);
    return ok;
  };
  switch (type) {
    case message_type::kClientSetup:
      return as(ClientSetup{});
    case message_type::kServerSetup:
      return as(ServerSetup{});
    case message_type::kSubscribe:
      return as(Subscribe{});
    case message_type::kSubscribeOk:
      return as(SubscribeOk{});
    case message_type::kSubscribeError:
      return as(SubscribeError{});
    case message_type::kSubscribeUpdate:
      return as(SubscribeUpdate{});
    case message_type::kUnsubscribe:
      return as(Unsubscribe{});
    case message_type::kPublishDone:
      return as(PublishDone{});
    case message_type::kPublishNamespace:
      return as(PublishNamespace{});
    case message_type::kPublishNamespaceOk:
      return as(PublishNamespaceOk{});
    case message_type::kPublishNamespaceError:
      return as(PublishNamespaceError{});
    case message_type::kPublishNamespaceDone:
      return as(PublishNamespaceDone{});
    case message_type::kPublishNamespaceCancel:
      return as(PublishNamespaceCancel{});
    case message_type::kSubscribeNamespace:
      return as(SubscribeNamespace{});
    case message_type::kSubscribeNamespaceOk:
      return as(SubscribeNamespaceOk{});
    case message_type::kSubscribeNamespaceError:
      return as(SubscribeNamespaceError{});
    case message_type::kMaxRequestId:
      return as(MaxRequestId{});
    case message_type::kRequestsBlocked:
      return as(RequestsBlocked{});
    case message_type::kGoaway:
      return as(Goaway{});
    case message_type::kUnsubscribeNamespace: {
      // A lone varint is a request id; anything else a namespace.
      UnsubscribeNamespace m;
      Reader probe(r.rest());
      uint64_t id = 0;
      if (probe.varint(id) && probe.remaining() == 0) {
        r.varint(id);
        m.request_id = id;
      } else if (!read_namespace(r, m.prefix)) {
        return false;
      }
      out = std::move(m);
      return true;
    }
    case message_type::kFetch:
    case message_type::kFetchCancel:
    case message_type::kPublish:
    case message_type::kTrackStatusRequest: {
      Refusable m;
      m.type = type;
      if (!r.varint(m.request_id)) return false;
      std::span<const uint8_t> rest;
      r.take(r.remaining(), rest);
      m.rest.assign(rest.begin(), rest.end());
      out = std::move(m);
      return true;
    }
    case message_type::kFetchError:
    case message_type::kPublishError:
    case message_type::kTrackStatusError: {
      RequestError m;
      m.type = type;
      if (!(r.varint(m.request_id) && r.varint(m.error_code) && r.string(m.reason))) return false;
      out = std::move(m);
      return true;
    }
    default:
      return r.fail(kViolation, "unknown control message type " + std::to_string(type));
  }
}

}  // namespace

bool is_ietf_protocol(std::string_view protocol) {
  return protocol == kProtocolMoq00 || protocol == kProtocolMoql;
}

std::optional<uint64_t> find_param(const std::vector<Param>& params, uint64_t id) {
  for (const auto& p : params) {
    if (p.id == id && id % 2 == 0) return p.value;
  }
  return std::nullopt;
}

Namespace namespace_of(std::string_view path) {
  Namespace ns;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) ns.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return ns;
}

std::string path_of(const Namespace& ns) {
  std::string path;
  for (const auto& part : ns) {
    if (part.empty()) continue;
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

bool encode(const Control& message, std::vector<uint8_t>& out) {
  std::vector<uint8_t> payload;
  Writer w(payload);
  std::visit([&](const auto& m) { write(w, m); }, message);
  if (!w.ok() || payload.size() > kMaxPayload) return false;
  Writer head(out);
  if (!head.varint(type_of(message))) return false;
  out.push_back(static_cast<uint8_t>(payload.size() >> 8));
  out.push_back(static_cast<uint8_t>(payload.size() & 0xff));
  out.insert(out.end(), payload.begin(), payload.end());
  return true;
}

DecodedControl decode_control(std::span<const uint8_t> in) {
  DecodedControl d;
  Reader outer(in);
  uint64_t type = 0;
  uint8_t hi = 0, lo = 0;
  if (!(outer.varint(type) && outer.u8(hi) && outer.u8(lo))) {
    d.status = outer.status();
    d.error = outer.error();
    return d;
  }
  const size_t length = (size_t{hi} << 8) | lo;
  if (outer.remaining() < length) return d;  // kNeedMore
  Reader r(outer.rest().subspan(0, length));
  if (read_payload(r, type, d.message) && r.remaining() != 0) {
    r.fail(kViolation, std::to_string(r.remaining()) + " bytes left over in control message " +
                           std::to_string(type));
  }
  if (r.status() == DecodeStatus::kNeedMore) {
    d.status = DecodeStatus::kError;
    d.error = {kViolation, "control message " + std::to_string(type) + " shorter than its fields"};
    return d;
  }
  d.status = r.status();
  d.error = r.error();
  // Every malformed message is a protocol violation, whatever the reader
  // said (its string cap fails with code::kInternal), so that the session
  // does not take it for a reset control stream.
  if (d.status == DecodeStatus::kError) d.error.code = kViolation;
  d.consumed = outer.consumed() + length;
  return d;
}

std::string_view control_name(const Control& message) {
  switch (type_of(message)) {
    case message_type::kClientSetup:
      return "CLIENT_SETUP";
    case message_type::kServerSetup:
      return "SERVER_SETUP";
    case message_type::kSubscribe:
      return "SUBSCRIBE";
    case message_type::kSubscribeOk:
      return "SUBSCRIBE_OK";
    case message_type::kSubscribeError:
      return "SUBSCRIBE_ERROR";
    case message_type::kSubscribeUpdate:
      return "SUBSCRIBE_UPDATE";
    case message_type::kUnsubscribe:
      return "UNSUBSCRIBE";
    case message_type::kPublishDone:
      return "PUBLISH_DONE";
    case message_type::kPublishNamespace:
      return "PUBLISH_NAMESPACE";
    case message_type::kPublishNamespaceOk:
      return "PUBLISH_NAMESPACE_OK";
    case message_type::kPublishNamespaceError:
      return "PUBLISH_NAMESPACE_ERROR";
    case message_type::kPublishNamespaceDone:
      return "PUBLISH_NAMESPACE_DONE";
    case message_type::kPublishNamespaceCancel:
      return "PUBLISH_NAMESPACE_CANCEL";
    case message_type::kSubscribeNamespace:
      return "SUBSCRIBE_NAMESPACE";
    case message_type::kSubscribeNamespaceOk:
      return "SUBSCRIBE_NAMESPACE_OK";
    case message_type::kSubscribeNamespaceError:
      return "SUBSCRIBE_NAMESPACE_ERROR";
    case message_type::kUnsubscribeNamespace:
      return "UNSUBSCRIBE_NAMESPACE";
    case message_type::kMaxRequestId:
      return "MAX_REQUEST_ID";
    case message_type::kRequestsBlocked:
      return "REQUESTS_BLOCKED";
    case message_type::kGoaway:
      return "GOAWAY";
    case message_type::kFetch:
      return "FETCH";
    case message_type::kFetchCancel:
      return "FETCH_CANCEL";
    case message_type::kFetchError:
      return "FETCH_ERROR";
    case message_type::kPublish:
      return "PUBLISH";
    case message_type::kPublishError:
      return "PUBLISH_ERROR";
    case message_type::kTrackStatusRequest:
      return "TRACK_STATUS_REQUEST";
    case message_type::kTrackStatus:
      return "TRACK_STATUS";
    case message_type::kTrackStatusError:
      return "TRACK_STATUS_ERROR";
    default:
      return "?";
  }
}

// ---- data ----
bool is_subgroup_type(uint64_t type) {
  return (type >= 0x10 && type <= 0x15) || (type >= 0x18 && type <= 0x1D);
}

void encode(const SubgroupHeader& h, std::vector<uint8_t>& out) {
  Writer w(out);
  w.varint(h.type);
  w.varint(h.track_alias);
  w.varint(h.group_id);
  if (h.type & 0x04) w.varint(h.subgroup_id);
  w.u8(h.publisher_priority);
}

DecodedSubgroupHeader decode_subgroup_header(std::span<const uint8_t> in) {
  DecodedSubgroupHeader d;
  Reader r(in);
  SubgroupHeader& h = d.header;
  if (r.varint(h.type) && !is_subgroup_type(h.type)) {
    r.fail(kViolation, "data stream type " + std::to_string(h.type));
  }
  if (r.ok() && r.varint(h.track_alias) && r.varint(h.group_id) &&
      (!(h.type & 0x04) || r.varint(h.subgroup_id)) && r.u8(h.publisher_priority)) {
    d.consumed = r.consumed();
  }
  d.status = r.status();
  d.error = r.error();
  return d;
}

void encode(const ObjectHeader& h, bool with_extensions, std::vector<uint8_t>& out) {
  Writer w(out);
  w.varint(h.object_id_delta);
  if (with_extensions) {
    w.varint(h.extensions.size());
    w.bytes(h.extensions);
  }
  w.varint(h.payload_length);
  if (h.payload_length == 0) w.varint(h.status);
}

DecodedObjectHeader decode_object_header(std::span<const uint8_t> in, bool with_extensions) {
  DecodedObjectHeader d;
  Reader r(in);
  ObjectHeader& h = d.header;
  bool ok = r.varint(h.object_id_delta);
  if (ok && with_extensions) {
    uint64_t n = 0;
    std::span<const uint8_t> block;
    ok = r.varint(n);
    if (ok && n > kMaxExtensions) {
      ok = r.fail(kViolation, "object extensions of " + std::to_string(n) + " bytes");
    } else if (ok && (ok = r.take(static_cast<size_t>(n), block))) {
      h.extensions.assign(block.begin(), block.end());
    }
  }
  if (ok && r.varint(h.payload_length)) {
    if (h.payload_length > kMaxObjectSize) {
      r.fail(kViolation, "object of " + std::to_string(h.payload_length) + " bytes");
    } else if (h.payload_length == 0) {
      r.varint(h.status);
    }
  }
  d.status = r.status();
  d.error = r.error();
  if (d.status == DecodeStatus::kOk) d.consumed = r.consumed();
  return d;
}

}  // namespace moq::ietf
