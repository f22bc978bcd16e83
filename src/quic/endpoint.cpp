#include "quic/endpoint.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quic/tls_client.h"
#include "quic/tls_server.h"

namespace moq::quic {
namespace {

ngtcp2_cid random_cid() {
  ngtcp2_cid cid;
  cid.datalen = kCidLength;
  gnutls_rnd(GNUTLS_RND_RANDOM, cid.data, cid.datalen);
  return cid;
}

}  // namespace

Endpoint::Endpoint(asio::io_context& io, QuicConfig config, const TlsServerContext* server_tls)
    : executor_(io.get_executor()), socket_(io), config_(config), server_tls_(server_tls) {
  gnutls_rnd(GNUTLS_RND_RANDOM, reset_secret_.data(), reset_secret_.size());
}

Endpoint::~Endpoint() {
  // Whoever still holds a connection learns that it is gone.
  auto remaining = std::move(connections_);
  for (const auto& c : remaining)
    c->abandon();
  asio::error_code ec;
  socket_.close(ec);
}

Result<std::shared_ptr<Endpoint>> Endpoint::bind(asio::io_context& io,
                                                 const asio::ip::udp::endpoint& local,
                                                 QuicConfig config,
                                                 const TlsServerContext* server_tls) {
  std::shared_ptr<Endpoint> ep(new Endpoint(io, config, server_tls));
  asio::error_code ec;
  ep->socket_.open(local.protocol(), ec);
  if (!ec && local.address().is_v6()) {
    // Dual-stack: Chromium resolves localhost to ::1 first, others use IPv4.
    ep->socket_.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) ep->socket_.bind(local, ec);
  if (!ec) ep->socket_.non_blocking(true, ec);
  if (ec) {
    return Error{code::kSession, "cannot bind UDP " + local.address().to_string() + ":" +
                                     std::to_string(local.port()) + ": " + ec.message()};
  }
  // Large socket buffers absorb bursts of media (best effort: the kernel caps them).
  ep->socket_.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024), ec);
  ep->socket_.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024), ec);
  ep->local_ = ep->socket_.local_endpoint(ec);
  ep->start_receive();
  return ep;
}

std::shared_ptr<Endpoint> Endpoint::create_detached(asio::io_context& io,
                                                    const asio::ip::udp::endpoint& local,
                                                    QuicConfig config,
                                                    const TlsServerContext* server_tls,
                                                    DatagramSink sink) {
  std::shared_ptr<Endpoint> ep(new Endpoint(io, config, server_tls));
  ep->local_ = local;
  ep->sink_ = std::move(sink);
  return ep;
}

asio::ip::udp::endpoint Endpoint::local_endpoint() const {
  return local_;
}

void Endpoint::make_path(ngtcp2_path_storage& ps, const asio::ip::udp::endpoint& remote) const {
  ngtcp2_path_storage_init(&ps, reinterpret_cast<const ngtcp2_sockaddr*>(local_.data()),
                           static_cast<ngtcp2_socklen>(local_.size()),
                           reinterpret_cast<const ngtcp2_sockaddr*>(remote.data()),
                           static_cast<ngtcp2_socklen>(remote.size()), nullptr);
}

// ---------------------------------------------------------------- receive

void Endpoint::start_receive() {
  if (receiving_ || stopped_) return;
  receiving_ = true;
  socket_.async_wait(asio::socket_base::wait_read,
                     [weak = weak_from_this()](const asio::error_code& ec) {
                       auto self = weak.lock();
                       if (!self) return;
                       self->receiving_ = false;
                       if (ec || self->stopped_) return;
                       self->on_readable();
                       self->start_receive();
                     });
}

void Endpoint::on_readable() {
  // Drain a batch; each touched connection flushes once afterwards (its
  // flush is posted, so many datagrams share one write pass).
  std::array<uint8_t, 65536> buf;
  for (int i = 0; i < 64; ++i) {
    asio::ip::udp::endpoint from;
    asio::error_code ec;
    const size_t n = socket_.receive_from(asio::buffer(buf), from, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) continue;  // e.g. ICMP port unreachable surfaced as an error
    receive(std::span<const uint8_t>(buf.data(), n), from);
  }
}

void Endpoint::receive(std::span<const uint8_t> data, const asio::ip::udp::endpoint& from) {
  if (stopped_) return;
  ngtcp2_version_cid vc;
  const int rv = ngtcp2_pkt_decode_version_cid(&vc, data.data(), data.size(), kCidLength);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
    if (server_tls_) send_version_negotiation(vc, from);
    return;
  }
  if (rv != 0) {
    ++dropped_;
    return;
  }
  ngtcp2_cid dcid;
  ngtcp2_cid_init(&dcid, vc.dcid, vc.dcidlen);
  if (auto it = by_cid_.find(key(dcid)); it != by_cid_.end()) {
    if (auto conn = it->second.lock()) {
      ngtcp2_path_storage ps;
      make_path(ps, from);
      conn->on_datagram(ps.path, data);
      return;
    }
  }
  if (!server_tls_) {
    ++dropped_;
    return;
  }
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, data.data(), data.size()) != 0) {
    ++dropped_;  // not an Initial we can start a connection with
    return;
  }
  accept(data, hd, from);
}

void Endpoint::accept(std::span<const uint8_t> data, const ngtcp2_pkt_hd& hd,
                      const asio::ip::udp::endpoint& from) {
  if (connections_.size() >= config_.max_connections) {
    ++dropped_;
    return;
  }
  std::shared_ptr<Connection> conn(new Connection(*this, true, from));
  ngtcp2_path_storage ps;
  make_path(ps, from);
  const ngtcp2_cid scid = random_cid();
  if (!conn->init_server(hd, ps.path, config_, scid).ok()) {
    ++dropped_;
    return;
  }
  auto tls = server_tls_->new_session(conn->conn_ref());
  if (!tls.ok()) {
    ++dropped_;
    return;
  }
  conn->attach_tls(std::move(tls.value()));
  connections_.insert(conn);
  register_cid(scid, conn);
  // The client keeps using the DCID it chose until it hears ours.
  register_cid(hd.dcid, conn);
  conn->cids_.push_back(hd.dcid);
  if (accept_) accept_(conn);
  conn->on_datagram(ps.path, data);
}

void Endpoint::send_version_negotiation(const ngtcp2_version_cid& vc,
                                        const asio::ip::udp::endpoint& to) {
  std::array<uint8_t, 1500> buf;
  uint8_t unused = 0;
  gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  const ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(
      buf.data(), buf.size(), unused, vc.scid, vc.scidlen, vc.dcid, vc.dcidlen, versions, 1);
  if (n > 0) send_to(to, buf.data(), static_cast<size_t>(n));
}

// ---------------------------------------------------------------- connect

Result<std::shared_ptr<Connection>> Endpoint::connect(const asio::ip::udp::endpoint& remote,
                                                      const std::string& server_name,
                                                      const TlsClientContext& tls) {
  if (stopped_) return Error{code::kSession, "endpoint is shut down"};
  std::shared_ptr<Connection> conn(new Connection(*this, false, remote));
  ngtcp2_path_storage ps;
  make_path(ps, remote);
  const ngtcp2_cid scid = random_cid();
  const ngtcp2_cid dcid = random_cid();
  if (auto r = conn->init_client(ps.path, config_, scid, dcid); !r) return r.error();
  auto session = tls.new_session(conn->conn_ref(), server_name);
  if (!session.ok()) return session.error().to_error();
  conn->attach_tls(std::move(session.value()));
  connections_.insert(conn);
  register_cid(scid, conn);
  conn->schedule_flush();  // sends the Initial
  return conn;
}

// ---------------------------------------------------------------- for connections

bool Endpoint::send_to(const asio::ip::udp::endpoint& to, const uint8_t* data, size_t len) {
  if (sink_) return sink_(to, std::span<const uint8_t>(data, len));
  asio::error_code ec;
  socket_.send_to(asio::buffer(data, len), to, 0, ec);
  // A full socket buffer drops the packet; QUIC's loss recovery resends it.
  return !ec;
}

void Endpoint::register_cid(const ngtcp2_cid& cid, std::shared_ptr<Connection> conn) {
  by_cid_[key(cid)] = conn;
}

void Endpoint::unregister_cid(const ngtcp2_cid& cid) {
  by_cid_.erase(key(cid));
}

void Endpoint::reset_token(uint8_t* token, const ngtcp2_cid& cid) const {
  ngtcp2_crypto_generate_stateless_reset_token(token, reset_secret_.data(), reset_secret_.size(),
                                               &cid);
}

void Endpoint::remove(const std::shared_ptr<Connection>& conn) {
  connections_.erase(conn);
}

void Endpoint::shutdown(uint64_t code, std::string_view reason) {
  auto copy = connections_;
  for (const auto& c : copy)
    c->close(code, reason);
  stopped_ = true;
  asio::error_code ec;
  socket_.cancel(ec);
}

}  // namespace moq::quic
