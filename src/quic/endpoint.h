#pragma once

#include <array>
#include <cstdint>
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

namespace moq::quic {

class TlsServerContext;
class TlsClientContext;

// One UDP socket and the QUIC connections behind it, server and/or client.
//
// Datagrams are routed by destination connection ID; an Initial packet for an
// unknown ID becomes a new server connection (when a TLS server context was
// given). The socket is dual-stack when bound to [::], so IPv4 peers arrive as
// IPv4-mapped addresses. Everything runs on one io_context thread.
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
  const QuicConfig& config() const { return config_; }

  // Closes every connection (application code `code`) and stops reading.
  void shutdown(uint64_t code = 0, std::string_view reason = "shutdown");

  // Datagrams that could not be parsed or routed (for tests and logs).
  uint64_t dropped_datagrams() const { return dropped_; }

 private:
  friend class Connection;
  Endpoint(asio::io_context& io, QuicConfig config, const TlsServerContext* server_tls);

  void start_receive();
  void on_readable();
  void accept(std::span<const uint8_t> data, const ngtcp2_pkt_hd& hd,
              const asio::ip::udp::endpoint& from);
  void send_version_negotiation(const ngtcp2_version_cid& vc, const asio::ip::udp::endpoint& to);
  void make_path(ngtcp2_path_storage& ps, const asio::ip::udp::endpoint& remote) const;

  // For connections.
  bool send_to(const asio::ip::udp::endpoint& to, const uint8_t* data, size_t len);
  void register_cid(const ngtcp2_cid& cid, std::shared_ptr<Connection> conn);
  void unregister_cid(const ngtcp2_cid& cid);
  void reset_token(uint8_t* token, const ngtcp2_cid& cid) const;
  void remove(const std::shared_ptr<Connection>& conn);

  static std::string key(const ngtcp2_cid& cid) {
    return std::string(reinterpret_cast<const char*>(cid.data), cid.datalen);
  }

  asio::any_io_executor executor_;
  asio::ip::udp::socket socket_;
  QuicConfig config_;
  const TlsServerContext* server_tls_;
  AcceptHandler accept_;
  DatagramSink sink_;  // set: no socket
  asio::ip::udp::endpoint local_;
  std::array<uint8_t, 32> reset_secret_{};
  std::unordered_map<std::string, std::weak_ptr<Connection>> by_cid_;
  std::unordered_set<std::shared_ptr<Connection>> connections_;
  bool receiving_ = false;
  bool stopped_ = false;
  uint64_t dropped_ = 0;
};

// Our connection IDs are all this long, so short-header packets can be routed.
inline constexpr size_t kCidLength = 18;

}  // namespace moq::quic
