#include "quic/connection.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "quic/endpoint.h"

namespace moq::quic {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Static trampolines: ngtcp2 hands back the Connection as user_data. They only
// update bookkeeping; anything the application sees is queued as an event.
struct Callbacks {
  static Connection& self(void* user_data) { return *static_cast<Connection*>(user_data); }

  static int recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t,
                              const uint8_t* data, size_t len, void* ud, void*) {
    return self(ud).on_recv_stream_data(flags, id, data, len);
  }
  static int acked_stream_data_offset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* ud,
                                      void*) {
    return self(ud).on_acked(id, len);
  }
  static int stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t code, void* ud,
                          void*) {
    return self(ud).on_stream_close(flags, id, code);
  }
  static int stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t code, void* ud, void*) {
    return self(ud).on_stream_reset_cb(id, code);
  }
  static int extend_max_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
    return self(ud).on_extend_max_stream_data(id);
  }
  static int extend_max_local_streams(ngtcp2_conn*, uint64_t, void* ud) {
    Connection& c = self(ud);
    if (c.streams_wanted_) {
      c.streams_wanted_ = false;
      c.post_event(Connection::Event(Connection::Event::Type::kStreamsAvailable));
    }
    return 0;
  }
  static int handshake_completed(ngtcp2_conn*, void* ud) {
    return self(ud).on_handshake_completed();
  }
  static int get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                                   void* ud) {
    return self(ud).on_new_cid(cid, token, cidlen);
  }
  static int remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
    return self(ud).on_remove_cid(cid);
  }
  static void rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
  }
  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<Connection*>(ref->user_data)->conn_;
  }
  static void log(void*, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    std::vfprintf(stderr, format, ap);
    va_end(ap);
    std::fputc('\n', stderr);
  }

  static ngtcp2_callbacks make(bool server) {
    ngtcp2_callbacks cb{};
    if (server) {
      cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
      cb.client_initial = ngtcp2_crypto_client_initial_cb;
      cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.recv_stream_data = recv_stream_data;
    cb.acked_stream_data_offset = acked_stream_data_offset;
    cb.stream_close = stream_close;
    cb.stream_reset = stream_reset;
    cb.extend_max_stream_data = extend_max_stream_data;
    cb.extend_max_local_streams_bidi = extend_max_local_streams;
    cb.extend_max_local_streams_uni = extend_max_local_streams;
    cb.handshake_completed = handshake_completed;
    cb.get_new_connection_id = get_new_connection_id;
    cb.remove_connection_id = remove_connection_id;
    cb.rand = rand;
    return cb;
  }
};

namespace {

uint64_t ns(std::chrono::milliseconds d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// Keep-alives must come well inside the idle timeout, however short it is
// configured: at most a third of it.
uint64_t keep_alive_ns(const QuicConfig& config) {
  return ns(std::min(config.keep_alive, config.idle_timeout / 3));
}

void fill_settings(ngtcp2_settings& s, const QuicConfig& config) {
  ngtcp2_settings_default(&s);
  s.initial_ts = now_ns();
  s.cc_algo = config.congestion_control == CongestionControl::kBbr ? NGTCP2_CC_ALGO_BBR
                                                                   : NGTCP2_CC_ALGO_CUBIC;
  s.handshake_timeout = ns(config.handshake_timeout);
  s.max_window = config.connection_window;
  s.max_stream_window = config.stream_window;
  if (config.debug_log) s.log_printf = Callbacks::log;
}

void fill_params(ngtcp2_transport_params& p, const QuicConfig& config) {
  ngtcp2_transport_params_default(&p);
  p.initial_max_stream_data_bidi_local = config.stream_window;
  p.initial_max_stream_data_bidi_remote = config.stream_window;
  p.initial_max_stream_data_uni = config.stream_window;
  p.initial_max_data = config.connection_window;
  p.initial_max_streams_bidi = config.max_streams_bidi;
  p.initial_max_streams_uni = config.max_streams_uni;
  p.max_idle_timeout = ns(config.idle_timeout);
  p.max_datagram_frame_size = config.max_datagram_frame_size;
  p.active_connection_id_limit = 7;
}

Error liberr(std::string_view what, int rv) {
  return Error{code::kSession, std::string(what) + ": " + ngtcp2_strerror(rv)};
}

}  // namespace

Connection::Connection(Endpoint& endpoint, bool server, const asio::ip::udp::endpoint& remote)
    : endpoint_(endpoint), server_(server), remote_(remote) {
  std::memcpy(&remote_address_.storage, remote.data(), remote.size());
  remote_address_.length = static_cast<socklen_t>(remote.size());
  conn_ref_.get_conn = Callbacks::get_conn;
  conn_ref_.user_data = this;
}

Connection::~Connection() {
  if (conn_) ngtcp2_conn_del(conn_);
}

asio::any_io_executor Connection::executor() const {
  return endpoint_.executor();
}

Result<void> Connection::init_server(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path,
                                     const QuicConfig& config, const ngtcp2_cid& scid) {
  ngtcp2_settings settings;
  fill_settings(settings, config);
  ngtcp2_transport_params params;
  fill_params(params, config);
  params.original_dcid = hd.dcid;
  params.original_dcid_present = 1;
  params.stateless_reset_token_present = 1;
  endpoint_.reset_token(params.stateless_reset_token, scid);
  const ngtcp2_callbacks cb = Callbacks::make(true);
  const int rv = ngtcp2_conn_server_new(&conn_, &hd.scid, &scid, &path, hd.version, &cb, &settings,
                                        &params, nullptr, this);
  if (rv != 0) return liberr("ngtcp2_conn_server_new", rv);
  ngtcp2_conn_set_keep_alive_timeout(conn_, keep_alive_ns(config));
  cids_.push_back(scid);
  return {};
}

Result<void> Connection::init_client(const ngtcp2_path& path, const QuicConfig& config,
                                     const ngtcp2_cid& scid, const ngtcp2_cid& dcid) {
  ngtcp2_settings settings;
  fill_settings(settings, config);
  ngtcp2_transport_params params;
  fill_params(params, config);
  const ngtcp2_callbacks cb = Callbacks::make(false);
  const int rv = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                        &settings, &params, nullptr, this);
  if (rv != 0) return liberr("ngtcp2_conn_client_new", rv);
  ngtcp2_conn_set_keep_alive_timeout(conn_, keep_alive_ns(config));
  cids_.push_back(scid);
  return {};
}

void Connection::attach_tls(TlsSession session) {
  tls_ = std::move(session);
  ngtcp2_conn_set_tls_native_handle(conn_, tls_.get());
}

Connection::PathInfo Connection::path_info() const {
  if (!conn_) return {};
  ngtcp2_conn_info info{};
  ngtcp2_conn_get_conn_info(conn_, &info);
  return PathInfo{info.smoothed_rtt, info.min_rtt, info.cwnd, info.bytes_in_flight,
                  ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_)};
}

// ---------------------------------------------------------------- input

void Connection::on_datagram(const ngtcp2_path& path, std::span<const uint8_t> packet) {
  ++stats_.packets_received;
  stats_.bytes_received += packet.size();
  if (state_ == State::kClosed || state_ == State::kDraining) return;
  if (state_ == State::kClosing) {
    // The peer has not seen our CONNECTION_CLOSE yet: say it again.
    if (!close_packet_.empty()) send_packet(close_packet_.data(), close_packet_.size());
    return;
  }
  ngtcp2_pkt_info pi{};
  const int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, packet.data(), packet.size(), now_ns());
  if (rv != 0) {
    handle_error(rv);
  }
  dispatch_events();
  schedule_flush();
}

void Connection::handle_error(int rv) {
  if (state_ == State::kClosed) return;
  ngtcp2_ccerr ccerr;
  ngtcp2_ccerr_default(&ccerr);
  switch (rv) {
    case NGTCP2_ERR_DRAINING:
      enter_draining();
      return;
    case NGTCP2_ERR_CLOSING:
      return;  // already closing
    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_IDLE_CLOSE:
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      notify_closed(CloseInfo{CloseInfo::Kind::kIdle, 0, ngtcp2_strerror(rv), false});
      finish_close();
      return;
    case NGTCP2_ERR_CRYPTO:
      ngtcp2_ccerr_set_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
      break;
    default:
      ngtcp2_ccerr_set_liberr(&ccerr, rv, nullptr, 0);
      break;
  }
  enter_closing(ccerr);
}

// ---------------------------------------------------------------- callbacks

int Connection::on_recv_stream_data(uint32_t flags, int64_t id, const uint8_t* data, size_t len) {
  // The single ingress copy: ngtcp2's buffer is only valid during this call.
  Bytes bytes = len ? Bytes::copy(std::span<const uint8_t>(data, len)) : Bytes();
  const bool fin = flags & NGTCP2_STREAM_DATA_FLAG_FIN;
  // Flow-control credit comes back only when the application says it has
  // consumed the bytes (consume()): a reader that stops reading stops its
  // peer instead of filling our memory.
  post_event(Event(id, std::move(bytes), fin));
  return 0;
}

int Connection::on_acked(int64_t id, uint64_t len) {
  Stream* s = find_stream(id);
  if (!s) return 0;
  s->send.ack(len);
  if (s->above_low_water && s->send.unacked_bytes() <= kLowWater) {
    s->above_low_water = false;
    post_event(Event(Event::Type::kStreamWritable, id));
  }
  return 0;
}

int Connection::on_stream_close(uint32_t flags, int64_t id, uint64_t code) {
  endpoint_.stream_packets_lost_ += ngtcp2_conn_get_stream_loss_count(conn_, id);
  if (Stream* s = find_stream(id)) {
    // Closed with an error code we did not send (we never reset it, and a
    // FIN of ours would have closed it cleanly): the peer's STOP_SENDING.
    if (!s->write_shut && !s->fin_sent && (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) &&
        (ngtcp2_is_bidi_stream(id) || ngtcp2_conn_is_local_stream(conn_, id))) {
      post_event(Event(Event::Type::kStopSending, id, code));
    }
    dequeue(*s);
    streams_.erase(id);
  }
  // Give the peer its stream credit back: KIXEL_00 opens one uni stream per
  // object, so without this a publisher stalls after max_streams_uni.
  if (!ngtcp2_conn_is_local_stream(conn_, id)) {
    if (ngtcp2_is_bidi_stream(id)) {
      ngtcp2_conn_extend_max_streams_bidi(conn_, 1);
    } else {
      ngtcp2_conn_extend_max_streams_uni(conn_, 1);
    }
  }
  post_event(Event(Event::Type::kStreamClosed, id));
  return 0;
}

int Connection::on_stream_reset_cb(int64_t id, uint64_t code) {
  post_event(Event(Event::Type::kStreamReset, id, code));
  return 0;
}

int Connection::on_extend_max_stream_data(int64_t id) {
  if (Stream* s = find_stream(id); s && s->data_blocked) {
    s->data_blocked = false;
    enqueue(*s);
  }
  return 0;
}

int Connection::on_handshake_completed() {
  handshake_done_ = true;
  if (state_ == State::kHandshake) state_ = State::kOpen;
  post_event(Event(Event::Type::kHandshakeDone));
  return 0;
}

int Connection::on_new_cid(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) {
  if (cidlen != kCidLength) return NGTCP2_ERR_CALLBACK_FAILURE;
  *cid = endpoint_.new_cid();
  endpoint_.reset_token(token, *cid);
  cids_.push_back(*cid);
  endpoint_.register_cid(*cid, this);
  return 0;
}

int Connection::on_remove_cid(const ngtcp2_cid* cid) {
  endpoint_.unregister_cid(*cid);
  std::erase_if(cids_, [cid](const ngtcp2_cid& c) { return ngtcp2_cid_eq(&c, cid); });
  return 0;
}

void Connection::post_event(Event event) {
  // After the decision to close, only on_closed is still said.
  if (close_notified_ && event.type != Event::Type::kClosed) return;
  events_.push_back(std::move(event));
}

void Connection::dispatch_events() {
  // Not re-entrant: a handler that makes the connection queue more events
  // (by closing it, say) gets them delivered by the loop below, after it has
  // returned, never from inside its own call.
  if (dispatching_) return;
  dispatching_ = true;
  // Keep this connection and its handler alive while events run: a handler
  // may drop the last outside reference to either.
  auto self = shared_from_this();
  while (!events_.empty()) {
    Event ev = std::move(events_.front());
    events_.pop_front();
    std::shared_ptr<ConnectionHandler> handler = handler_;
    if (ev.type == Event::Type::kClosed) {
      events_.clear();
      handler_.reset();  // nothing reaches it after this
      if (handler) handler->on_closed(close_info_);
      break;
    }
    if (!handler) continue;
    switch (ev.type) {
      case Event::Type::kHandshakeDone:
        handler->on_handshake_done();
        break;
      case Event::Type::kStreamData:
        handler->on_stream_data(ev.stream_id, std::move(ev.data), ev.fin);
        break;
      case Event::Type::kStreamReset:
        handler->on_stream_reset(ev.stream_id, ev.code);
        break;
      case Event::Type::kStopSending:
        handler->on_stop_sending(ev.stream_id, ev.code);
        break;
      case Event::Type::kStreamClosed:
        handler->on_stream_closed(ev.stream_id);
        break;
      case Event::Type::kStreamWritable:
        handler->on_stream_writable(ev.stream_id);
        break;
      case Event::Type::kStreamsAvailable:
        handler->on_streams_available();
        break;
      case Event::Type::kClosed:
        break;
    }
  }
  dispatching_ = false;
}

// ---------------------------------------------------------------- streams

Connection::Stream* Connection::find_stream(int64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

Connection::Stream& Connection::stream_for(int64_t id) {
  auto [it, inserted] = streams_.try_emplace(id);
  if (inserted) it->second.id = id;
  return it->second;
}

Result<int64_t> Connection::open_bidi_stream() {
  if (state_ != State::kOpen) return Error{code::kSession, "connection not open"};
  int64_t id = -1;
  const int rv = ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    streams_wanted_ = true;
    return Error{code::kSession, "stream limit reached"};
  }
  if (rv != 0) return liberr("open bidi stream", rv);
  stream_for(id);
  return id;
}

Result<int64_t> Connection::open_uni_stream() {
  if (state_ != State::kOpen) return Error{code::kSession, "connection not open"};
  int64_t id = -1;
  const int rv = ngtcp2_conn_open_uni_stream(conn_, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    streams_wanted_ = true;
    return Error{code::kSession, "stream limit reached"};
  }
  if (rv != 0) return liberr("open uni stream", rv);
  stream_for(id);
  return id;
}

Result<void> Connection::write(int64_t id, Bytes data, bool fin) {
  if (state_ == State::kClosed || state_ == State::kClosing || state_ == State::kDraining) {
    return Error{code::kWrite, "connection closed"};
  }
  Stream& s = stream_for(id);
  if (s.write_shut || s.fin_requested) return Error{code::kWrite, "stream closed for writing"};
  s.send.append(std::move(data));
  if (fin) s.fin_requested = true;
  if (s.send.unacked_bytes() > kLowWater) s.above_low_water = true;
  enqueue(s);
  schedule_flush();
  return {};
}

void Connection::set_priority(int64_t id, int64_t priority) {
  Stream& s = stream_for(id);
  if (s.priority == priority) return;
  const bool was_queued = s.queued;
  dequeue(s);
  s.priority = priority;
  if (was_queued) enqueue(s);
}

void Connection::reset_stream(int64_t id, uint64_t code) {
  if (Stream* s = find_stream(id)) {
    s->write_shut = true;
    s->send.clear();
    dequeue(*s);
  }
  if (conn_ && state_ != State::kClosed) {
    ngtcp2_conn_shutdown_stream_write(conn_, 0, id, code);
    schedule_flush();
  }
}

void Connection::stop_sending(int64_t id, uint64_t code) {
  if (conn_ && state_ != State::kClosed) {
    ngtcp2_conn_shutdown_stream_read(conn_, 0, id, code);
    schedule_flush();
  }
}

void Connection::consume(int64_t id, uint64_t n) {
  if (n == 0 || !conn_ || state_ == State::kClosed) return;
  // The stream may be gone already; the connection's window still counts.
  ngtcp2_conn_extend_max_stream_offset(conn_, id, n);
  ngtcp2_conn_extend_max_offset(conn_, n);
  schedule_flush();
}

bool Connection::write_finished(int64_t id) const {
  auto it = streams_.find(id);
  return it != streams_.end() && (it->second.fin_requested || it->second.write_shut);
}

uint64_t Connection::unacked_bytes(int64_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? 0 : it->second.send.unacked_bytes();
}

void Connection::enqueue(Stream& s) {
  if (s.queued || s.data_blocked || s.write_shut) return;
  const bool has_fin = s.fin_requested && !s.fin_sent;
  if (s.send.unsent_bytes() == 0 && !has_fin) return;
  s.queued = true;
  s.queued_at = ++recency_;
  ++queued_streams_;
  send_queue_.push_back({s.priority, s.queued_at, s.id});
  std::push_heap(send_queue_.begin(), send_queue_.end());
  if (send_queue_.size() > 64 && send_queue_.size() > 4 * queued_streams_) {
    // Mostly stale entries: keep the valid ones.
    std::erase_if(send_queue_, [this](const QueueEntry& e) {
      const Stream* st = find_stream(e.id);
      return !st || !st->queued || st->queued_at != e.recency;
    });
    std::make_heap(send_queue_.begin(), send_queue_.end());
  }
}

void Connection::dequeue(Stream& s) {
  if (!s.queued) return;
  s.queued = false;  // its heap entry is now stale
  --queued_streams_;
}

Connection::Stream* Connection::next_stream() {
  while (!send_queue_.empty()) {
    const QueueEntry& top = send_queue_.front();
    Stream* s = find_stream(top.id);
    if (s && s->queued && s->queued_at == top.recency) return s;
    std::pop_heap(send_queue_.begin(), send_queue_.end());
    send_queue_.pop_back();
  }
  return nullptr;
}

// ---------------------------------------------------------------- output

void Connection::schedule_flush() {
  if (flush_scheduled_ || state_ == State::kClosed) return;
  flush_scheduled_ = true;
  endpoint_.request_flush(shared_from_this());
}

void Connection::send_packet(const uint8_t* data, size_t len) {
  ++stats_.packets_sent;
  stats_.bytes_sent += len;
  endpoint_.send_to(remote_address_, data, len);
}

void Connection::flush() {
  if (state_ != State::kHandshake && state_ != State::kOpen) return;
  const uint64_t ts = now_ns();
  // Room for the largest datagram we may send, not the path's current size:
  // Path MTU Discovery probes are larger than the path (ngtcp2 keeps ordinary
  // packets to the path's size itself), and a probe only goes out when the
  // buffer can take it.
  const size_t max_udp = ngtcp2_conn_get_max_tx_udp_payload_size(conn_);
  const size_t path_udp = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
  const size_t burst = std::max<size_t>(
      1, std::min<size_t>(TxQueue::kMaxSegments, ngtcp2_conn_get_send_quantum(conn_) / path_udp));
  std::array<ngtcp2_vec, 16> vecs;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  size_t packets = 0;

  // Packets are written straight into the endpoint's send queue. A run of
  // equal-sized packets (the last one may be shorter) is one train: one GSO
  // send to the peer.
  std::span<uint8_t> train;
  size_t train_len = 0;
  size_t segment = 0;
  auto commit = [&] {
    if (train_len > 0) endpoint_.tx_commit(remote_address_, train_len, segment);
    train = {};
    train_len = 0;
    segment = 0;
  };

  while (packets < burst) {
    if (train.size() - train_len < max_udp) {
      commit();
      train = endpoint_.tx_reserve(max_udp);
      if (train.size() < max_udp) break;  // cannot happen: an empty queue has room
    }
    Stream* s = ngtcp2_conn_get_max_data_left(conn_) > 0 ? next_stream() : nullptr;
    // A stream with only a FIN left can go out even when the connection
    // window is exhausted.
    if (!s && queue_has_work()) {
      Stream* head = next_stream();
      if (head && head->send.unsent_bytes() == 0) s = head;
    }
    int64_t id = -1;
    size_t nvec = 0;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_NONE;
    if (s) {
      id = s->id;
      nvec = s->send.unsent(vecs);
      flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      uint64_t covered = 0;
      for (size_t i = 0; i < nvec; ++i)
        covered += vecs[i].len;
      if (s->fin_requested && covered == s->send.unsent_bytes())
        flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize datalen = -1;
    ngtcp2_pkt_info pi{};
    uint8_t* out = train.data() + train_len;
    const ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, out, max_udp, &datalen,
                                                     flags, id, vecs.data(), nvec, ts);
    if (s && datalen >= 0) {
      s->send.mark_sent(static_cast<uint64_t>(datalen));
      if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->send.unsent_bytes() == 0) s->fin_sent = true;
      // Round-robin within a priority: back of its level with fresh recency.
      dequeue(*s);
      enqueue(*s);
    }
    if (n < 0) {
      switch (n) {
        case NGTCP2_ERR_WRITE_MORE:
          continue;  // room left in the packet: add the next stream
        case NGTCP2_ERR_STREAM_DATA_BLOCKED:
          s->data_blocked = true;
          dequeue(*s);
          continue;
        case NGTCP2_ERR_STREAM_SHUT_WR:
        case NGTCP2_ERR_STREAM_NOT_FOUND:
          // Not reset by us, so the peer sent STOP_SENDING (ngtcp2 answers
          // it with RESET_STREAM itself and has no callback for it; its code
          // is not reported here).
          if (!s->write_shut) {
            s->write_shut = true;
            post_event(Event(Event::Type::kStopSending, id));
          }
          s->send.clear();
          dequeue(*s);
          continue;
        default:
          commit();
          handle_error(static_cast<int>(n));
          dispatch_events();
          return;
      }
    }
    if (!events_.empty()) {
      dispatch_events();
      if (state_ != State::kHandshake && state_ != State::kOpen) {
        commit();
        return;
      }
    }
    if (n == 0) break;  // congestion or pacing limited: the timer resumes us
    const auto len = static_cast<size_t>(n);
    ++stats_.packets_sent;
    stats_.bytes_sent += len;
    ++packets;
    if (segment == 0) {
      segment = len;
      train_len = len;
    } else if (len > segment) {
      // Larger than the train's segments (rare: a small packet came first):
      // it starts a train of its own.
      thread_local std::vector<uint8_t> packet;
      packet.assign(out, out + len);
      commit();
      train = endpoint_.tx_reserve(max_udp);
      if (train.size() < max_udp) break;
      std::memcpy(train.data(), packet.data(), len);
      train_len = len;
      segment = len;
    } else {
      train_len += len;
      if (len < segment) commit();  // a shorter packet ends a train
    }
    if (train_len / std::max<size_t>(segment, 1) >= TxQueue::kMaxSegments) commit();
  }
  commit();
  ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  arm_timer();
  if (packets == burst) schedule_flush();
}

void Connection::arm_timer() {
  if (state_ == State::kClosed) return;
  const uint64_t expiry = ngtcp2_conn_get_expiry(conn_);
  // Only an earlier deadline needs a new wake-up; a later one is found when
  // the earlier wake-up comes (on_timer() looks at the real expiry).
  if (expiry >= timer_deadline_) return;
  timer_deadline_ = expiry;
  endpoint_.schedule(shared_from_this(), expiry, ++timer_generation_);
}

void Connection::on_timer() {
  timer_deadline_ = UINT64_MAX;
  const uint64_t now = now_ns();
  if (state_ == State::kClosing || state_ == State::kDraining) {
    if (now >= linger_deadline_) finish_close();
    return;
  }
  if (state_ != State::kHandshake && state_ != State::kOpen) return;
  if (ngtcp2_conn_get_expiry(conn_) > now) {
    arm_timer();  // woke early: the expiry moved later meanwhile
    return;
  }
  const int rv = ngtcp2_conn_handle_expiry(conn_, now);
  if (rv != 0) {
    handle_error(rv);
    dispatch_events();
    return;
  }
  flush();
}

// ---------------------------------------------------------------- closing

void Connection::close(uint64_t app_code, std::string_view reason) {
  if (state_ != State::kHandshake && state_ != State::kOpen) return;
  ngtcp2_ccerr ccerr;
  ngtcp2_ccerr_default(&ccerr);
  ngtcp2_ccerr_set_application_error(
      &ccerr, app_code, reinterpret_cast<const uint8_t*>(reason.data()), reason.size());
  enter_closing(ccerr);
  dispatch_events();
}

void Connection::abandon() {
  if (state_ == State::kClosed) return;
  notify_closed(CloseInfo{CloseInfo::Kind::kLocal, 0, "endpoint closed", false});
  state_ = State::kClosed;
  ++timer_generation_;
  dispatch_events();
  streams_.clear();
  send_queue_.clear();
  queued_streams_ = 0;
}

void Connection::enter_closing(const ngtcp2_ccerr& ccerr) {
  if (state_ == State::kClosing || state_ == State::kDraining || state_ == State::kClosed) return;
  std::array<uint8_t, 1500> buf;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buf.data(),
                                                            buf.size(), &ccerr, now_ns());
  CloseInfo info{ccerr.type == NGTCP2_CCERR_TYPE_APPLICATION ? CloseInfo::Kind::kApplication
                                                             : CloseInfo::Kind::kTransport,
                 ccerr.error_code,
                 std::string(reinterpret_cast<const char*>(ccerr.reason), ccerr.reasonlen), false};
  if (n <= 0) {
    // Nothing to say goodbye with (e.g. no keys yet): just go.
    notify_closed(std::move(info));
    finish_close();
    return;
  }
  close_packet_.assign(buf.data(), buf.data() + n);
  send_packet(close_packet_.data(), close_packet_.size());
  state_ = State::kClosing;
  notify_closed(std::move(info));
  // Stay around for 3 PTO to repeat the close to a peer that missed it.
  linger();
}

void Connection::enter_draining() {
  state_ = State::kDraining;
  notify_closed(remote_close_info());
  linger();  // the peer closed: say nothing, but absorb its late packets
}

void Connection::linger() {
  linger_deadline_ = now_ns() + 3 * ngtcp2_conn_get_pto(conn_);
  timer_deadline_ = linger_deadline_;
  endpoint_.schedule(shared_from_this(), linger_deadline_, ++timer_generation_);
}

CloseInfo Connection::remote_close_info() {
  const ngtcp2_ccerr& ccerr = *ngtcp2_conn_get_ccerr(conn_);
  CloseInfo info;
  info.kind = ccerr.type == NGTCP2_CCERR_TYPE_APPLICATION ? CloseInfo::Kind::kApplication
                                                          : CloseInfo::Kind::kTransport;
  info.code = ccerr.error_code;
  info.reason.assign(reinterpret_cast<const char*>(ccerr.reason), ccerr.reasonlen);
  info.remote = true;
  return info;
}

void Connection::notify_closed(CloseInfo info) {
  if (close_notified_) return;
  // Events queued before this decision happened before it (data that came in
  // the same datagram as the peer's CONNECTION_CLOSE, say) and are still
  // delivered, unless the handler itself is the one closing: then it has
  // said it wants nothing more.
  if (dispatching_) events_.clear();
  close_notified_ = true;
  close_info_ = std::move(info);
  send_queue_.clear();
  queued_streams_ = 0;
  post_event(Event(Event::Type::kClosed));
}

void Connection::finish_close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  ++timer_generation_;
  auto self = shared_from_this();
  dispatch_events();
  for (const ngtcp2_cid& cid : cids_)
    endpoint_.unregister_cid(cid);
  cids_.clear();
  streams_.clear();
  send_queue_.clear();
  queued_streams_ = 0;
  endpoint_.remove(self);
}

}  // namespace moq::quic
