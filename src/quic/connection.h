#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <asio.hpp>

#include "coding/bytes.h"
#include "coding/result.h"
#include "quic/config.h"
#include "quic/send_buffer.h"
#include "quic/tls_session.h"
#include "quic/udp_io.h"

namespace moq::quic {

class Endpoint;

// How a connection ended, as the application sees it.
struct CloseInfo {
  enum class Kind {
    kApplication,  // CONNECTION_CLOSE with an application error code
    kTransport,    // CONNECTION_CLOSE with a transport error code
    kIdle,         // idle timeout (or handshake timeout): silently dropped
    kLocal,        // closed by this side
  };
  Kind kind = Kind::kLocal;
  uint64_t code = 0;
  std::string reason;
  bool remote = false;  // the peer sent the CONNECTION_CLOSE
};

// Events of a connection. Delivered on the connection's executor after
// ngtcp2 has returned (never from inside an ngtcp2 callback), so a handler may
// call any Connection method.
//
// Ownership rule: the connection owns its handler (a shared_ptr) and keeps it
// alive while it delivers events. Once the connection has decided to close
// (a local close(), a fatal error, the peer's CONNECTION_CLOSE, a timeout),
// on_closed is the last event the handler sees: events queued after that
// decision, or still queued when the handler itself closed, are dropped. Then
// the connection lets go of the handler.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_handshake_done() = 0;
  // Bytes of a stream in order; `fin` on the last chunk (data may be empty).
  // Flow-control credit returns only through Connection::consume().
  virtual void on_stream_data(int64_t stream_id, Bytes data, bool fin) = 0;
  // The peer reset its sending side (RESET_STREAM) with an application code.
  virtual void on_stream_reset(int64_t stream_id, uint64_t code) = 0;
  // The peer asked us to stop sending (STOP_SENDING). ngtcp2 reports no event
  // for the frame itself: it is learnt when next writing to the stream (code
  // unknown, reported as 0) or when the stream closes (with the peer's code).
  virtual void on_stop_sending(int64_t stream_id, uint64_t code) = 0;
  // Both directions of the stream are finished; its id is free.
  virtual void on_stream_closed(int64_t stream_id) = 0;
  // Unacknowledged bytes of a stream fell to the low-water mark.
  virtual void on_stream_writable(int64_t stream_id) = 0;
  // The peer allowed more local streams (after open_*_stream failed).
  virtual void on_streams_available() = 0;
  // The connection is gone; no event follows.
  virtual void on_closed(const CloseInfo& info) = 0;
};

// One QUIC connection, driven by ngtcp2. Sans-IO at heart (packets in via
// on_datagram, out via the endpoint's socket), single-threaded: every call
// happens on the endpoint's io_context.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Unacknowledged bytes per stream under which on_stream_writable fires.
  static constexpr uint64_t kLowWater = 256 * 1024;

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Installs the handler of this connection's events (see ConnectionHandler
  // for the ownership rule). Null detaches it.
  void set_handler(std::shared_ptr<ConnectionHandler> handler) { handler_ = std::move(handler); }
  bool is_server() const { return server_; }
  bool is_handshake_done() const { return handshake_done_; }
  bool is_closed() const { return state_ == State::kClosed; }
  const asio::ip::udp::endpoint& remote() const { return remote_; }
  asio::any_io_executor executor() const;
  // SNI the client asked for (server side).
  std::string server_name() const { return tls_.server_name(); }

  // Opens a local stream; kUnsupported... errors when the peer's limit is
  // reached (wait for on_streams_available).
  Result<int64_t> open_bidi_stream();
  Result<int64_t> open_uni_stream();

  // Queues bytes on a stream (shared, not copied); `fin` ends it.
  Result<void> write(int64_t stream_id, Bytes data, bool fin = false);
  Result<void> finish(int64_t stream_id) { return write(stream_id, Bytes(), true); }
  // Larger goes first when congestion or flow control limits sending.
  void set_priority(int64_t stream_id, int64_t priority);
  // The application is done with `n` received bytes of a stream: the peer may
  // send that much more (stream and connection flow control).
  void consume(int64_t stream_id, uint64_t n);
  // RESET_STREAM with an application code (our sending side).
  void reset_stream(int64_t stream_id, uint64_t code);
  // STOP_SENDING with an application code (the peer's sending side).
  void stop_sending(int64_t stream_id, uint64_t code);
  uint64_t unacked_bytes(int64_t stream_id) const;
  // True once a FIN was queued or the stream was reset.
  bool write_finished(int64_t stream_id) const;

  // CONNECTION_CLOSE with an application error code and reason.
  void close(uint64_t app_code, std::string_view reason);
  // The endpoint is going away: report the connection closed at once,
  // without a word to the peer.
  void abandon();

  // Counters for tests and logs.
  struct Stats {
    uint64_t packets_sent = 0;
    uint64_t packets_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
  };
  const Stats& stats() const { return stats_; }
  // What congestion control knows now (for /metrics); zeros before the
  // handshake started.
  struct PathInfo {
    uint64_t smoothed_rtt_ns = 0;
    uint64_t min_rtt_ns = 0;
    uint64_t cwnd = 0;
    uint64_t bytes_in_flight = 0;
    uint64_t max_udp_payload = 0;  // what Path MTU Discovery has confirmed so far
  };
  PathInfo path_info() const;

 private:
  friend class Endpoint;
  struct Stream {
    int64_t id = 0;
    int64_t priority = 0;
    SendBuffer send;
    bool fin_requested = false;
    bool fin_sent = false;
    bool data_blocked = false;  // flow control: waits for extend_max_stream_data
    bool write_shut = false;    // reset or closed: nothing more is sent
    bool above_low_water = false;
    uint64_t queued_at = 0;  // recency for round-robin within a priority
    bool queued = false;
  };
  enum class State { kHandshake, kOpen, kClosing, kDraining, kClosed };

  Connection(Endpoint& endpoint, bool server, const asio::ip::udp::endpoint& remote);

  // Set-up, called by the Endpoint.
  Result<void> init_server(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path,
                           const QuicConfig& config, const ngtcp2_cid& scid);
  Result<void> init_client(const ngtcp2_path& path, const QuicConfig& config,
                           const ngtcp2_cid& scid, const ngtcp2_cid& dcid);
  void attach_tls(TlsSession session);
  ngtcp2_crypto_conn_ref* conn_ref() { return &conn_ref_; }

  // Packet in, from the endpoint.
  void on_datagram(const ngtcp2_path& path, std::span<const uint8_t> packet);
  // Write every packet ngtcp2 lets us and re-arm the timer.
  void flush();
  void schedule_flush();
  void arm_timer();
  void on_timer();

  Stream* find_stream(int64_t id);
  Stream& stream_for(int64_t id);
  void enqueue(Stream& s);
  void dequeue(Stream& s);
  Stream* next_stream();
  void send_packet(const uint8_t* data, size_t len);
  void enter_closing(const ngtcp2_ccerr& ccerr);
  void enter_draining();
  void handle_error(int liberr);
  void linger();
  void notify_closed(CloseInfo info);
  void finish_close();
  CloseInfo remote_close_info();

  // What the handler hears, queued during ngtcp2 callbacks and delivered
  // after ngtcp2 returned (see ConnectionHandler for the ownership rule).
  struct Event {
    enum class Type : uint8_t {
      kHandshakeDone,
      kStreamData,
      kStreamReset,
      kStopSending,
      kStreamClosed,
      kStreamWritable,
      kStreamsAvailable,
      kClosed,
    };
    explicit Event(Type t, int64_t id = -1, uint64_t c = 0) : type(t), stream_id(id), code(c) {}
    Event(int64_t id, Bytes d, bool f)
        : type(Type::kStreamData), stream_id(id), fin(f), data(std::move(d)) {}
    Type type;
    int64_t stream_id = -1;
    uint64_t code = 0;
    bool fin = false;
    Bytes data;
  };
  void post_event(Event event);
  void dispatch_events();

  // ngtcp2 callbacks (static trampolines in connection.cpp call these).
  friend struct Callbacks;
  int on_recv_stream_data(uint32_t flags, int64_t id, const uint8_t* data, size_t len);
  int on_acked(int64_t id, uint64_t len);
  int on_stream_close(uint32_t flags, int64_t id, uint64_t code);
  int on_stream_reset_cb(int64_t id, uint64_t code);
  int on_extend_max_stream_data(int64_t id);
  int on_handshake_completed();
  int on_new_cid(ngtcp2_cid* cid, uint8_t* token, size_t cidlen);
  int on_remove_cid(const ngtcp2_cid* cid);

  Endpoint& endpoint_;
  bool server_;
  asio::ip::udp::endpoint remote_;
  UdpAddress remote_address_;  // remote_ as the send syscalls take it
  State state_ = State::kHandshake;
  ngtcp2_conn* conn_ = nullptr;
  ngtcp2_crypto_conn_ref conn_ref_{};
  TlsSession tls_;
  std::shared_ptr<ConnectionHandler> handler_;
  // The endpoint's deadline heap wakes us (on_timer) at timer_deadline_;
  // a newer generation makes older wake-ups void.
  uint64_t timer_deadline_ = UINT64_MAX;
  uint64_t timer_generation_ = 0;
  uint64_t linger_deadline_ = 0;  // closing/draining: when to go
  bool flush_scheduled_ = false;
  bool handshake_done_ = false;
  bool close_notified_ = false;  // the decision to close was taken
  bool dispatching_ = false;     // dispatch_events() is on the stack
  CloseInfo close_info_;         // what on_closed will say

  std::unordered_map<int64_t, Stream> streams_;
  // Streams with bytes (or a FIN) to send: a binary heap on (priority, then
  // oldest recency first), without a node allocation per enqueue. Entries of
  // streams that left the queue stay until they reach the top (a stream's
  // queued_at names its one valid entry); the heap is rebuilt when stale
  // entries pile up.
  struct QueueEntry {
    int64_t priority;
    uint64_t recency;
    int64_t id;
    // std::push_heap builds a max-heap: "less" means "sent later".
    bool operator<(const QueueEntry& o) const {
      return priority != o.priority ? priority < o.priority : recency > o.recency;
    }
  };
  std::vector<QueueEntry> send_queue_;
  size_t queued_streams_ = 0;
  bool queue_has_work() const { return queued_streams_ > 0; }
  uint64_t recency_ = 0;

  std::deque<Event> events_;           // gathered during callbacks
  std::vector<uint8_t> close_packet_;  // saved CONNECTION_CLOSE
  std::vector<ngtcp2_cid> cids_;       // our CIDs, registered with the endpoint
  bool streams_wanted_ = false;        // an open_*_stream hit the limit
  Stats stats_;
};

// Nanoseconds on the clock ngtcp2 timestamps use.
uint64_t now_ns();

}  // namespace moq::quic
