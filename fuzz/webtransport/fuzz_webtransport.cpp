// Fuzz target: the sans-IO HTTP/3 + WebTransport connection core.
//
// Input: one byte picks the role (server or client), then records of
//   [stream selector][flags][length][length bytes]
// fed as stream data (flags bit 0: FIN, bit 1: reset instead of data, bit 2:
// the stream closes afterwards). Session requests are accepted or rejected
// as the input says, so the established-session paths run too. Checks: no
// crash, no unbounded growth, no input after a connection error changes
// anything.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "webtransport/connection.h"

using namespace moq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool server = data[0] & 1;
  wt::Connection conn(wt::Config{server ? wt::Role::kServer : wt::Role::kClient});
  conn.control_stream_opened(server ? 3 : 2);
  size_t pos = 1;
  size_t writes = 0;
  while (pos + 3 <= size) {
    const uint8_t selector = data[pos];
    const uint8_t flags = data[pos + 1];
    const size_t len = std::min<size_t>(data[pos + 2], size - pos - 3);
    pos += 3;
    // Any stream id of either side, of either direction.
    const uint64_t id = static_cast<uint64_t>(selector >> 2) * 4 + (selector & 3);
    if (flags & 2) {
      conn.on_stream_reset(id, 0x100 + (flags >> 3));
    } else {
      conn.on_stream_data(id, std::span<const uint8_t>(data + pos, len), flags & 1);
    }
    pos += len;
    if (flags & 4) conn.stream_closed(id);

    for (auto& ev : conn.poll_events()) {
      if (auto* req = std::get_if<wt::SessionRequested>(&ev)) {
        if (flags & 0x80) {
          conn.reject(req->session_id, 404);
        } else {
          conn.accept(req->session_id);
          (void)conn.open_stream(server ? 7 : 6, req->session_id);
        }
      }
      if (std::holds_alternative<wt::SettingsReceived>(ev) && !server) {
        conn.open_session(0, "localhost", "/fuzz");
      }
    }
    for (auto& w : conn.poll_writes())
      writes += w.data.size();
  }
  if (conn.failed()) {
    // A failed connection ignores everything.
    conn.on_stream_data(0, std::span<const uint8_t>(data, size), false);
    if (!conn.poll_events().empty() || !conn.poll_writes().empty()) std::abort();
  }
  (void)writes;
  return 0;
}
