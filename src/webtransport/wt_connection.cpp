#include "webtransport/wt_connection.h"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "h3/error.h"
#include "h3/stream_id.h"
#include "webtransport/error.h"
#include "webtransport/protocols.h"

namespace moq::wt {
namespace {

// How long a WebTransport stream may wait for its session to be established.
constexpr auto kBufferedStreamWait = std::chrono::seconds(1);

// The control and CONNECT streams carry what every other stream depends on.
constexpr int64_t kTopPriority = int64_t{1} << 40;

Error session_gone() {
  return Error{code::kSession, "session closed"};
}

// A CONNECTION_CLOSE ends the session too; the original relay closed the
// connection with the WebTransport code mapped into HTTP/3's space.
Error error_from_close(const quic::CloseInfo& info) {
  if (info.kind == quic::CloseInfo::Kind::kApplication) {
    if (auto wt = from_http3(info.code)) return Error{*wt, info.reason};
    // Unknown codes count as H3_NO_ERROR (RFC 9114 §8.1): aioquic, for one,
    // closes with application code 0 when its user just closes.
    if (info.code == h3::error::kNoError || !h3::is_known_error(info.code)) {
      return Error{code::kClosed, "closed"};
    }
    return Error{code::kSession, "connection closed with HTTP/3 error " +
                                     std::string(h3::error_name(info.code)) +
                                     (info.reason.empty() ? "" : ": " + info.reason)};
  }
  if (info.kind == quic::CloseInfo::Kind::kIdle) {
    return Error{code::kSession, "connection timed out (" + info.reason + ")"};
  }
  return Error{code::kSession, "connection closed (transport error " + std::to_string(info.code) +
                                   (info.reason.empty() ? "" : ": " + info.reason) + ")"};
}

class WtRecvStream : public transport::RecvStream {
 public:
  WtRecvStream(std::shared_ptr<WtConnection> conn, int64_t id,
               std::shared_ptr<WtConnection::RecvState> state)
      : conn_(std::move(conn)), id_(id), state_(std::move(state)) {}

  ~WtRecvStream() override { discard(); }

  asio::awaitable<Result<std::optional<Bytes>>> read() override {
    for (;;) {
      if (!state_->chunks.empty()) {
        Bytes b = std::move(state_->chunks.front());
        state_->chunks.pop_front();
        // Read: the peer may send that much more.
        conn_->quic().consume(id_, state_->take_credit(b.size()));
        co_return std::optional<Bytes>(std::move(b));
      }
      if (state_->fin) co_return std::optional<Bytes>();
      if (state_->error) co_return *state_->error;
      const bool woke = co_await state_->notify.wait();
      if (!woke) co_return Error{code::kStop, "cancelled"};
    }
  }

  void stop(uint32_t code) override {
    discard();
    if (state_->fin || state_->error) return;
    state_->error = Error{code::kStop, "stopped"};
    conn_->quic().stop_sending(id_, to_http3(code));
  }

 private:
  // Bytes received but never read still count against the connection's
  // window: give that credit back.
  void discard() {
    uint64_t unread = 0;
    for (const Bytes& b : state_->chunks)
      unread += b.size();
    state_->chunks.clear();
    conn_->quic().consume(id_, state_->take_credit(unread));
  }

  std::shared_ptr<WtConnection> conn_;
  int64_t id_;
  std::shared_ptr<WtConnection::RecvState> state_;
};

class WtSendStream : public transport::SendStream {
 public:
  WtSendStream(std::shared_ptr<WtConnection> conn, int64_t id,
               std::shared_ptr<WtConnection::SendState> state)
      : conn_(std::move(conn)), id_(id), state_(std::move(state)) {}

  Result<void> write(Bytes data) override {
    if (state_->error) return *state_->error;
    return conn_->quic().write(id_, std::move(data));
  }
  Result<void> finish() override {
    if (state_->error) return *state_->error;
    return conn_->quic().finish(id_);
  }
  void reset(uint32_t code) override {
    if (state_->error) return;
    state_->error = Error{code::kWrite, "stream reset"};
    conn_->quic().reset_stream(id_, to_http3(code));
  }
  void set_priority(int32_t priority) override { conn_->quic().set_priority(id_, priority); }
  uint64_t buffered() const override { return conn_->quic().unacked_bytes(id_); }
  asio::awaitable<Result<void>> drained() override {
    while (!state_->error && buffered() > quic::Connection::kLowWater) {
      const bool woke = co_await state_->notify.wait();
      if (!woke) co_return Error{code::kStop, "cancelled"};
    }
    if (state_->error) co_return *state_->error;
    co_return Result<void>();
  }

 private:
  std::shared_ptr<WtConnection> conn_;
  int64_t id_;
  std::shared_ptr<WtConnection::SendState> state_;
};

}  // namespace

// ---------------------------------------------------------------- WtConnection

WtConnection::WtConnection(std::shared_ptr<quic::Connection> conn, Role role)
    : conn_(std::move(conn)),
      core_(Config{role}),
      close_timer_(conn_->executor()),
      buffer_timer_(conn_->executor()) {}

std::shared_ptr<WtConnection> WtConnection::attach_server(std::shared_ptr<quic::Connection> conn,
                                                          RequestHandler on_request,
                                                          SessionHandler on_session) {
  std::shared_ptr<WtConnection> wt(new WtConnection(std::move(conn), Role::kServer));
  wt->on_request_ = std::move(on_request);
  wt->on_session_ = std::move(on_session);
  wt->conn_->set_handler(wt);
  return wt;
}

std::shared_ptr<WtConnection> WtConnection::attach_client(std::shared_ptr<quic::Connection> conn) {
  std::shared_ptr<WtConnection> wt(new WtConnection(std::move(conn), Role::kClient));
  wt->conn_->set_handler(wt);
  return wt;
}

void WtConnection::on_handshake_done() {
  // HTTP/3 starts with our control stream and SETTINGS.
  auto id = conn_->open_uni_stream();
  if (!id) {
    conn_->close(h3::error::kInternalError, "cannot open the HTTP/3 control stream");
    return;
  }
  conn_->set_priority(*id, kTopPriority);
  core_.control_stream_opened(static_cast<uint64_t>(*id));
  write_core_output();
  changed_.notify_all();
}

void WtConnection::on_stream_data(int64_t id, Bytes data, bool fin) {
  if (auto it = recv_.find(id); it != recv_.end()) {
    // An established WebTransport stream: straight to its reader.
    RecvState& st = *it->second;
    if (!data.empty()) st.chunks.push_back(std::move(data));
    if (fin) st.fin = true;
    st.notify.notify_all();
    return;
  }
  // The core buffers only what it must (headers, capsules, a stream's first
  // bytes until it is routed), so its input is consumed at once.
  conn_->consume(id, data.size());
  core_.on_stream_data(static_cast<uint64_t>(id), std::move(data), fin);
  handle_events();
}

void WtConnection::on_stream_reset(int64_t id, uint64_t code) {
  if (auto it = recv_.find(id); it != recv_.end()) {
    const uint32_t wt_code = from_http3(code).value_or(0);
    it->second->error = Error{wt_code, "stream reset by peer"};
    it->second->notify.notify_all();
    return;
  }
  core_.on_stream_reset(static_cast<uint64_t>(id), code);
  handle_events();
}

void WtConnection::on_stop_sending(int64_t id, uint64_t code) {
  if (auto it = send_.find(id); it != send_.end()) {
    it->second->error = Error{from_http3(code).value_or(0), "stopped by peer"};
    it->second->notify.notify_all();
  }
}

void WtConnection::on_stream_closed(int64_t id) {
  core_.stream_closed(static_cast<uint64_t>(id));
  if (auto it = send_.find(id); it != send_.end()) {
    it->second->notify.notify_all();
    send_.erase(it);
  }
  // A reader may still be draining its queue: it keeps its state.
  recv_.erase(id);
  handle_events();
}

void WtConnection::on_stream_writable(int64_t id) {
  if (auto it = send_.find(id); it != send_.end()) it->second->notify.notify_all();
}

void WtConnection::on_streams_available() {
  streams_available_.notify_all();
}

void WtConnection::on_closed(const quic::CloseInfo& info) {
  closed_ = true;
  end_session(error_from_close(info));
  // A session nobody took yet (open_session() still waiting) goes with us.
  accepted_.reset();
  for (auto& [id, st] : recv_) {
    if (!st->fin && !st->error) st->error = session_gone();
    st->notify.notify_all();
  }
  for (auto& [id, st] : send_) {
    if (!st->error) st->error = session_gone();
    st->notify.notify_all();
  }
  recv_.clear();
  send_.clear();
  streams_available_.notify_all();
  changed_.notify_all();
  // The QUIC connection lets go of us after this call: nothing else arrives.
}

void WtConnection::write_core_output() {
  for (Write& w : core_.poll_writes()) {
    const auto id = static_cast<int64_t>(w.stream_id);
    (void)conn_->write(id, Bytes(std::move(w.data)), w.fin);
  }
}

void WtConnection::handle_events() {
  for (Event& ev : core_.poll_events()) {
    std::visit(
        [this](auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, SettingsReceived>) {
            settings_ok_ = e.webtransport;
            changed_.notify_all();
          } else if constexpr (std::is_same_v<E, SessionRequested>) {
            const Answer answer = (session_id_ || !on_request_) ? Answer(429u) : on_request_(e);
            const uint32_t status = answer.status;
            if (status >= 200 && status < 300) {
              core_.accept(e.session_id, answer.protocol);
              session_id_ = e.session_id;
              conn_->set_priority(static_cast<int64_t>(e.session_id), kTopPriority);
              auto s = std::make_shared<WtSession>(shared_from_this(), e.session_id, e.path,
                                                   conn_->remote().address().to_string() + ":" +
                                                       std::to_string(conn_->remote().port()),
                                                   answer.protocol);
              session_ = s;
              write_core_output();
              if (on_session_) on_session_(s);
            } else {
              core_.reject(e.session_id, status);
            }
          } else if constexpr (std::is_same_v<E, SessionAccepted>) {
            // Created now, not when open_session() resumes: the server may
            // already have opened streams that arrive in this same batch.
            if (!session_id_) {
              session_id_ = e.session_id;
              std::string protocol;
              if (const std::string* chosen = h3::find_header(e.headers, kProtocolHeader)) {
                protocol = parse_protocol_item(*chosen).value_or("");
              }
              accepted_ =
                  std::make_shared<WtSession>(shared_from_this(), e.session_id, pending_path_,
                                              conn_->remote().address().to_string() + ":" +
                                                  std::to_string(conn_->remote().port()),
                                              std::move(protocol));
              session_ = accepted_;
            }
            changed_.notify_all();
          } else if constexpr (std::is_same_v<E, SessionRejected>) {
            rejected_status_ = e.status;
            changed_.notify_all();
          } else if constexpr (std::is_same_v<E, SessionClosed>) {
            end_session(e.code == 0 && e.reason.empty() ? Error::closed()
                                                        : Error{e.code, e.reason});
            close_connection_soon();
          } else if constexpr (std::is_same_v<E, SessionDraining>) {
            // Nothing to do: MoQ has its own GOAWAY.
          } else if constexpr (std::is_same_v<E, StreamOpened>) {
            route(e.stream_id, e.session_id, e.bidi, std::move(e.initial), e.fin);
          } else if constexpr (std::is_same_v<E, StreamData>) {
            // Only for streams the core still routes (none once opened).
            if (auto it = recv_.find(static_cast<int64_t>(e.stream_id)); it != recv_.end()) {
              if (!e.data.empty()) it->second->chunks.push_back(std::move(e.data));
              if (e.fin) it->second->fin = true;
              it->second->notify.notify_all();
            }
          } else if constexpr (std::is_same_v<E, StreamReset>) {
            if (auto it = recv_.find(static_cast<int64_t>(e.stream_id)); it != recv_.end()) {
              it->second->error = Error{e.code, "stream reset by peer"};
              it->second->notify.notify_all();
            }
          } else if constexpr (std::is_same_v<E, ResetStream>) {
            const auto id = static_cast<int64_t>(e.stream_id);
            const bool local =
                (core_.role() == Role::kServer) == h3::stream_id::is_server_initiated(e.stream_id);
            // A response already completed (e.g. a 405 whose STOP_SENDING made
            // the client reset its request) must still be delivered.
            if ((h3::stream_id::is_bidi(e.stream_id) || local) && !conn_->write_finished(id)) {
              conn_->reset_stream(id, e.h3_code);
            }
            if (h3::stream_id::is_bidi(e.stream_id) || !local) conn_->stop_sending(id, e.h3_code);
          } else if constexpr (std::is_same_v<E, StopSending>) {
            conn_->stop_sending(static_cast<int64_t>(e.stream_id), e.h3_code);
          } else if constexpr (std::is_same_v<E, GoawayReceived>) {
            // The peer stops accepting new sessions; ours goes on.
          } else if constexpr (std::is_same_v<E, ConnectionError>) {
            conn_->close(e.h3_code, e.reason);
          }
        },
        ev);
  }
  write_core_output();
  if (core_.buffered_stream_count() > 0) expire_buffered_streams_later();
}

// Streams for a session we do not know are held only briefly: its CONNECT
// may still be on the way, or it may never come.
void WtConnection::expire_buffered_streams_later() {
  if (buffer_timer_armed_) return;
  buffer_timer_armed_ = true;
  buffer_timer_.expires_after(kBufferedStreamWait);
  buffer_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->buffer_timer_armed_ = false;
    if (self->closed_) return;
    self->core_.reset_buffered_streams();
    self->handle_events();
  });
}

void WtConnection::route(uint64_t id, uint64_t session_id, bool bidi, Bytes initial, bool fin) {
  auto session = session_.lock();
  const auto sid = static_cast<int64_t>(id);
  if (!session || session->id() != session_id) {
    conn_->stop_sending(sid, kSessionGone);
    if (bidi) conn_->reset_stream(sid, kSessionGone);
    return;
  }
  auto st = recv_state(sid);
  st->preconsumed += initial.size();  // the core's input was consumed already
  if (!initial.empty()) st->chunks.push_back(std::move(initial));
  if (fin) st->fin = true;
  // The state travels with the stream: a short stream may be finished and
  // forgotten here before the application accepts it.
  session->incoming(sid, bidi, std::move(st));
}

std::shared_ptr<WtConnection::RecvState> WtConnection::recv_state(int64_t id) {
  auto& st = recv_[id];
  if (!st) st = std::make_shared<RecvState>();
  if (closed_ && !st->error && !st->fin) st->error = session_gone();
  return st;
}

std::shared_ptr<WtConnection::SendState> WtConnection::send_state(int64_t id) {
  auto& st = send_[id];
  if (!st) st = std::make_shared<SendState>();
  if (closed_ && !st->error) st->error = session_gone();
  return st;
}

Result<int64_t> WtConnection::open_stream(bool bidi) {
  if (closed_ || !session_id_) return session_gone();
  auto id = bidi ? conn_->open_bidi_stream() : conn_->open_uni_stream();
  if (!id) return id.error();
  // The header goes first so the peer can route the stream.
  std::vector<uint8_t> header = core_.open_stream(static_cast<uint64_t>(*id), *session_id_);
  if (header.empty()) return session_gone();
  (void)conn_->write(*id, Bytes(std::move(header)));
  return *id;
}

void WtConnection::end_session(Error why) {
  if (close_error_) return;
  close_error_ = why;
  if (auto s = session_.lock()) s->ended(std::move(why));
  changed_.notify_all();
}

void WtConnection::close_session(uint32_t code, std::string_view reason) {
  if (close_error_ || closed_) return;
  if (session_id_) core_.close_session(*session_id_, code, reason);
  write_core_output();
  end_session(code == 0 ? Error::closed() : Error{code, std::string(reason)});
  close_connection_soon();
}

// One session per connection: once it is over, the connection goes too, but
// only after the CLOSE capsule had its chance to arrive (a browser reports
// the capsule's code only if it sees it before CONNECTION_CLOSE).
void WtConnection::close_connection_soon() {
  if (close_deadline_) return;
  close_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  poll_close();
}

void WtConnection::poll_close() {
  if (closed_) return;
  const bool acked = !session_id_ || conn_->unacked_bytes(static_cast<int64_t>(*session_id_)) == 0;
  if (acked || std::chrono::steady_clock::now() > *close_deadline_) {
    conn_->close(h3::error::kNoError, "");
    return;
  }
  close_timer_.expires_after(std::chrono::milliseconds(20));
  close_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->poll_close();
  });
}

asio::awaitable<Result<std::shared_ptr<WtSession>>> WtConnection::open_session(
    std::string authority, std::string path, std::string origin,
    std::vector<std::string> protocols) {
  auto self = shared_from_this();
  // Wait for the QUIC handshake and the server's SETTINGS.
  while (!closed_ && !core_.peer_settings_received())
    co_await changed_.wait();
  if (closed_) co_return close_error_.value_or(session_gone());
  if (!settings_ok_) {
    conn_->close(h3::error::kNoError, "");
    co_return Error{code::kSession, "server does not support WebTransport"};
  }
  auto id = conn_->open_bidi_stream();
  if (!id) co_return id.error();
  conn_->set_priority(*id, kTopPriority);
  if (!core_.open_session(static_cast<uint64_t>(*id), authority, path, origin, protocols)) {
    co_return Error{code::kSession, "cannot send the WebTransport CONNECT"};
  }
  write_core_output();
  pending_path_ = path;
  while (!closed_ && !rejected_status_ && !accepted_) {
    co_await changed_.wait();
  }
  if (rejected_status_) {
    conn_->close(h3::error::kNoError, "");
    co_return Error{*rejected_status_ == 404 ? code::kNotFound : code::kSession,
                    "server answered HTTP " + std::to_string(*rejected_status_)};
  }
  // Taken out before anything else: the session holds this connection, so
  // keeping it here after a failure would keep both alive forever.
  auto session = std::move(accepted_);
  if (closed_ || !session) co_return close_error_.value_or(session_gone());
  co_return session;
}

// ---------------------------------------------------------------- WtSession

WtSession::WtSession(std::shared_ptr<WtConnection> conn, uint64_t id, std::string path,
                     std::string peer, std::string protocol)
    : conn_(std::move(conn)),
      id_(id),
      path_(std::move(path)),
      peer_(std::move(peer)),
      protocol_(std::move(protocol)) {
  if (const size_t q = path_.find('?'); q != std::string::npos) {
    query_ = path_.substr(q + 1);
    path_.resize(q);
  }
}

WtSession::~WtSession() {
  // Dropped by the application while still open: end it cleanly.
  if (!close_error_) conn_->close_session(0, "");
}

transport::BidiStream WtSession::make_bidi(int64_t stream_id) {
  return {make_send(stream_id), make_recv(stream_id, conn_->recv_state(stream_id))};
}

std::shared_ptr<transport::SendStream> WtSession::make_send(int64_t stream_id) {
  return std::make_shared<WtSendStream>(conn_, stream_id, conn_->send_state(stream_id));
}

std::shared_ptr<transport::RecvStream> WtSession::make_recv(
    int64_t stream_id, std::shared_ptr<WtConnection::RecvState> state) {
  return std::make_shared<WtRecvStream>(conn_, stream_id, std::move(state));
}

void WtSession::incoming(int64_t stream_id, bool bidi,
                         std::shared_ptr<WtConnection::RecvState> state) {
  (bidi ? incoming_bidi_ : incoming_uni_).push_back({stream_id, std::move(state)});
  incoming_notify_.notify_all();
}

void WtSession::ended(Error why) {
  if (close_error_) return;
  close_error_ = std::move(why);
  closed_notify_.notify_all();
  incoming_notify_.notify_all();
}

asio::awaitable<Result<transport::BidiStream>> WtSession::open_bidi() {
  auto self = shared_from_this();
  for (;;) {
    if (close_error_) co_return *close_error_;
    auto id = conn_->open_stream(true);
    if (id) co_return make_bidi(*id);
    if (conn_->closed()) co_return id.error();
    // Out of stream credit: wait for the peer to raise the limit.
    const bool woke = co_await conn_->streams_available_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

asio::awaitable<Result<std::shared_ptr<transport::SendStream>>> WtSession::open_uni() {
  auto self = shared_from_this();
  for (;;) {
    if (close_error_) co_return *close_error_;
    auto id = conn_->open_stream(false);
    if (id) co_return make_send(*id);
    if (conn_->closed()) co_return id.error();
    const bool woke = co_await conn_->streams_available_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

asio::awaitable<Result<transport::BidiStream>> WtSession::accept_bidi() {
  auto self = shared_from_this();
  while (incoming_bidi_.empty()) {
    if (close_error_) co_return *close_error_;
    const bool woke = co_await incoming_notify_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
  auto [id, state] = std::move(incoming_bidi_.front());
  incoming_bidi_.pop_front();
  co_return transport::BidiStream{make_send(id), make_recv(id, std::move(state))};
}

asio::awaitable<Result<std::shared_ptr<transport::RecvStream>>> WtSession::accept_uni() {
  auto self = shared_from_this();
  while (incoming_uni_.empty()) {
    if (close_error_) co_return *close_error_;
    const bool woke = co_await incoming_notify_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
  auto [id, state] = std::move(incoming_uni_.front());
  incoming_uni_.pop_front();
  co_return make_recv(id, std::move(state));
}

void WtSession::close(uint32_t code, std::string_view reason) {
  conn_->close_session(code, reason);
}

asio::awaitable<Error> WtSession::closed() {
  auto self = shared_from_this();
  while (!close_error_) {
    const bool woke = co_await closed_notify_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
  co_return *close_error_;
}

}  // namespace moq::wt
