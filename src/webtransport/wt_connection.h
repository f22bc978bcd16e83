#pragma once

// The glue between a QUIC connection (src/quic) and the sans-IO WebTransport
// core (connection.h): bytes from ngtcp2 go into the core, the core's writes
// go out on QUIC streams, and its events become a transport::Session with
// awaitable streams. One WtConnection per QUIC connection, carrying at most
// one WebTransport session (as everyone in this ecosystem does).

#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "async/notify.h"
#include "quic/connection.h"
#include "transport/transport.h"
#include "webtransport/connection.h"

namespace moq::wt {

class WtSession;

class WtConnection : public quic::ConnectionHandler,
                     public std::enable_shared_from_this<WtConnection> {
 public:
  // Server: decides per request. Return 200 to accept, or an HTTP error
  // status (e.g. 404) to refuse. Accepted sessions go to on_session.
  struct Answer {
    Answer(uint32_t s) : status(s) {}  // NOLINT: a bare status is an answer
    Answer(uint32_t s, std::string p) : status(s), protocol(std::move(p)) {}
    uint32_t status;
    std::string protocol;  // 2xx: the wt-protocol chosen (empty: none)
  };
  using RequestHandler = std::function<Answer(const SessionRequested&)>;
  using SessionHandler = std::function<void(std::shared_ptr<WtSession>)>;

  // Attaches to `conn` as its event handler; the QUIC connection owns it
  // until it has reported its close.
  static std::shared_ptr<WtConnection> attach_server(std::shared_ptr<quic::Connection> conn,
                                                     RequestHandler on_request,
                                                     SessionHandler on_session);
  static std::shared_ptr<WtConnection> attach_client(std::shared_ptr<quic::Connection> conn);

  // Client: after the QUIC handshake and the server's SETTINGS, sends the
  // CONNECT and waits for the answer.
  // `protocols` go in wt-available-protocols; the server's choice is the
  // session's protocol().
  asio::awaitable<Result<std::shared_ptr<WtSession>>> open_session(
      std::string authority, std::string path, std::string origin = {},
      std::vector<std::string> protocols = {});

  quic::Connection& quic() { return *conn_; }
  bool closed() const { return closed_; }

  // ---- used by WtSession and its streams ----
  struct RecvState {
    std::deque<Bytes> chunks;
    bool fin = false;
    std::optional<Error> error;
    async::Notify notify;
    uint64_t preconsumed = 0;  // queued bytes whose credit was returned already
    // Credit to return for `n` bytes leaving the queue.
    uint64_t take_credit(uint64_t n) {
      const uint64_t already = std::min(n, preconsumed);
      preconsumed -= already;
      return n - already;
    }
  };
  struct SendState {
    std::optional<Error> error;
    async::Notify notify;  // drained / failed
  };
  std::shared_ptr<RecvState> recv_state(int64_t id);
  std::shared_ptr<SendState> send_state(int64_t id);
  Result<int64_t> open_stream(bool bidi);
  void write_core_output();
  void close_session(uint32_t code, std::string_view reason);
  async::Notify& changed() { return changed_; }

 private:
  WtConnection(std::shared_ptr<quic::Connection> conn, Role role);

  // quic::ConnectionHandler
  void on_handshake_done() override;
  void on_stream_data(int64_t id, Bytes data, bool fin) override;
  void on_stream_reset(int64_t id, uint64_t code) override;
  void on_stop_sending(int64_t id, uint64_t code) override;
  void on_stream_closed(int64_t id) override;
  void on_stream_writable(int64_t id) override;
  void on_streams_available() override;
  void on_closed(const quic::CloseInfo& info) override;

  void handle_events();
  void route(uint64_t id, uint64_t session_id, bool bidi, Bytes initial, bool fin);
  void end_session(Error why);
  void close_connection_soon();
  void poll_close();
  void expire_buffered_streams_later();

  std::shared_ptr<quic::Connection> conn_;
  Connection core_;
  RequestHandler on_request_;
  SessionHandler on_session_;
  std::weak_ptr<WtSession> session_;  // owned by the application
  std::optional<uint64_t> session_id_;
  std::optional<uint32_t> rejected_status_;
  std::shared_ptr<WtSession> accepted_;  // client: until open_session() hands it out
  std::string pending_path_;
  bool settings_ok_ = false;
  bool buffer_timer_armed_ = false;
  bool closed_ = false;
  std::optional<Error> close_error_;
  std::unordered_map<int64_t, std::shared_ptr<RecvState>> recv_;
  std::unordered_map<int64_t, std::shared_ptr<SendState>> send_;
  async::Notify changed_;  // handshake, settings, session answer, close
  async::Notify streams_available_;
  asio::steady_timer close_timer_;
  asio::steady_timer buffer_timer_;
  std::optional<std::chrono::steady_clock::time_point> close_deadline_;
  friend class WtSession;
};

// A WebTransport session as the MoQ layer sees it.
class WtSession : public transport::Session, public std::enable_shared_from_this<WtSession> {
 public:
  WtSession(std::shared_ptr<WtConnection> conn, uint64_t id, std::string path, std::string peer,
            std::string protocol = {});

  asio::awaitable<Result<transport::BidiStream>> open_bidi() override;
  asio::awaitable<Result<std::shared_ptr<transport::SendStream>>> open_uni() override;
  asio::awaitable<Result<transport::BidiStream>> accept_bidi() override;
  asio::awaitable<Result<std::shared_ptr<transport::RecvStream>>> accept_uni() override;
  void close(uint32_t code, std::string_view reason) override;
  asio::awaitable<Error> closed() override;
  bool is_closed() const override { return close_error_.has_value(); }
  // The CONNECT's :path without its query; the query (e.g. "jwt=...") apart.
  std::string path() const override { return path_; }
  const std::string& query() const { return query_; }
  std::string peer() const override { return peer_; }
  std::string protocol() const override { return protocol_; }

  uint64_t id() const { return id_; }
  ~WtSession() override;

 private:
  friend class WtConnection;
  transport::BidiStream make_bidi(int64_t stream_id);
  std::shared_ptr<transport::SendStream> make_send(int64_t stream_id);
  std::shared_ptr<transport::RecvStream> make_recv(int64_t stream_id,
                                                   std::shared_ptr<WtConnection::RecvState> state);
  void incoming(int64_t stream_id, bool bidi, std::shared_ptr<WtConnection::RecvState> state);
  void ended(Error why);

  std::shared_ptr<WtConnection> conn_;
  uint64_t id_;
  std::string path_;
  std::string query_;
  std::string peer_;
  std::string protocol_;
  using Incoming = std::pair<int64_t, std::shared_ptr<WtConnection::RecvState>>;
  std::deque<Incoming> incoming_uni_;
  std::deque<Incoming> incoming_bidi_;
  async::Notify incoming_notify_;
  std::optional<Error> close_error_;
  async::Notify closed_notify_;
};

}  // namespace moq::wt
