#include "webtransport/connection.h"

#include <algorithm>
#include <optional>

#include "h3/error.h"
#include "h3/stream_id.h"
#include "webtransport/connect.h"
#include "webtransport/error.h"

namespace moq::wt {

namespace sid = h3::stream_id;

struct Connection::Stream {
  Kind kind = Kind::kDead;
  bool bidi = false;
  uint64_t session_id = 0;
  // kUniPending
  h3::UniStreamTypeReader uni_type;
  // kControl
  std::unique_ptr<h3::ControlStreamParser> control;
  // kWtHeader
  std::optional<StreamHeaderReader> header;
  // kRequest
  std::unique_ptr<h3::FrameReader> frames;
  bool headers_received = false;
  bool after_close = false;  // the peer closed the session on this CONNECT stream
  // kWtBuffered
  std::vector<Bytes> buffered;
  size_t buffered_bytes = 0;
  bool fin = false;
};

struct Connection::Session {
  enum class State { kRequested, kPending, kEstablished };
  uint64_t id = 0;
  State state = State::kRequested;
  h3::CapsuleReader capsules{{capsule_type::kCloseSession, capsule_type::kDrainSession},
                             4 + kMaxCloseReason};
  bool fin_sent = false;
  std::set<uint64_t> streams;  // routed WT streams, both directions
};

Connection::Connection(Config config) : config_(config) {}
Connection::~Connection() = default;

bool Connection::is_local(uint64_t id) const {
  return config_.role == Role::kServer ? sid::is_server_initiated(id)
                                       : sid::is_client_initiated(id);
}

Connection::Stream& Connection::stream(uint64_t id) {
  auto& slot = streams_[id];
  if (slot) return *slot;
  slot = std::make_unique<Stream>();
  if (is_local(id)) {
    slot->kind = Kind::kDead;  // a local stream we did not register: nothing to read
  } else if (sid::is_uni(id)) {
    slot->kind = Kind::kUniPending;
  } else {
    // A peer bidi stream: WEBTRANSPORT_STREAM (0x41) or, on a server, a request.
    slot->kind = Kind::kWtHeader;
    slot->bidi = true;
    slot->header.emplace(kBidiSignal);
  }
  return *slot;
}

void Connection::write(uint64_t id, std::vector<uint8_t> data, bool fin) {
  writes_.push_back(Write{id, std::move(data), fin});
}

void Connection::connection_error(uint64_t code, std::string reason) {
  if (failed_) return;
  failed_ = true;
  emit(ConnectionError{code, std::move(reason)});
}

void Connection::reset_stream(uint64_t id, uint64_t code) {
  emit(ResetStream{id, code});
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second->kind == Kind::kWtBuffered) --buffered_streams_;
  it->second->kind = Kind::kDead;
  it->second->buffered.clear();
}

void Connection::reset_buffered_streams() {
  std::vector<uint64_t> ids;
  for (const auto& [id, st] : streams_) {
    if (st->kind == Kind::kWtBuffered) ids.push_back(id);
  }
  for (uint64_t id : ids)
    reset_stream(id, kSessionGone);
}

void Connection::control_stream_opened(uint64_t stream_id) {
  if (control_id_) return;
  control_id_ = stream_id;
  const h3::Settings s = config_.role == Role::kServer ? h3::server_settings(config_.max_sessions)
                                                       : h3::client_settings(config_.max_sessions);
  write(stream_id, h3::encode_control_stream_preface(s), false);
}

// ---------------------------------------------------------------------------
// input
// ---------------------------------------------------------------------------

void Connection::on_stream_data(uint64_t stream_id, Bytes data, bool fin) {
  if (failed_) return;
  Stream& s = stream(stream_id);
  size_t off = 0;
  // Each pass hands the rest of the input to the stream's current kind; the
  // prefix parsers change the kind and loop, the others consume everything.
  while (!failed_) {
    const std::span<const uint8_t> rest = data.span().subspan(off);
    switch (s.kind) {
      case Kind::kUniPending: {
        const Kind before = s.kind;
        on_uni(s, stream_id, data, off, fin);
        if (s.kind == before || s.kind == Kind::kDead) return;
        continue;
      }
      case Kind::kWtHeader: {
        const Kind before = s.kind;
        on_wt_header(s, stream_id, data, off, fin);
        if (s.kind == before || s.kind != Kind::kRequest) return;
        continue;
      }
      case Kind::kControl: {
        std::span<const uint8_t> in = rest;
        while (!failed_) {
          h3::ControlEvent ev = s.control->next(in);
          if (ev.kind == h3::ControlEvent::Kind::kNeedMore) break;
          if (ev.kind == h3::ControlEvent::Kind::kError) {
            connection_error(ev.error_code, ev.reason);
          } else if (ev.kind == h3::ControlEvent::Kind::kSettings) {
            const bool server_peer = config_.role == Role::kClient;
            bool wt = h3::supports_webtransport(ev.settings);
            if (!server_peer) {
              // A client does not send ENABLE_CONNECT_PROTOCOL.
              h3::Settings s2 = ev.settings;
              s2.set(h3::setting::kEnableConnectProtocol, 1);
              wt = h3::supports_webtransport(s2);
            }
            peer_settings_ = ev.settings;
            emit(SettingsReceived{std::move(ev.settings), wt});
          } else {
            emit(GoawayReceived{ev.id});
          }
        }
        if (fin && !failed_)
          connection_error(h3::error::kClosedCriticalStream, "control stream closed");
        return;
      }
      case Kind::kQpackStream: {
        // With a zero-capacity table there is little to act on, but what the
        // peer says must still be valid (RFC 9204 §4.2, §4.3, §4.4).
        std::string why;
        if (s.uni_type.kind() == h3::UniStreamKind::kQpackEncoder) {
          if (!decoder_.read_encoder_stream(rest, why)) {
            connection_error(h3::error::kQpackEncoderStreamError, why);
            return;
          }
        } else if (!encoder_.read_decoder_stream(rest, why)) {
          connection_error(h3::error::kQpackDecoderStreamError, why);
          return;
        }
        if (fin) connection_error(h3::error::kClosedCriticalStream, "QPACK stream closed");
        return;
      }
      case Kind::kDiscard:
      case Kind::kDead:
        return;
      case Kind::kWt:
        if (!rest.empty() || fin) emit(StreamData{stream_id, data.slice(off), fin});
        return;
      case Kind::kWtBuffered:
        if (s.buffered_bytes + rest.size() > config_.max_buffered_bytes_per_stream) {
          reset_stream(stream_id, kBufferedStreamRejected);
          return;
        }
        if (!rest.empty()) s.buffered.push_back(data.slice(off));
        s.buffered_bytes += rest.size();
        s.fin = s.fin || fin;
        return;
      case Kind::kRequest:
        on_request(s, stream_id, rest, fin);
        return;
    }
  }
}

void Connection::on_uni(Stream& s, uint64_t /*id*/, const Bytes& data, size_t& off, bool fin) {
  std::span<const uint8_t> in = data.span().subspan(off);
  const bool done = s.uni_type.feed(in);
  off = data.size() - in.size();
  if (!done) {
    if (fin) s.kind = Kind::kDead;  // ended before its type: nothing to do
    return;
  }
  switch (s.uni_type.kind()) {
    case h3::UniStreamKind::kControl:
      if (peer_control_seen_) {
        connection_error(h3::error::kStreamCreationError, "second control stream");
        return;
      }
      peer_control_seen_ = true;
      s.kind = Kind::kControl;
      s.control = std::make_unique<h3::ControlStreamParser>(config_.role == Role::kServer);
      return;
    case h3::UniStreamKind::kQpackEncoder:
    case h3::UniStreamKind::kQpackDecoder: {
      bool& seen = s.uni_type.kind() == h3::UniStreamKind::kQpackEncoder ? peer_qpack_encoder_seen_
                                                                         : peer_qpack_decoder_seen_;
      if (seen) {
        connection_error(h3::error::kStreamCreationError, "second QPACK stream");
        return;
      }
      seen = true;
      s.kind = Kind::kQpackStream;
      return;
    }
    case h3::UniStreamKind::kPush:
      // Clients cannot push; we never send MAX_PUSH_ID, so servers cannot either.
      connection_error(
          config_.role == Role::kServer ? h3::error::kStreamCreationError : h3::error::kIdError,
          "push stream");
      return;
    case h3::UniStreamKind::kWebTransport: {
      s.kind = Kind::kWtHeader;
      s.bidi = false;
      s.header.emplace(kUniStreamType);
      std::span<const uint8_t> type_bytes = s.uni_type.bytes();
      s.header->feed(type_bytes);
      return;
    }
    case h3::UniStreamKind::kUnknown:
      // Unknown and GREASE types: discard (RFC 9114 §6.2).
      s.kind = Kind::kDiscard;
      return;
  }
}

void Connection::on_wt_header(Stream& s, uint64_t id, const Bytes& data, size_t& off, bool fin) {
  std::span<const uint8_t> in = data.span().subspan(off);
  const auto status = s.header->feed(in);
  off = data.size() - in.size();
  switch (status) {
    case StreamHeaderReader::Status::kNeedMore:
      if (fin) {
        // The stream ended before its header was complete.
        if (s.bidi) {
          reset_stream(id, h3::error::kRequestIncomplete);
        } else {
          s.kind = Kind::kDead;
        }
      }
      return;
    case StreamHeaderReader::Status::kDone: {
      const uint64_t session_id = s.header->session_id();
      s.header.reset();
      route_wt_stream(id, session_id, s.bidi, data.slice(off), fin);
      off = data.size();
      return;
    }
    case StreamHeaderReader::Status::kNotWebTransport: {
      if (config_.role == Role::kClient) {
        connection_error(h3::error::kStreamCreationError, "server-initiated bidi stream");
        return;
      }
      // An HTTP/3 request stream: replay the first varint into a frame reader.
      // off already points after it, so the loop feeds the rest.
      const std::vector<uint8_t> first(s.header->type_bytes().begin(),
                                       s.header->type_bytes().end());
      s.header.reset();
      s.kind = Kind::kRequest;
      s.frames = std::make_unique<h3::FrameReader>(config_.max_frame_payload);
      on_request(s, id, first, false);
      return;
    }
  }
}

void Connection::on_request(Stream& s, uint64_t id, std::span<const uint8_t> in, bool fin) {
  if (!s.frames) s.frames = std::make_unique<h3::FrameReader>(config_.max_frame_payload);
  while (!failed_ && s.kind == Kind::kRequest) {
    h3::FrameEvent ev = s.frames->next(in);
    if (ev.kind == h3::FrameEvent::Kind::kNeedMore) break;
    if (ev.kind == h3::FrameEvent::Kind::kError) {
      connection_error(ev.error_code, "request stream: " + ev.reason);
      return;
    }
    if (ev.kind == h3::FrameEvent::Kind::kData) {
      if (!s.headers_received) {
        connection_error(h3::error::kFrameUnexpected, "DATA before HEADERS");
        return;
      }
      if (s.after_close) {
        // Data after CLOSE_WEBTRANSPORT_SESSION (draft-ietf-webtrans-http3 §6).
        if (!ev.payload.empty()) reset_stream(id, h3::error::kMessageError);
        continue;
      }
      auto it = sessions_.find(id);
      if (it != sessions_.end()) on_capsule_bytes(*it->second, ev.payload);
      continue;  // otherwise a plain request body: ignored
    }
    // A whole frame.
    if (ev.type == h3::frame_type::kHeaders) {
      if (!s.headers_received) {
        s.headers_received = true;
        on_request_headers(s, id, ev.payload);
      }
      continue;  // trailers: ignored
    }
    connection_error(h3::error::kFrameUnexpected,
                     "frame type " + std::to_string(ev.type) + " on request stream");
    return;
  }
  if (!fin || failed_ || s.kind != Kind::kRequest) return;
  if (!s.frames->at_boundary()) {
    connection_error(h3::error::kFrameError, "request stream ends inside a frame");
    return;
  }
  s.kind = Kind::kDead;
  if (!s.headers_received) {
    if (config_.role == Role::kServer) reset_stream(id, h3::error::kRequestIncomplete);
    return;
  }
  auto it = sessions_.find(id);
  if (it != sessions_.end()) on_connect_fin(*it->second);
}

void Connection::on_request_headers(Stream& s, uint64_t id, std::span<const uint8_t> payload) {
  h3::QpackDecodeResult d = decoder_.decode(static_cast<int64_t>(id), payload);
  if (!d.ok) {
    connection_error(d.error_code, d.reason);
    return;
  }
  if (config_.role == Role::kServer) {
    on_server_request(id, d.headers);
    return;
  }
  auto it = sessions_.find(id);
  if (it != sessions_.end() && it->second->state == Session::State::kPending) {
    on_client_response(*it->second, id, d.headers);
  }
  (void)s;
}

void Connection::on_server_request(uint64_t id, const h3::HeaderList& headers) {
  RequestCheck check = check_request(headers);
  if (check.kind != RequestCheck::Kind::kWebTransport) {
    respond(id, check.status(), false, true);
    emit(StopSending{id, h3::error::kNoError});
    dead_sessions_.insert(id);
    streams_[id]->kind = Kind::kDead;
    return;
  }
  auto sess = std::make_unique<Session>();
  sess->id = id;
  sess->state = Session::State::kRequested;
  sessions_[id] = std::move(sess);
  emit(SessionRequested{id, std::move(check.request.authority), std::move(check.request.path),
                        std::move(check.request.origin), std::move(check.request.protocols),
                        headers});
}

void Connection::on_client_response(Session& sess, uint64_t id, const h3::HeaderList& headers) {
  ResponseCheck rc = check_response(headers);
  if (rc.ok && rc.interim()) {
    streams_[id]->headers_received = false;  // the final response follows
    return;
  }
  if (rc.ok && rc.success()) {
    sess.state = Session::State::kEstablished;
    emit(SessionAccepted{id, headers});
    flush_buffered(id);
    return;
  }
  if (!rc.ok) reset_stream(id, h3::error::kMessageError);
  emit(SessionRejected{id, rc.ok ? rc.status : 0});
  end_session(id, kSessionGone);
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->kind = Kind::kDead;
}

void Connection::on_capsule_bytes(Session& sess, std::span<const uint8_t> in) {
  const uint64_t id = sess.id;
  while (true) {
    h3::CapsuleEvent ev = sess.capsules.next(in);
    if (ev.kind == h3::CapsuleEvent::Kind::kNeedMore) return;
    std::optional<CloseSession> close;
    if (ev.kind == h3::CapsuleEvent::Kind::kCapsule && ev.type == capsule_type::kDrainSession) {
      emit(SessionDraining{id});
      continue;
    }
    if (ev.kind == h3::CapsuleEvent::Kind::kCapsule) close = decode_close_value(ev.value);
    if (!close) {
      // Malformed capsule: quiche resets the CONNECT stream; so do we.
      reset_stream(id, h3::error::kMessageError);
      emit(SessionClosed{id, 0, "malformed capsule"});
      end_session(id, kSessionGone);
      return;
    }
    if (!sess.fin_sent) write(id, {}, true);  // answer with FIN, as quiche does
    emit(SessionClosed{id, close->code, std::move(close->reason)});
    end_session(id, kSessionGone);  // `sess` is gone now
    auto it = streams_.find(id);
    if (it != streams_.end()) {
      it->second->after_close = true;
      if (!in.empty()) reset_stream(id, h3::error::kMessageError);
    }
    return;
  }
}

void Connection::on_connect_fin(Session& sess) {
  const uint64_t id = sess.id;
  switch (sess.state) {
    case Session::State::kPending:
      emit(SessionRejected{id, 0});
      break;
    case Session::State::kRequested:
    case Session::State::kEstablished:
      // A FIN without a capsule closes the session with code 0.
      if (sess.state == Session::State::kEstablished && !sess.fin_sent) write(id, {}, true);
      emit(SessionClosed{id, 0, ""});
      break;
  }
  end_session(id, kSessionGone);
}

void Connection::on_stream_reset(uint64_t stream_id, uint64_t h3_code) {
  if (failed_) return;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  switch (s.kind) {
    case Kind::kControl:
    case Kind::kQpackStream:
      connection_error(h3::error::kClosedCriticalStream, "critical stream reset");
      return;
    case Kind::kWt: {
      emit(StreamReset{stream_id, s.session_id, from_http3(h3_code).value_or(0)});
      auto sit = sessions_.find(s.session_id);
      if (sit != sessions_.end()) sit->second->streams.erase(stream_id);
      s.kind = Kind::kDead;
      return;
    }
    case Kind::kWtBuffered:
      --buffered_streams_;
      s.buffered.clear();
      s.kind = Kind::kDead;
      return;
    case Kind::kRequest: {
      s.kind = Kind::kDead;
      auto sit = sessions_.find(stream_id);
      if (sit != sessions_.end()) {
        const bool pending = sit->second->state == Session::State::kPending;
        if (!sit->second->fin_sent) emit(ResetStream{stream_id, h3::error::kRequestCancelled});
        if (pending) {
          emit(SessionRejected{stream_id, 0});
        } else {
          emit(SessionClosed{stream_id, 0, ""});
        }
        end_session(stream_id, kSessionGone);
      }
      return;
    }
    default:
      s.kind = Kind::kDead;
      return;
  }
}

void Connection::stream_closed(uint64_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it != streams_.end()) {
    if (it->second->kind == Kind::kWtBuffered) --buffered_streams_;
    const uint64_t session_id = it->second->session_id;
    const bool wt = it->second->kind == Kind::kWt;
    streams_.erase(it);
    if (wt) {
      auto sit = sessions_.find(session_id);
      if (sit != sessions_.end()) sit->second->streams.erase(stream_id);
    }
    return;
  }
  // A local uni WT stream has no Stream entry; drop it from its session.
  for (auto& [id, sess] : sessions_)
    sess->streams.erase(stream_id);
}

// ---------------------------------------------------------------------------
// WT stream routing
// ---------------------------------------------------------------------------

bool Connection::session_id_plausible(uint64_t session_id) const {
  // Session ids are client-initiated bidi stream ids. A client knows all of
  // its sessions, so an unknown one can only be an error there.
  if (config_.role == Role::kClient) return false;
  return sid::is_client_bidi(session_id);
}

void Connection::route_wt_stream(uint64_t id, uint64_t session_id, bool bidi, Bytes initial,
                                 bool fin) {
  Stream& s = *streams_[id];
  s.session_id = session_id;
  s.bidi = bidi;
  auto it = sessions_.find(session_id);
  if (it != sessions_.end() && it->second->state == Session::State::kEstablished) {
    s.kind = Kind::kWt;
    it->second->streams.insert(id);
    emit(StreamOpened{id, session_id, bidi, std::move(initial), fin});
    return;
  }
  if (it == sessions_.end()) {
    if (dead_sessions_.count(session_id)) {
      reset_stream(id, kSessionGone);
      return;
    }
    if (!session_id_plausible(session_id)) {
      reset_stream(id, h3::error::kIdError);
      return;
    }
  }
  // The session is being set up (or its CONNECT has not arrived): hold briefly.
  if (buffered_streams_ >= config_.max_buffered_streams ||
      initial.size() > config_.max_buffered_bytes_per_stream) {
    reset_stream(id, kBufferedStreamRejected);
    return;
  }
  s.kind = Kind::kWtBuffered;
  s.buffered.clear();
  s.buffered_bytes = initial.size();
  if (!initial.empty()) s.buffered.push_back(std::move(initial));
  s.fin = fin;
  ++buffered_streams_;
}

void Connection::flush_buffered(uint64_t session_id) {
  auto sit = sessions_.find(session_id);
  if (sit == sessions_.end()) return;
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : streams_) {
    if (s->kind == Kind::kWtBuffered && s->session_id == session_id) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    Stream& s = *streams_[id];
    Bytes initial;
    if (s.buffered.size() == 1) {
      initial = s.buffered.front();
    } else if (s.buffered.size() > 1) {
      std::vector<uint8_t> joined;
      joined.reserve(s.buffered_bytes);
      for (const auto& b : s.buffered)
        joined.insert(joined.end(), b.data(), b.data() + b.size());
      initial = Bytes(std::move(joined));
    }
    s.buffered.clear();
    s.kind = Kind::kWt;
    --buffered_streams_;
    sit->second->streams.insert(id);
    emit(StreamOpened{id, session_id, s.bidi, std::move(initial), s.fin});
  }
}

void Connection::end_session(uint64_t session_id, uint64_t stream_reset_code) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  std::unique_ptr<Session> sess = std::move(it->second);
  sessions_.erase(it);
  dead_sessions_.insert(session_id);
  for (uint64_t id : sess->streams)
    reset_stream(id, stream_reset_code);
  std::vector<uint64_t> buffered;
  for (const auto& [id, s] : streams_) {
    if (s->kind == Kind::kWtBuffered && s->session_id == session_id) buffered.push_back(id);
  }
  std::sort(buffered.begin(), buffered.end());
  for (uint64_t id : buffered)
    reset_stream(id, stream_reset_code);
}

// ---------------------------------------------------------------------------
// application calls
// ---------------------------------------------------------------------------

void Connection::respond(uint64_t id, uint32_t status, bool webtransport, bool fin,
                         std::string_view protocol) {
  std::vector<uint8_t> field =
      encoder_.encode(static_cast<int64_t>(id), response_headers(status, webtransport, protocol));
  std::vector<uint8_t> frame;
  h3::write_frame(h3::frame_type::kHeaders, field, frame);
  write(id, std::move(frame), fin);
}

bool Connection::accept(uint64_t session_id, std::string_view protocol) {
  if (failed_ || config_.role != Role::kServer) return false;
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->state != Session::State::kRequested) return false;
  it->second->state = Session::State::kEstablished;
  respond(session_id, 200, true, false, protocol);
  flush_buffered(session_id);
  return true;
}

bool Connection::reject(uint64_t session_id, uint32_t status) {
  if (failed_ || config_.role != Role::kServer || status < 300 || status > 599) return false;
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->state != Session::State::kRequested) return false;
  respond(session_id, status, false, true);
  emit(StopSending{session_id, h3::error::kNoError});
  end_session(session_id, kSessionGone);
  auto sit = streams_.find(session_id);
  if (sit != streams_.end()) sit->second->kind = Kind::kDead;
  return true;
}

bool Connection::open_session(uint64_t stream_id, std::string_view authority, std::string_view path,
                              std::string_view origin, const std::vector<std::string>& protocols) {
  if (failed_ || config_.role != Role::kClient || !sid::is_client_bidi(stream_id)) return false;
  if (!peer_settings_ || !h3::supports_webtransport(*peer_settings_)) return false;
  if (streams_.count(stream_id) || sessions_.count(stream_id)) return false;
  auto& s = streams_[stream_id];
  s = std::make_unique<Stream>();
  s->kind = Kind::kRequest;
  s->bidi = true;
  s->frames = std::make_unique<h3::FrameReader>(config_.max_frame_payload);
  auto sess = std::make_unique<Session>();
  sess->id = stream_id;
  sess->state = Session::State::kPending;
  sessions_[stream_id] = std::move(sess);
  std::vector<uint8_t> field = encoder_.encode(
      static_cast<int64_t>(stream_id), connect_request_headers(authority, path, origin, protocols));
  std::vector<uint8_t> frame;
  h3::write_frame(h3::frame_type::kHeaders, field, frame);
  write(stream_id, std::move(frame), false);
  return true;
}

std::vector<uint8_t> Connection::open_stream(uint64_t stream_id, uint64_t session_id) {
  if (failed_ || !is_local(stream_id)) return {};
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->state != Session::State::kEstablished) return {};
  if (streams_.count(stream_id)) return {};
  it->second->streams.insert(stream_id);
  if (sid::is_bidi(stream_id)) {
    auto& s = streams_[stream_id];
    s = std::make_unique<Stream>();
    s->kind = Kind::kWt;
    s->bidi = true;
    s->session_id = session_id;
    return encode_bidi_stream_header(session_id);
  }
  return encode_uni_stream_header(session_id);
}

bool Connection::close_session(uint64_t session_id, uint32_t code, std::string_view reason) {
  if (failed_) return false;
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->state != Session::State::kEstablished) return false;
  it->second->fin_sent = true;
  write(session_id, encode_close_data_frame(CloseSession{code, std::string(reason)}), true);
  end_session(session_id, kSessionGone);
  auto sit = streams_.find(session_id);
  if (sit != streams_.end()) sit->second->kind = Kind::kDead;  // the peer's FIN is all we expect
  return true;
}

bool Connection::drain_session(uint64_t session_id) {
  if (failed_) return false;
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->state != Session::State::kEstablished) return false;
  write(session_id, encode_drain_data_frame(), false);
  return true;
}

bool Connection::send_goaway(uint64_t id) {
  if (failed_ || !control_id_) return false;
  write(*control_id_, h3::encode_goaway(id), false);
  return true;
}

bool Connection::session_established(uint64_t session_id) const {
  auto it = sessions_.find(session_id);
  return it != sessions_.end() && it->second->state == Session::State::kEstablished;
}

std::vector<Event> Connection::poll_events() {
  return std::exchange(events_, {});
}
std::vector<Write> Connection::poll_writes() {
  return std::exchange(writes_, {});
}

}  // namespace moq::wt
