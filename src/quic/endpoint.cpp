#include "quic/endpoint.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quic/tls_client.h"
#include "quic/tls_server.h"

namespace moq::quic {
namespace {

UdpAddress to_udp_address(const asio::ip::udp::endpoint& e) {
  UdpAddress a;
  std::memcpy(&a.storage, e.data(), e.size());
  a.length = static_cast<socklen_t>(e.size());
  return a;
}

}  // namespace

Endpoint::Endpoint(asio::io_context& io, QuicConfig config, const TlsServerContext* server_tls)
    : executor_(io.get_executor()),
      socket_(io),
      config_(config),
      server_tls_(server_tls),
      timer_(io) {
  gnutls_rnd(GNUTLS_RND_RANDOM, reset_secret_.data(), reset_secret_.size());
}

ngtcp2_cid Endpoint::new_cid() const {
  ngtcp2_cid cid;
  cid.datalen = kCidLength;
  gnutls_rnd(GNUTLS_RND_RANDOM, cid.data, cid.datalen);
  if (workers_ > 1) {
    // The steering program sends every datagram with this ID to us.
    cid.data[0] = static_cast<uint8_t>(worker_ + workers_ * (cid.data[0] % (256 / workers_)));
  }
  return cid;
}

Endpoint::~Endpoint() {
  // Whoever still holds a connection learns that it is gone.
  auto remaining = std::move(connections_);
  for (const auto& c : remaining)
    c->abandon();
  timer_.cancel();
  asio::error_code ec;
  socket_.close(ec);
}

Result<std::shared_ptr<Endpoint>> Endpoint::bind(asio::io_context& io,
                                                 const asio::ip::udp::endpoint& local,
                                                 QuicConfig config,
                                                 const TlsServerContext* server_tls) {
  return open(io, local, config, server_tls, 0, 1);
}

Result<std::shared_ptr<Endpoint>> Endpoint::bind_worker(asio::io_context& io,
                                                        const asio::ip::udp::endpoint& local,
                                                        QuicConfig config,
                                                        const TlsServerContext* server_tls,
                                                        unsigned index, unsigned workers) {
  return open(io, local, config, server_tls, index, std::max(1u, workers));
}

Result<std::shared_ptr<Endpoint>> Endpoint::open(asio::io_context& io,
                                                 const asio::ip::udp::endpoint& local,
                                                 QuicConfig config,
                                                 const TlsServerContext* server_tls, unsigned index,
                                                 unsigned workers) {
  std::shared_ptr<Endpoint> ep(new Endpoint(io, config, server_tls));
  ep->worker_ = index;
  ep->workers_ = workers;
  auto fail = [&](const std::string& what, const asio::error_code& ec) {
    return Error{code::kSession, what + " UDP " + local.address().to_string() + ":" +
                                     std::to_string(local.port()) + ": " + ec.message()};
  };
  asio::error_code ec;
  ep->socket_.open(local.protocol(), ec);
  if (!ec && local.address().is_v6()) {
    // Dual-stack: Chromium resolves localhost to ::1 first, others use IPv4.
    ep->socket_.set_option(asio::ip::v6_only(false), ec);
  }
  if (ec) return fail("cannot open", ec);
  const int fd = ep->socket_.native_handle();
  if (workers > 1 && !enable_reuseport(fd)) {
    return fail("cannot share (SO_REUSEPORT)", asio::error_code(errno, asio::system_category()));
  }
  ep->socket_.bind(local, ec);
  if (!ec) ep->socket_.non_blocking(true, ec);
  if (ec) return fail("cannot bind", ec);
  if (workers > 1 && index + 1 == workers && !attach_cid_steering(fd, workers)) {
    return fail("cannot steer connections to workers (SO_ATTACH_REUSEPORT_CBPF)",
                asio::error_code(errno, asio::system_category()));
  }
  // Large socket buffers absorb bursts of media (best effort: the kernel caps them).
  ep->socket_.set_option(asio::socket_base::receive_buffer_size(8 * 1024 * 1024), ec);
  ep->socket_.set_option(asio::socket_base::send_buffer_size(8 * 1024 * 1024), ec);
  // Batching helpers, where the kernel has them.
  enable_gro(fd);
  set_dont_fragment(fd);
  ep->tx_.set_gso(gso_supported(fd));
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
  // Drain a few batches; each touched connection flushes once afterwards
  // (its flush is posted, so many datagrams share one write pass).
  const int fd = socket_.native_handle();
  asio::ip::udp::endpoint from;
  for (int i = 0; i < 4 && !stopped_; ++i) {
    const size_t n = rx_.receive(
        fd,
        [&](std::span<const uint8_t> datagram, const sockaddr* addr, socklen_t len) {
          std::memcpy(from.data(), addr, std::min<size_t>(len, sizeof(sockaddr_storage)));
          receive(datagram, from);
        },
        udp_stats_);
    if (n < RxBatch::kBatch) break;
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
  if (auto it = by_cid_.find(CidKey(vc.dcid, vc.dcidlen)); it != by_cid_.end()) {
    ngtcp2_path_storage ps;
    make_path(ps, from);
    it->second->on_datagram(ps.path, data);
    return;
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
  const ngtcp2_cid scid = new_cid();
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
  register_cid(scid, conn.get());
  // The client keeps using the DCID it chose until it hears ours.
  register_cid(hd.dcid, conn.get());
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
  if (n > 0) send_to(to_udp_address(to), buf.data(), static_cast<size_t>(n));
}

// ---------------------------------------------------------------- connect

Result<std::shared_ptr<Connection>> Endpoint::connect(const asio::ip::udp::endpoint& remote,
                                                      const std::string& server_name,
                                                      const TlsClientContext& tls) {
  if (stopped_) return Error{code::kSession, "endpoint is shut down"};
  std::shared_ptr<Connection> conn(new Connection(*this, false, remote));
  ngtcp2_path_storage ps;
  make_path(ps, remote);
  const ngtcp2_cid scid = new_cid();
  const ngtcp2_cid dcid = new_cid();
  if (auto r = conn->init_client(ps.path, config_, scid, dcid); !r) return r.error();
  auto session = tls.new_session(conn->conn_ref(), server_name);
  if (!session.ok()) return session.error().to_error();
  conn->attach_tls(std::move(session.value()));
  connections_.insert(conn);
  register_cid(scid, conn.get());
  conn->schedule_flush();  // sends the Initial
  return conn;
}

// ---------------------------------------------------------------- for connections

std::span<uint8_t> Endpoint::tx_reserve(size_t min) {
  auto room = tx_.reserve(min);
  if (room.empty()) {
    // Full: send what is queued now, within this pass.
    flush_tx();
    room = tx_.reserve(min);
  }
  return room;
}

void Endpoint::request_flush(std::shared_ptr<Connection> conn) {
  flush_requests_.push_back(std::move(conn));
  if (flushes_posted_) return;
  flushes_posted_ = true;
  asio::post(executor_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->run_flushes();
  });
}

void Endpoint::run_flushes() {
  flushes_posted_ = false;
  // A flush may ask again (its events make the application write): that
  // request goes to the next handler, not into this list.
  std::swap(flushing_, flush_requests_);
  for (auto& conn : flushing_) {
    conn->flush_scheduled_ = false;
    conn->flush();
  }
  flushing_.clear();  // keeps its capacity
}

void Endpoint::tx_commit(const UdpAddress& to, size_t len, size_t segment) {
  if (len == 0) return;
  tx_.commit(to, len, segment);
  if (!tx_flush_posted_) {
    // After the other handlers of this pass, so that all their packets leave
    // in one sendmmsg.
    tx_flush_posted_ = true;
    asio::post(executor_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->tx_flush_posted_ = false;
        self->flush_tx();
      }
    });
  }
}

void Endpoint::send_to(const UdpAddress& to, const uint8_t* data, size_t len) {
  auto room = tx_reserve(len);
  if (room.size() < len) return;  // cannot happen: a datagram fits an empty queue
  std::memcpy(room.data(), data, len);
  tx_commit(to, len, len);
}

void Endpoint::flush_tx() {
  if (tx_.empty() || tx_blocked_) return;
  if (sink_) {
    tx_.drain_to(
        [this](const UdpAddress& to, std::span<const uint8_t> d) {
          asio::ip::udp::endpoint e;
          std::memcpy(e.data(), &to.storage, to.length);
          (void)sink_(e, d);
        },
        udp_stats_);
    return;
  }
  if (tx_.send(socket_.native_handle(), udp_stats_) == 0) return;
  // The socket buffer is full: the rest goes when it can (a datagram dropped
  // here would only be resent by QUIC's loss recovery, later).
  tx_blocked_ = true;
  socket_.async_wait(asio::socket_base::wait_write,
                     [weak = weak_from_this()](const asio::error_code& ec) {
                       auto self = weak.lock();
                       if (!self) return;
                       self->tx_blocked_ = false;
                       if (!ec) self->flush_tx();
                     });
}

void Endpoint::register_cid(const ngtcp2_cid& cid, Connection* conn) {
  by_cid_[CidKey(cid.data, cid.datalen)] = conn;
}

void Endpoint::unregister_cid(const ngtcp2_cid& cid) {
  by_cid_.erase(CidKey(cid.data, cid.datalen));
}

// Arming the Asio timer costs a timerfd_settime syscall, and with hundreds of
// connections some deadline is always about due (6 % of the relay's CPU at
// N = 400 when each one armed the timer). So the timer goes off up to this
// much after the earliest deadline, and every connection due by then is
// served in the same wake-up.
constexpr uint64_t kTimerSlackNs = 500'000;

void Endpoint::schedule(const std::shared_ptr<Connection>& conn, uint64_t deadline,
                        uint64_t generation) {
  timers_.push_back(TimerEntry{deadline, generation, conn});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  if (deadline + kTimerSlackNs < timer_armed_) arm_timer();
}

void Endpoint::arm_timer() {
  if (timers_.empty()) {
    timer_armed_ = UINT64_MAX;
    timer_.cancel();
    return;
  }
  const uint64_t deadline = timers_.front().deadline + kTimerSlackNs;
  if (deadline == timer_armed_) return;
  timer_armed_ = deadline;
  const uint64_t now = now_ns();
  timer_.expires_after(std::chrono::nanoseconds(deadline > now ? deadline - now : 0));
  timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    if (auto self = weak.lock()) self->on_timers();
  });
}

void Endpoint::on_timers() {
  timer_armed_ = UINT64_MAX;
  const uint64_t now = now_ns();
  // Due entries are taken out first: a connection's on_timer() may schedule
  // again.
  due_.clear();
  while (!timers_.empty() && timers_.front().deadline <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    due_.push_back(std::move(timers_.back()));
    timers_.pop_back();
  }
  auto due = std::move(due_);
  for (auto& entry : due) {
    auto conn = entry.conn.lock();
    if (conn && conn->timer_generation_ == entry.generation) conn->on_timer();
  }
  due.clear();
  due_ = std::move(due);  // keeps its capacity
  arm_timer();
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
  flush_tx();  // the CONNECTION_CLOSEs leave now
  stopped_ = true;
  asio::error_code ec;
  socket_.cancel(ec);
}

}  // namespace moq::quic
