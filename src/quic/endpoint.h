#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <ngtcp2/ngtcp2.h>
#include <asio.hpp>

#include "coding/result.h"
#include "quic/config.h"
#include "quic/connection.h"
#include "quic/udp_io.h"

namespace moq::quic {

class TlsServerContext;
class TlsClientContext;

// One UDP socket and the QUIC connections behind it, server and/or client.
//
// Datagrams are routed by destination connection ID; an Initial packet for an
// unknown ID becomes a new server connection (when a TLS server context was
// given). The socket is dual-stack when bound to [::], so IPv4 peers arrive as
// IPv4-mapped addresses. Everything runs on one io_context thread.
//
// I/O is batched: datagrams arrive through recvmmsg (UDP GRO where the kernel
// offers it), and what the connections write during one event-loop pass
// leaves in one sendmmsg, each connection's burst to its peer as one UDP GSO
// train. The connections' timers share one deadline heap and one Asio timer.
//
// Workers: a relay runs one endpoint per thread on the same port
// (SO_REUSEPORT). Each endpoint's connection IDs start with a byte equal to
// its worker index modulo the worker count, and a BPF program on the socket
// group steers every datagram to the worker that owns its connection ID.
class Endpoint : public std::enable_shared_from_this<Endpoint> {
 public:
  using AcceptHandler = std::function<void(std::shared_ptr<Connection>)>;
  // Where datagrams go when the endpoint has no socket; false if dropped.
  using DatagramSink =
      std::function<bool(const asio::ip::udp::endpoint& to, std::span<const uint8_t> datagram)>;

  // Binds the socket. `server_tls` may be null for a client-only endpoint; it
  // must outlive the endpoint otherwise.
  static Result<std::shared_ptr<Endpoint>> bind(asio::io_context& io,
                                                const asio::ip::udp::endpoint& local,
                                                QuicConfig config,
                                                const TlsServerContext* server_tls = nullptr);
  // Worker `index` of `workers` endpoints sharing `local`'s port (bind them
  // in index order; the last one installs the steering program).
  static Result<std::shared_ptr<Endpoint>> bind_worker(asio::io_context& io,
                                                       const asio::ip::udp::endpoint& local,
                                                       QuicConfig config,
                                                       const TlsServerContext* server_tls,
                                                       unsigned index, unsigned workers);
  // An endpoint without a socket, for tests and fuzzing: it sends through
  // `sink` and receives what is handed to receive(). `local` is the address
  // it claims to have.
  static std::shared_ptr<Endpoint> create_detached(asio::io_context& io,
                                                   const asio::ip::udp::endpoint& local,
                                                   QuicConfig config,
                                                   const TlsServerContext* server_tls,
                                                   DatagramSink sink);
  ~Endpoint();

  // A datagram from `from` (the socket's receive loop calls this too).
  void receive(std::span<const uint8_t> datagram, const asio::ip::udp::endpoint& from);

  // Called with each new server connection, before its handshake completes,
  // so the handler can be installed before any stream event.
  void on_accept(AcceptHandler handler) { accept_ = std::move(handler); }

  // Starts a client connection to `remote`, verifying the server as
  // `server_name` with `tls` (which must outlive the connection).
  Result<std::shared_ptr<Connection>> connect(const asio::ip::udp::endpoint& remote,
                                              const std::string& server_name,
                                              const TlsClientContext& tls);

  asio::ip::udp::endpoint local_endpoint() const;
  asio::any_io_executor executor() const { return executor_; }
  size_t connection_count() const { return connections_.size(); }
  // Calls `f` with every connection this endpoint holds (open or closing).
  template <class F>
  void for_each_connection(F&& f) const {
    for (const auto& c : connections_)
      f(*c);
  }
  const QuicConfig& config() const { return config_; }

  // Closes every connection (application code `code`) and stops reading.
  void shutdown(uint64_t code = 0, std::string_view reason = "shutdown");

  // Datagrams that could not be parsed or routed (for tests and logs).
  uint64_t dropped_datagrams() const { return dropped_; }
  // Packets carrying stream data that loss recovery declared lost (spurious
  // losses included), added up per stream when the stream closes: a packet
  // with frames of several streams counts once per stream. ngtcp2 1.11 has
  // no per-connection loss counter.
  uint64_t stream_packets_lost() const { return stream_packets_lost_; }
  const UdpStats& udp_stats() const { return udp_stats_; }
  bool gso() const { return tx_.gso(); }

 private:
  friend class Connection;
  Endpoint(asio::io_context& io, QuicConfig config, const TlsServerContext* server_tls);
  static Result<std::shared_ptr<Endpoint>> open(asio::io_context& io,
                                                const asio::ip::udp::endpoint& local,
                                                QuicConfig config,
                                                const TlsServerContext* server_tls, unsigned index,
                                                unsigned workers);

  void start_receive();
  void on_readable();
  void accept(std::span<const uint8_t> data, const ngtcp2_pkt_hd& hd,
              const asio::ip::udp::endpoint& from);
  void send_version_negotiation(const ngtcp2_version_cid& vc, const asio::ip::udp::endpoint& to);
  void make_path(ngtcp2_path_storage& ps, const asio::ip::udp::endpoint& remote) const;

  // ---- for connections ----
  // Room for a train of packets to send this pass (at least `min` bytes);
  // what is written there goes with tx_commit().
  std::span<uint8_t> tx_reserve(size_t min);
  void tx_commit(const UdpAddress& to, size_t len, size_t segment);
  void send_to(const UdpAddress& to, const uint8_t* data, size_t len);
  // A fresh connection ID of ours (its first byte names this worker).
  ngtcp2_cid new_cid() const;
  void register_cid(const ngtcp2_cid& cid, Connection* conn);
  void unregister_cid(const ngtcp2_cid& cid);
  void reset_token(uint8_t* token, const ngtcp2_cid& cid) const;
  void remove(const std::shared_ptr<Connection>& conn);
  // Calls conn->on_timer() at `deadline` (ngtcp2 timestamp) unless the
  // connection set a newer deadline meanwhile (`generation`).
  void schedule(const std::shared_ptr<Connection>& conn, uint64_t deadline, uint64_t generation);

  // Flushes `conn` later in this event-loop pass, in one handler with every
  // other connection that asked (one posted handler per pass, not one per
  // connection: a fan-out touches hundreds of connections per frame).
  void request_flush(std::shared_ptr<Connection> conn);
  void run_flushes();

  void flush_tx();
  void on_timers();
  void arm_timer();

  // Connection IDs as fixed-size keys: no allocation per datagram.
  struct CidKey {
    uint8_t length = 0;
    std::array<uint8_t, NGTCP2_MAX_CIDLEN> bytes{};
    explicit CidKey(const uint8_t* data, size_t len) : length(static_cast<uint8_t>(len)) {
      std::memcpy(bytes.data(), data, std::min<size_t>(len, bytes.size()));
    }
    bool operator==(const CidKey& o) const {
      return length == o.length && std::memcmp(bytes.data(), o.bytes.data(), length) == 0;
    }
  };
  struct CidHash {
    size_t operator()(const CidKey& k) const {
      // Our IDs are random; the first 8 bytes (FNV-mixed with the length
      // for short foreign ones) spread well.
      uint64_t h = 1469598103934665603ull ^ k.length;
      for (size_t i = 0; i < std::min<size_t>(k.length, 8); ++i)
        h = (h ^ k.bytes[i]) * 1099511628211ull;
      return static_cast<size_t>(h);
    }
  };
  struct TimerEntry {
    uint64_t deadline;
    uint64_t generation;
    std::weak_ptr<Connection> conn;
    bool operator>(const TimerEntry& o) const { return deadline > o.deadline; }
  };

  asio::any_io_executor executor_;
  asio::ip::udp::socket socket_;
  QuicConfig config_;
  const TlsServerContext* server_tls_;
  AcceptHandler accept_;
  DatagramSink sink_;  // set: no socket
  asio::ip::udp::endpoint local_;
  std::array<uint8_t, 32> reset_secret_{};
  // Routing: a connection unregisters its IDs before it is removed.
  std::unordered_map<CidKey, Connection*, CidHash> by_cid_;
  std::unordered_set<std::shared_ptr<Connection>> connections_;
  unsigned worker_ = 0;
  unsigned workers_ = 1;
  bool receiving_ = false;
  bool stopped_ = false;
  uint64_t dropped_ = 0;
  uint64_t stream_packets_lost_ = 0;

  RxBatch rx_;
  TxQueue tx_;
  UdpStats udp_stats_;
  bool tx_flush_posted_ = false;
  std::vector<std::shared_ptr<Connection>> flush_requests_;
  std::vector<std::shared_ptr<Connection>> flushing_;  // scratch of run_flushes()
  bool flushes_posted_ = false;
  bool tx_blocked_ = false;  // the socket is full: waiting to be writable

  std::vector<TimerEntry> timers_;  // min-heap on deadline
  std::vector<TimerEntry> due_;     // scratch of on_timers()
  asio::steady_timer timer_;
  uint64_t timer_armed_ = UINT64_MAX;
};

// Our connection IDs are all this long, so short-header packets can be routed.
inline constexpr size_t kCidLength = 18;

}  // namespace moq::quic
