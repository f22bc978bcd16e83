#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "coding/bytes.h"
#include "h3/capsule.h"
#include "h3/control.h"
#include "h3/frame.h"
#include "h3/qpack.h"
#include "h3/settings.h"
#include "h3/stream_type.h"
#include "webtransport/capsule.h"
#include "webtransport/stream_header.h"

namespace moq::wt {

// ---------------------------------------------------------------------------
// Sans-IO WebTransport-over-HTTP/3 connection core (server and client).
//
// One Connection per QUIC connection. It never touches a socket or ngtcp2:
// the QUIC glue feeds it the bytes received on each stream and carries out
// what it asks for:
//
//   glue                                  core
//   ----                                  ----
//   open a local uni stream -> id   ---->  control_stream_opened(id)
//   bytes arrive on stream id       ---->  on_stream_data(id, bytes, fin)
//   peer RESET_STREAM on id         ---->  on_stream_reset(id, h3_code)
//   a WT stream fully closed        ---->  stream_closed(id)
//   app: accept/reject/open/close   ---->  accept(), reject(), open_session(),
//                                          close_session(), open_stream()
//   write each Write in order       <----  poll_writes()
//   act on each Event               <----  poll_events()
//
// Once a WebTransport stream has been reported (StreamOpened), the glue may
// keep feeding its bytes here (they come back as StreamData) or route them
// straight to the application; the header was already stripped by slicing.
// ---------------------------------------------------------------------------

enum class Role { kServer, kClient };

struct Config {
  Role role = Role::kServer;
  uint64_t max_sessions = 1;  // advertised in every WebTransport dialect
  // Incoming WT streams whose session is not established yet (CONNECT still in
  // flight, or awaiting accept()) are held briefly, then reset.
  size_t max_buffered_streams = 16;
  size_t max_buffered_bytes_per_stream = 64 * 1024;
  size_t max_frame_payload = h3::kDefaultMaxFramePayload;
};

// ---- events (poll_events) ----

// Our peer's SETTINGS arrived. Client: open_session() is allowed only after
// this, and only if `webtransport` is true.
struct SettingsReceived {
  h3::Settings settings;
  bool webtransport = false;
};
// Server: a well-formed WebTransport CONNECT. Answer with accept() or
// reject(). WT streams for this session are buffered until then.
struct SessionRequested {
  uint64_t session_id = 0;
  std::string authority;
  std::string path;
  std::string origin;
  std::vector<std::string> protocols;  // wt-available-protocols, client's order
  h3::HeaderList headers;
};
// Client: the server answered 2xx.
struct SessionAccepted {
  uint64_t session_id = 0;
  h3::HeaderList headers;
};
// Client: the server answered with an error status (0: malformed response).
struct SessionRejected {
  uint64_t session_id = 0;
  uint32_t status = 0;
};
// The peer ended a session: CLOSE_WEBTRANSPORT_SESSION (code, reason), a bare
// FIN (0, ""), or a reset of the CONNECT stream (0, ""). Not reported for
// close_session() calls.
struct SessionClosed {
  uint64_t session_id = 0;
  uint32_t code = 0;
  std::string reason;
};
// The peer sent DRAIN_WEBTRANSPORT_SESSION.
struct SessionDraining {
  uint64_t session_id = 0;
};
// A peer-opened WT stream is routed to an established session. `initial` is
// the payload after the header (a slice, not a copy, unless it was buffered).
struct StreamOpened {
  uint64_t stream_id = 0;
  uint64_t session_id = 0;
  bool bidi = false;
  Bytes initial;
  bool fin = false;
};
// More payload of a WT stream fed through on_stream_data().
struct StreamData {
  uint64_t stream_id = 0;
  Bytes data;
  bool fin = false;
};
// The peer reset a WT stream; `code` is the WebTransport code (0 if the HTTP/3
// code was not in the mapped range).
struct StreamReset {
  uint64_t stream_id = 0;
  uint64_t session_id = 0;
  uint32_t code = 0;
};
// Glue: reset our sending side and stop reading (RESET_STREAM + STOP_SENDING)
// with this HTTP/3 code. Never fatal for the connection.
struct ResetStream {
  uint64_t stream_id = 0;
  uint64_t h3_code = 0;
};
// Glue: stop reading only (STOP_SENDING); what we wrote stays (e.g. a 404
// response sent before the request body ended).
struct StopSending {
  uint64_t stream_id = 0;
  uint64_t h3_code = 0;
};
struct GoawayReceived {
  uint64_t id = 0;
};
// Fatal: close the QUIC connection with this HTTP/3 code. After it the core
// ignores all input.
struct ConnectionError {
  uint64_t h3_code = 0;
  std::string reason;
};

using Event = std::variant<SettingsReceived, SessionRequested, SessionAccepted, SessionRejected,
                           SessionClosed, SessionDraining, StreamOpened, StreamData, StreamReset,
                           ResetStream, StopSending, GoawayReceived, ConnectionError>;

// ---- writes (poll_writes) ----

// Append `data` to the stream (in order), then FIN if `fin`.
struct Write {
  uint64_t stream_id = 0;
  std::vector<uint8_t> data;
  bool fin = false;
};

class Connection {
 public:
  explicit Connection(Config config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Role role() const { return config_.role; }

  // The glue opened our control stream (a local unidirectional stream). The
  // core queues the stream type and SETTINGS on it. Call once, first.
  void control_stream_opened(uint64_t stream_id);

  // ---- input ----
  void on_stream_data(uint64_t stream_id, Bytes data, bool fin);
  void on_stream_data(uint64_t stream_id, std::span<const uint8_t> data, bool fin) {
    on_stream_data(stream_id, Bytes::copy(data), fin);
  }
  void on_stream_reset(uint64_t stream_id, uint64_t h3_code);
  // A WT stream is gone (both directions done): forget it.
  void stream_closed(uint64_t stream_id);

  // ---- server ----
  // Answers a SessionRequested: 200 + sec-webtransport-http3-draft: draft02.
  // Buffered streams of the session are then reported. False if unknown.
  // `protocol`: the application protocol chosen (wt-protocol), if any.
  bool accept(uint64_t session_id, std::string_view protocol = {});
  // Answers with an error status (e.g. 404) and FIN. False if unknown.
  bool reject(uint64_t session_id, uint32_t status);

  // ---- client ----
  // `stream_id`: a client bidi stream the glue just opened; it becomes the
  // session id. Queues HEADERS with the CONNECT request. False (nothing
  // queued) before SettingsReceived or if the server lacks WebTransport.
  bool open_session(uint64_t stream_id, std::string_view authority, std::string_view path,
                    std::string_view origin = {}, const std::vector<std::string>& protocols = {});

  // ---- both ----
  // Registers a locally opened WT stream and returns the header the glue must
  // write before any data (empty if the session is not established).
  std::vector<uint8_t> open_stream(uint64_t stream_id, uint64_t session_id);
  // Sends CLOSE_WEBTRANSPORT_SESSION in a DATA frame, then FIN, and resets
  // the session's WT streams. False if unknown or already closed.
  bool close_session(uint64_t session_id, uint32_t code, std::string_view reason);
  // Sends DRAIN_WEBTRANSPORT_SESSION.
  bool drain_session(uint64_t session_id);
  // Queues GOAWAY on our control stream.
  bool send_goaway(uint64_t id);

  // Streams still waiting for their session (CONNECT not seen or not yet
  // accepted). The glue gives them a moment, then calls
  // reset_buffered_streams(), which resets them with WT_SESSION_GONE.
  size_t buffered_stream_count() const { return buffered_streams_; }
  void reset_buffered_streams();

  // ---- output ----
  std::vector<Event> poll_events();
  std::vector<Write> poll_writes();

  bool failed() const { return failed_; }
  bool peer_settings_received() const { return peer_settings_.has_value(); }
  bool session_established(uint64_t session_id) const;

 private:
  enum class Kind {
    kUniPending,   // reading the uni stream type
    kControl,      // peer control stream
    kQpackStream,  // peer QPACK encoder / decoder stream (contents ignored)
    kDiscard,      // unknown uni type: bytes dropped
    kWtHeader,     // reading a WT uni session id or a peer bidi's first varints
    kWt,           // routed WT stream
    kWtBuffered,   // WT stream waiting for its session
    kRequest,      // request / CONNECT stream (both roles)
    kDead,         // reset or finished: further bytes ignored
  };
  struct Stream;
  struct Session;

  Stream& stream(uint64_t id);
  bool is_local(uint64_t id) const;
  void emit(Event ev) { events_.push_back(std::move(ev)); }
  void write(uint64_t id, std::vector<uint8_t> data, bool fin);
  void connection_error(uint64_t code, std::string reason);
  void reset_stream(uint64_t id, uint64_t code);

  void on_uni(Stream& s, uint64_t id, const Bytes& data, size_t& off, bool fin);
  void on_wt_header(Stream& s, uint64_t id, const Bytes& data, size_t& off, bool fin);
  void on_request(Stream& s, uint64_t id, std::span<const uint8_t> in, bool fin);
  void on_request_headers(Stream& s, uint64_t id, std::span<const uint8_t> payload);
  void on_server_request(uint64_t id, const h3::HeaderList& headers);
  void on_client_response(Session& sess, uint64_t id, const h3::HeaderList& headers);
  void on_capsule_bytes(Session& sess, std::span<const uint8_t> in);
  void on_connect_fin(Session& sess);
  void route_wt_stream(uint64_t id, uint64_t session_id, bool bidi, Bytes initial, bool fin);
  void flush_buffered(uint64_t session_id);
  void end_session(uint64_t session_id, uint64_t stream_reset_code);
  void respond(uint64_t id, uint32_t status, bool webtransport, bool fin,
               std::string_view protocol = {});
  bool session_id_plausible(uint64_t session_id) const;

  Config config_;
  h3::QpackEncoder encoder_;
  h3::QpackDecoder decoder_;
  std::optional<uint64_t> control_id_;
  std::optional<h3::Settings> peer_settings_;
  bool peer_control_seen_ = false;
  bool peer_qpack_encoder_seen_ = false;
  bool peer_qpack_decoder_seen_ = false;
  bool failed_ = false;

  std::unordered_map<uint64_t, std::unique_ptr<Stream>> streams_;
  std::map<uint64_t, std::unique_ptr<Session>> sessions_;
  std::set<uint64_t> dead_sessions_;  // request streams that are not (or no longer) sessions
  size_t buffered_streams_ = 0;

  std::vector<Event> events_;
  std::vector<Write> writes_;
};

}  // namespace moq::wt
