#include "h3/settings.h"

#include <algorithm>
#include <unordered_set>

#include "coding/reader.h"
#include "coding/writer.h"
#include "h3/error.h"

namespace moq::h3 {

std::optional<uint64_t> Settings::get(uint64_t id) const {
  for (const auto& [k, v] : entries) {
    if (k == id) return v;
  }
  return std::nullopt;
}

void Settings::set(uint64_t id, uint64_t value) {
  for (auto& [k, v] : entries) {
    if (k == id) {
      v = value;
      return;
    }
  }
  entries.emplace_back(id, value);
}

Settings server_settings(uint64_t max_sessions) {
  if (max_sessions == 0) max_sessions = 1;
  Settings s;
  s.set(setting::kQpackMaxTableCapacity, 0);
  s.set(setting::kQpackBlockedStreams, 0);
  s.set(setting::kEnableConnectProtocol, 1);
  s.set(setting::kH3Datagram, 1);
  s.set(setting::kH3DatagramDraft04, 1);
  s.set(setting::kEnableWebTransport, 1);
  s.set(setting::kWebTransportMaxSessionsDraft02, max_sessions);
  s.set(setting::kWebTransportMaxSessionsDraft07, max_sessions);
  s.set(setting::kWtMaxSessions, max_sessions);
  s.set(setting::kWtEnabled, 1);
  return s;
}

Settings client_settings(uint64_t max_sessions) {
  Settings s = server_settings(max_sessions);
  std::erase_if(s.entries,
                [](const auto& e) { return e.first == setting::kEnableConnectProtocol; });
  return s;
}

bool supports_webtransport(const Settings& peer) {
  auto is = [&](uint64_t id, uint64_t want) { return peer.get(id) == want; };
  auto positive = [&](uint64_t id) { return peer.get(id).value_or(0) > 0; };
  const bool connect = is(setting::kEnableConnectProtocol, 1);
  const bool datagram = is(setting::kH3Datagram, 1) || is(setting::kH3DatagramDraft04, 1);
  const bool wt = is(setting::kEnableWebTransport, 1) || is(setting::kWtEnabled, 1) ||
                  positive(setting::kWebTransportMaxSessionsDraft02) ||
                  positive(setting::kWebTransportMaxSessionsDraft07) ||
                  positive(setting::kWtMaxSessions);
  return connect && datagram && wt;
}

std::vector<uint8_t> encode_settings(const Settings& settings) {
  std::vector<uint8_t> out;
  Writer w(out);
  for (const auto& [id, value] : settings.entries) {
    w.varint(id);
    w.varint(value);
  }
  return out;
}

SettingsDecode decode_settings(std::span<const uint8_t> payload) {
  SettingsDecode d;
  Reader r(payload);
  std::unordered_set<uint64_t> seen;
  while (r.remaining() > 0) {
    uint64_t id = 0, value = 0;
    if (!r.varint(id) || !r.varint(value)) {
      d.error_code = error::kFrameError;
      d.reason = "truncated SETTINGS";
      return d;
    }
    // Identifiers that were HTTP/2 settings (RFC 9114 §7.2.4.1, §11.2.2).
    if (id == 0x00 || id == 0x02 || id == 0x03 || id == 0x04 || id == 0x05) {
      d.error_code = error::kSettingsError;
      d.reason = "HTTP/2 setting " + std::to_string(id) + " in SETTINGS";
      return d;
    }
    if (!seen.insert(id).second) {
      d.error_code = error::kSettingsError;
      d.reason = "duplicate setting " + std::to_string(id);
      return d;
    }
    d.settings.entries.emplace_back(id, value);
  }
  d.ok = true;
  return d;
}

}  // namespace moq::h3
