#include "webtransport/connect.h"

#include <array>
#include <string>

#include "webtransport/protocols.h"

namespace moq::wt {

h3::HeaderList connect_request_headers(std::string_view authority, std::string_view path,
                                       std::string_view origin,
                                       const std::vector<std::string>& protocols) {
  h3::HeaderList h{
      {":method", "CONNECT"},       {":protocol", "webtransport"},
      {":scheme", "https"},         {":authority", std::string(authority)},
      {":path", std::string(path)},
  };
  if (!origin.empty()) h.push_back({"origin", std::string(origin)});
  h.push_back({"sec-webtransport-http3-draft02", "1"});
  if (!protocols.empty()) {
    h.push_back({std::string(kAvailableProtocolsHeader), serialize_protocol_list(protocols)});
  }
  return h;
}

h3::HeaderList response_headers(uint32_t status, bool webtransport, std::string_view protocol) {
  h3::HeaderList h{{":status", std::to_string(status)}};
  if (webtransport) h.push_back({"sec-webtransport-http3-draft", "draft02"});
  if (!protocol.empty()) {
    h.push_back({std::string(kProtocolHeader), serialize_protocol_item(protocol)});
  }
  if (status == 405) h.push_back({"allow", "CONNECT"});
  return h;
}

uint32_t RequestCheck::status() const {
  switch (kind) {
    case Kind::kWebTransport:
      return 200;
    case Kind::kNotConnect:
      return 405;
    case Kind::kMalformed:
    case Kind::kWrongProtocol:
    case Kind::kPlainConnect:
      return 400;
  }
  return 400;
}

namespace {

bool valid_value(std::string_view value) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
  }
  return true;
}

bool connection_specific(std::string_view name, std::string_view value) {
  static constexpr std::array<std::string_view, 5> kForbidden = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"};
  for (auto f : kForbidden) {
    if (name == f) return true;
  }
  return name == "te" && value != "trailers";
}

RequestCheck malformed(std::string why) {
  RequestCheck c;
  c.kind = RequestCheck::Kind::kMalformed;
  c.why = std::move(why);
  return c;
}

}  // namespace

RequestCheck check_request(const h3::HeaderList& headers) {
  const std::string *method = nullptr, *scheme = nullptr, *authority = nullptr, *path = nullptr,
                    *protocol = nullptr, *origin = nullptr, *available = nullptr;
  bool regular_seen = false;
  for (const auto& h : headers) {
    // Lowercase token characters; ':' only as the first character.
    bool name_ok = !h.name.empty();
    for (size_t i = 0; name_ok && i < h.name.size(); ++i) {
      const char c = h.name[i];
      if ((c >= 'A' && c <= 'Z') || c == '\0' || c == '\r' || c == '\n' || c == ' ' ||
          (c == ':' && i != 0)) {
        name_ok = false;
      }
    }
    if (!name_ok) return malformed("invalid field name '" + h.name + "'");
    if (!valid_value(h.value)) return malformed("invalid value for '" + h.name + "'");
    if (h.name[0] == ':') {
      if (regular_seen) return malformed("pseudo-header after regular field: " + h.name);
      const std::string** slot = nullptr;
      if (h.name == ":method")
        slot = &method;
      else if (h.name == ":scheme")
        slot = &scheme;
      else if (h.name == ":authority")
        slot = &authority;
      else if (h.name == ":path")
        slot = &path;
      else if (h.name == ":protocol")
        slot = &protocol;
      else
        return malformed("unknown pseudo-header " + h.name);
      if (*slot) return malformed("duplicate " + h.name);
      *slot = &h.value;
      continue;
    }
    regular_seen = true;
    if (connection_specific(h.name, h.value)) return malformed("connection-specific " + h.name);
    if (h.name == "origin" && !origin) origin = &h.value;
    if (h.name == kAvailableProtocolsHeader && !available) available = &h.value;
  }
  if (!method) return malformed("missing :method");

  RequestCheck c;
  if (*method != "CONNECT") {
    if (protocol) return malformed(":protocol on a non-CONNECT request");
    if (!scheme || !path || path->empty()) return malformed("missing :scheme or :path");
    c.kind = RequestCheck::Kind::kNotConnect;
    c.why = "method " + *method;
    return c;
  }
  if (!protocol) {
    // Classic CONNECT (RFC 9114 §4.4): :authority only.
    if (scheme || path || !authority || authority->empty()) {
      return malformed("classic CONNECT with :scheme/:path or without :authority");
    }
    c.kind = RequestCheck::Kind::kPlainConnect;
    c.why = "CONNECT without :protocol";
    return c;
  }
  // Extended CONNECT (RFC 9220 / RFC 8441 §4): all four pseudo-headers.
  if (!scheme || !path || path->empty() || !authority || authority->empty()) {
    return malformed("extended CONNECT without :scheme, :path or :authority");
  }
  if (*protocol != "webtransport" || *scheme != "https") {
    c.kind = RequestCheck::Kind::kWrongProtocol;
    c.why = ":protocol " + *protocol + " :scheme " + *scheme;
    return c;
  }
  c.kind = RequestCheck::Kind::kWebTransport;
  c.request.authority = *authority;
  c.request.path = *path;
  if (origin) c.request.origin = *origin;
  if (available) {
    // A malformed list is ignored (RFC 8941 §4.2), not a malformed request.
    if (auto list = parse_protocol_list(*available)) c.request.protocols = std::move(*list);
  }
  return c;
}

// Liberal in what we accept: RFC 9114 wants pseudo-header fields first, but
// the original Rust relay's WebTransport library encodes its response from a
// hash map, so `sec-webtransport-http3-draft` often comes before `:status`
// (Chromium accepts either order). The position is not checked; an unknown
// or repeated pseudo-header still makes the response malformed.
ResponseCheck check_response(const h3::HeaderList& headers) {
  ResponseCheck r;
  const std::string* status = nullptr;
  for (const auto& h : headers) {
    if (h.name.empty()) {
      r.why = "empty field name";
      return r;
    }
    if (h.name[0] == ':') {
      if (h.name != ":status" || status) {
        r.why = "bad pseudo-header " + h.name;
        return r;
      }
      status = &h.value;
    }
  }
  if (!status || status->size() != 3) {
    r.why = "missing or malformed :status";
    return r;
  }
  uint32_t v = 0;
  for (char ch : *status) {
    if (ch < '0' || ch > '9') {
      r.why = "non-numeric :status";
      return r;
    }
    v = v * 10 + static_cast<uint32_t>(ch - '0');
  }
  if (v < 100 || v == 101) {  // 101 is forbidden in HTTP/3 (RFC 9114 §4.6)
    r.why = ":status " + *status;
    return r;
  }
  r.ok = true;
  r.status = v;
  return r;
}

}  // namespace moq::wt
