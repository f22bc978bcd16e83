// bench_wt_throughput [MIB] [STREAM_KIB] [cubic|bbr]
//
// Our WebTransport client sends MIB mebibytes on uni streams of STREAM_KIB
// each to our server over loopback UDP, in one process and one thread.
// Prints goodput, packets and CPU time: the figure to watch when changing the
// QUIC write path (batching, GSO).

#include <sys/resource.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "quic/tls_cert.h"
#include "webtransport/client.h"
#include "webtransport/server.h"

using namespace moq;

namespace {

struct Totals {
  uint64_t received = 0;
  uint64_t streams = 0;
};

asio::awaitable<void> drain(std::shared_ptr<transport::RecvStream> in, Totals* t) {
  for (;;) {
    auto chunk = co_await in->read();
    if (!chunk || !chunk.value()) break;
    t->received += chunk.value()->size();
  }
  ++t->streams;
}

asio::awaitable<void> sink(std::shared_ptr<wt::WtSession> s, Totals* t) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto in = co_await s->accept_uni();
    if (!in) co_return;
    asio::co_spawn(ex, drain(in.value(), t), asio::detached);
  }
}

asio::awaitable<void> source(wt::Client* client, std::string url, uint64_t total,
                             size_t stream_bytes, Totals* t, bool* done) {
  auto s = co_await client->connect(url);
  if (!s) {
    std::fprintf(stderr, "connect: %s\n", s.error().reason.c_str());
    *done = true;
    co_return;
  }
  const Bytes payload(std::vector<uint8_t>(stream_bytes, 0x5a));
  for (uint64_t sent = 0; sent < total; sent += stream_bytes) {
    auto out = co_await s.value()->open_uni();
    if (!out) break;
    (void)out.value()->write(payload);  // shared: no copy per stream
    (void)out.value()->finish();
    // Keep a bounded amount in flight, as a real sender would.
    auto drained = co_await out.value()->drained();
    (void)drained;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (t->received < total) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::use_awaitable);
  }
  s.value()->close(0, "done");
  *done = true;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const size_t stream_kib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 256;
  quic::QuicConfig config;
  if (argc > 3 && std::strcmp(argv[3], "bbr") == 0) {
    config.congestion_control = quic::CongestionControl::kBbr;
  }

  asio::io_context io;
  auto pem = quic::generate_dev_certificate();
  quic::TlsServerConfig sc;
  sc.pem_pairs.push_back(pem.value());
  auto server_tls = quic::TlsServerContext::create(sc);
  Totals totals;
  auto server = wt::Server::start(
      io, asio::ip::udp::endpoint(asio::ip::make_address("::1"), 0), config, server_tls.value(),
      [](const wt::SessionRequested&) { return 200u; },
      [&](std::shared_ptr<wt::WtSession> s) {
        asio::co_spawn(io, sink(s, &totals), asio::detached);
      });
  if (!server) return 1;
  quic::TlsClientConfig cc;
  cc.fingerprint = server_tls->fingerprint_hex();
  auto client = wt::Client::create(io, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0), config,
                                   std::move(quic::TlsClientContext::create(cc).value()));
  const std::string url =
      "https://[::1]:" + std::to_string(server.value()->local_endpoint().port()) + "/bench";

  bool done = false;
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  asio::co_spawn(io, source(client.value().get(), url, mib << 20, stream_kib << 10, &totals, &done),
                 asio::detached);
  while (!done)
    io.run_for(std::chrono::milliseconds(50));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;
  std::printf(
      "sent %llu MiB on %llu streams of %zu KiB (%s) in %.2f s: %.1f MiB/s, CPU %.2f s "
      "(client and server in one thread)\n",
      static_cast<unsigned long long>(mib), static_cast<unsigned long long>(totals.streams),
      stream_kib, config.congestion_control == quic::CongestionControl::kBbr ? "bbr" : "cubic",
      secs, double(totals.received) / (1 << 20) / secs, cpu);
  return totals.received >= (mib << 20) ? 0 : 1;
}
