#include "relay/relay_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/detached.hpp>
#include <csignal>
#include <cstdio>
#include <thread>

#include "quic/tls_client.h"

namespace moq::relay_test {
namespace {

bool bindable(int type, int port) {
  const int fd = ::socket(AF_INET6, type, 0);
  if (fd < 0) return false;
  const int zero = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_any;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string temp_path(const char* what) {
  char buf[] = "/tmp/moq-relay-test-XXXXXX";
  const int fd = mkstemp(buf);
  if (fd >= 0) ::close(fd);
  return std::string(buf) + "." + what;
}

using ConnectResult = std::optional<Result<std::shared_ptr<session::Session>>>;

asio::awaitable<void> connect_task(wt::Client* client, std::string url, wire::ClientSetup setup,
                                   std::shared_ptr<ConnectResult> out) {
  auto wt_session = co_await client->connect(url);
  if (!wt_session) {
    out->emplace(wt_session.error());
    co_return;
  }
  std::shared_ptr<transport::Session> transport = wt_session.value();
  auto session = co_await session::connect(transport, std::move(setup));
  out->emplace(std::move(session));
}

asio::awaitable<void> run_publisher(std::shared_ptr<Publisher> pub) {
  auto session = pub->session;
  Error end = co_await session->run();
  pub->end = end;
}

asio::awaitable<void> refuse_unknown_tracks(cache::BroadcastWriter writer) {
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    (void)request->close(Error::not_found());
  }
}

asio::awaitable<void> run_subscriber(std::shared_ptr<Subscriber> sub) {
  auto session = sub->session;
  Error end = co_await session->run();
  sub->end = end;
}

asio::awaitable<void> read_track(cache::TrackReader reader, std::shared_ptr<ReceivedTrack> out) {
  for (;;) {
    auto segment = co_await reader.next_segment();
    if (!segment) {
      out->end = segment.error();
      co_return;
    }
    out->segments.emplace_back();
    const size_t index = out->segments.size() - 1;
    out->segments[index].sequence = segment->sequence();
    out->segments[index].priority = segment->priority();
    out->segments[index].expires = segment->info().expires;
    for (;;) {
      auto chunk = co_await segment->next_chunk();
      if (!chunk) {
        out->segments[index].end = chunk.error();
        out->segments[index].completed = Clock::now();
        break;
      }
      out->segments[index].payload += chunk->view();
    }
  }
}

}  // namespace

int free_udp_tcp_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    const int port = ntohs(addr.sin6_port);
    if (bindable(SOCK_DGRAM, port) && bindable(SOCK_STREAM, port)) return port;
  }
  return 0;
}

RelayProcess::RelayProcess(std::vector<std::string> extra_args, std::vector<std::string> env) {
  // Another test may take the port between our check and the relay's bind.
  for (int attempt = 0; attempt < 5 && !started(); ++attempt) {
    if (try_start(extra_args, env)) return;
  }
}

RelayProcess::~RelayProcess() {
  child_.kill_and_wait();
  std::remove(out_path_.c_str());
  std::remove(err_path_.c_str());
}

bool RelayProcess::try_start(const std::vector<std::string>& extra_args,
                             const std::vector<std::string>& env) {
  port_ = free_udp_tcp_port();
  if (out_path_.empty()) {
    out_path_ = temp_path("out");
    err_path_ = temp_path("err");
  }
  std::vector<std::string> argv = {std::string(MOQ_BIN_DIR) + "/moq-relay", "--dev", "--listen",
                                   "[::]:" + std::to_string(port_)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  test::Child::Options options;
  options.stdout_path = out_path_;
  options.stderr_path = err_path_;
  options.env = env;
  child_ = test::Child(argv, options);
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    const std::string out = stdout_text();
    const size_t at = out.find("fingerprint: ");
    if (at != std::string::npos) {
      const size_t eol = out.find('\n', at);
      if (eol != std::string::npos) {
        fingerprint_ = out.substr(at + 13, eol - at - 13);
        return true;
      }
    }
    if (!child_.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  child_.kill_and_wait();
  return false;
}

std::string RelayProcess::url(const std::string& name) const {
  return "https://localhost:" + std::to_string(port_) + "/" + name;
}
std::string RelayProcess::stdout_text() const {
  return test::read_file(out_path_);
}
std::string RelayProcess::log() const {
  return test::read_file(err_path_);
}

bool run_until(const std::vector<asio::io_context*>& contexts, const std::function<bool()>& done,
               std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    size_t ran = 0;
    for (auto* io : contexts) {
      io->restart();
      ran += io->poll();
    }
    if (ran > 0) continue;
    if (Clock::now() >= deadline) return false;
    // Nothing ready: wait for I/O or a timer on the first context, briefly.
    contexts.front()->restart();
    contexts.front()->run_one_for(std::chrono::milliseconds(contexts.size() > 1 ? 1 : 5));
  }
  return true;
}

std::string payload_for(const std::string& track, uint64_t sequence) {
  // Sizes cycle through empty, tiny, one packet and tens of KB.
  static constexpr size_t kSizes[] = {0, 1, 1200, 5000, 17000, 40000, 333};
  const size_t size = kSizes[(sequence + track.size()) % std::size(kSizes)];
  std::string out(size, '\0');
  uint64_t x = std::hash<std::string>{}(track) ^ (sequence * 0x9e3779b97f4a7c15ull);
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

std::vector<std::string> chunks_of(const std::string& payload) {
  static constexpr size_t kChunks[] = {1, 700, 1500, 9000};
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t i = 0; at < payload.size(); ++i) {
    const size_t n = std::min(kChunks[i % std::size(kChunks)], payload.size() - at);
    out.push_back(payload.substr(at, n));
    at += n;
  }
  return out;
}

size_t ReceivedTrack::complete() const {
  return static_cast<size_t>(std::count_if(segments.begin(), segments.end(),
                                           [](auto& s) { return s.end && s.end->is_closed(); }));
}

const ReceivedSegment* ReceivedTrack::find(uint64_t sequence) const {
  for (auto& s : segments) {
    if (s.sequence == sequence) return &s;
  }
  return nullptr;
}

void write_segment(cache::TrackWriter& track, uint64_t sequence, int32_t priority,
                   std::optional<std::chrono::seconds> expires, const std::string& payload) {
  cache::SegmentInfo info;
  info.sequence = sequence;
  info.priority = priority;
  if (expires) info.expires = std::chrono::duration_cast<async::Clock::duration>(*expires);
  auto segment = track.create_segment(info);
  ASSERT_TRUE(segment.ok()) << segment.error().reason;
  for (auto& chunk : chunks_of(payload)) {
    ASSERT_TRUE(segment->write(Bytes::copy(std::string_view(chunk))).ok());
  }
  ASSERT_TRUE(segment->finish().ok());
}

void RelayTest::SetUp() {
  start_relay({});
}

void RelayTest::start_relay(std::vector<std::string> args) {
  relay_ = std::make_unique<RelayProcess>(std::move(args));
  ASSERT_TRUE(relay_->started()) << "moq-relay did not start:\n" << relay_->log();
  client_ = make_client(io_);
  ASSERT_TRUE(client_);
}

void RelayTest::TearDown() {
  for (auto& s : sessions_)
    s->close(Error::closed());
  // Let the sessions end and their close frames go out.
  run_until([] { return false; }, std::chrono::milliseconds(100));
  if (client_) client_->endpoint().shutdown();
  run_until([] { return false; }, std::chrono::milliseconds(50));
  sessions_.clear();
  if (relay_ && relay_->child().running()) {
    // A graceful stop must exit 0: under ASan/UBSan this also checks the
    // relay process for memory errors and leaks after every test.
    auto status = relay_->child().stop(SIGTERM, std::chrono::seconds(10));
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "moq-relay did not exit cleanly on SIGTERM (status " << status.value_or(-1) << ")";
  }
  if (HasFailure() && relay_) std::cerr << "---- moq-relay log ----\n" << relay_->log();
}

std::unique_ptr<wt::Client> RelayTest::make_client(asio::io_context& io) const {
  quic::TlsClientConfig config;
  config.fingerprint = relay_->fingerprint();
  auto tls = quic::TlsClientContext::create(config);
  if (!tls) return nullptr;
  auto client = wt::Client::create(io, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0),
                                   quic::QuicConfig{}, std::move(tls.value()));
  if (!client) return nullptr;
  return std::move(client.value());
}

Result<std::shared_ptr<session::Session>> RelayTest::connect(const std::string& name,
                                                             const wire::ClientSetup& setup,
                                                             asio::io_context* io,
                                                             wt::Client* client) {
  asio::io_context& ctx = io ? *io : io_;
  auto result = std::make_shared<ConnectResult>();
  asio::co_spawn(ctx,
                 connect_task(client ? client : client_.get(), relay_->url(name), setup, result),
                 asio::detached);
  relay_test::run_until(
      {&ctx}, [&] { return result->has_value(); }, std::chrono::seconds(10));
  if (!*result) return Error{code::kInternal, "connect timed out"};
  if ((*result)->ok()) sessions_.push_back((*result)->value());
  return std::move(**result);
}

std::shared_ptr<Publisher> RelayTest::publish(const std::string& name, wt::Client* client) {
  auto pub = std::make_shared<Publisher>(cache::make_broadcast());
  auto session = connect(name, setup_for(wire::Role::kPublisher), nullptr, client);
  EXPECT_TRUE(session.ok()) << session.error().code << " " << session.error().reason;
  if (!session) return nullptr;
  pub->session = session.value();
  EXPECT_TRUE(pub->session->publish(pub->reader).ok());
  asio::co_spawn(io_, refuse_unknown_tracks(pub->writer), asio::detached);
  asio::co_spawn(io_, run_publisher(pub), asio::detached);
  return pub;
}

std::shared_ptr<Subscriber> RelayTest::subscriber(const std::string& name, asio::io_context* io,
                                                  wt::Client* client) {
  auto sub = std::make_shared<Subscriber>(cache::make_broadcast());
  auto session = connect(name, setup_for(wire::Role::kSubscriber), io, client);
  EXPECT_TRUE(session.ok()) << session.error().code << " " << session.error().reason;
  if (!session) return nullptr;
  sub->session = session.value();
  EXPECT_TRUE(sub->session->subscribe(sub->writer).ok());
  asio::co_spawn(io ? *io : io_, run_subscriber(sub), asio::detached);
  return sub;
}

void RelayTest::subscribe(Subscriber& sub, const std::string& track, asio::io_context* io) {
  auto reader = sub.reader.request_track(track);
  ASSERT_TRUE(reader.ok()) << reader.error().reason;
  auto out = std::make_shared<ReceivedTrack>();
  sub.tracks[track] = out;
  asio::co_spawn(io ? *io : io_, read_track(std::move(*reader), out), asio::detached);
}

}  // namespace moq::relay_test
