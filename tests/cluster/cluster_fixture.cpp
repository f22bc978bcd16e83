#include "cluster/cluster_fixture.h"

#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <csignal>
#include <sstream>
#include <thread>

#include "quic/tls_cert.h"
#include "quic/tls_client.h"

namespace moq::cluster_test {
namespace {

using Clock = std::chrono::steady_clock;
using ConnectResult = std::optional<Result<std::shared_ptr<session::Session>>>;

asio::awaitable<void> connect_task(wt::Client* client, std::string url, wire::Role role,
                                   std::shared_ptr<ConnectResult> out) {
  auto wt_session = co_await client->connect(url);
  if (!wt_session) {
    out->emplace(wt_session.error());
    co_return;
  }
  std::shared_ptr<transport::Session> transport = wt_session.value();
  auto session = co_await session::connect(transport, role);
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

bool ClusterRelay::start(const std::string& api_url, const std::filesystem::path& cert,
                         const std::filesystem::path& key, const std::filesystem::path& dir,
                         const std::string& label) {
  err_path_ = (dir / (label + ".log")).string();
  const std::string out_path = (dir / (label + ".out")).string();
  // Another test may take the port between our check and the relay's bind.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = relay_test::free_udp_tcp_port();
    const std::string node = "https://localhost:" + std::to_string(port_);
    test::Child::Options options;
    options.stdout_path = out_path;
    options.stderr_path = err_path_;
    child_ = test::Child(
        {std::string(MOQ_BIN_DIR) + "/moq-relay", "--listen", "[::]:" + std::to_string(port_),
         "--tls-cert", cert.string(), "--tls-key", key.string(), "--tls-root", cert.string(),
         "--api", api_url, "--api-node", node, "--api-refresh", "1",
         // A viewer of an unknown name waits this long for its publisher.
         "--publisher-wait", "3"},
        options);
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline && child_.running()) {
      if (test::read_file(out_path).find("fingerprint: ") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    child_.kill_and_wait();
  }
  return false;
}

size_t ClusterRelay::count_log_lines(const std::vector<std::string>& parts) const {
  std::istringstream in(log());
  size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& part : parts)
      all = all && line.find(part) != std::string::npos;
    if (all) ++count;
  }
  return count;
}

void ClusterTest::SetUp() {
  dir_ = std::filesystem::temp_directory_path() /
         ("moq-cluster-test-" + std::to_string(getpid()) + "-" + std::to_string(test::free_port()));
  std::filesystem::create_directories(dir_);
  // One development certificate for both relays, trusted by each as a root.
  cert_ = dir_ / "localhost.crt";
  key_ = dir_ / "localhost.key";
  auto pair = quic::generate_dev_certificate();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(quic::write_pem_files(pair.value(), cert_, key_).ok());

  redis_ = std::make_unique<test::RedisServer>(test::free_port());
  ASSERT_TRUE(redis_->start());
  ASSERT_TRUE(start_api());
  ASSERT_TRUE(a_.start(api_url(), cert_, key_, dir_, "relay-a")) << a_.log();
  ASSERT_TRUE(b_.start(api_url(), cert_, key_, dir_, "relay-b")) << b_.log();

  quic::TlsClientConfig tls;
  tls.root_files.push_back(cert_);
  auto context = quic::TlsClientContext::create(tls);
  ASSERT_TRUE(context.ok());
  auto client = wt::Client::create(io_, asio::ip::udp::endpoint(asio::ip::udp::v6(), 0),
                                   quic::QuicConfig{}, std::move(context.value()));
  ASSERT_TRUE(client.ok());
  client_ = std::move(client.value());
}

void ClusterTest::TearDown() {
  for (auto& s : sessions_)
    s->close(Error::closed());
  run_until([] { return false; }, std::chrono::milliseconds(100));
  if (client_) client_->endpoint().shutdown();
  run_until([] { return false; }, std::chrono::milliseconds(50));
  sessions_.clear();
  // A graceful stop must exit 0: under ASan/UBSan this also checks the relays
  // for memory errors and leaks.
  for (auto* relay : {&a_, &b_}) {
    if (!relay->child().running()) continue;
    auto status = relay->child().stop(SIGTERM, std::chrono::seconds(10));
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "moq-relay did not exit cleanly on SIGTERM (status " << status.value_or(-1) << ")";
  }
  api_.kill_and_wait();
  if (redis_) redis_->kill();
  if (HasFailure()) {
    std::cerr << "---- relay A ----\n"
              << a_.log() << "---- relay B ----\n"
              << b_.log() << "---- moq-api ----\n"
              << test::read_file((dir_ / "moq-api.log").string()) << "(files in " << dir_.string()
              << ")\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

::testing::AssertionResult ClusterTest::start_api() {
  api_port_ = test::free_port();
  test::Child::Options options;
  options.stderr_path = (dir_ / "moq-api.log").string();
  api_ = test::Child(
      {std::string(MOQ_BIN_DIR) + "/moq-api", "--listen", "127.0.0.1:" + std::to_string(api_port_),
       "--redis", "redis://127.0.0.1:" + std::to_string(redis_->port())},
      options);
  if (!test::wait_for_port(api_port_, std::chrono::seconds(10))) {
    return ::testing::AssertionFailure() << "moq-api did not listen on " << api_port_;
  }
  return ::testing::AssertionSuccess();
}

bool ClusterTest::wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Result<std::shared_ptr<session::Session>> ClusterTest::connect(ClusterRelay& relay,
                                                               const std::string& name,
                                                               wire::Role role) {
  auto result = std::make_shared<ConnectResult>();
  asio::co_spawn(io_, connect_task(client_.get(), relay.url(name), role, result), asio::detached);
  run_until([&] { return result->has_value(); }, std::chrono::seconds(15));
  if (!*result) return Error{code::kInternal, "connect timed out"};
  if ((*result)->ok()) sessions_.push_back((*result)->value());
  return std::move(**result);
}

std::shared_ptr<Publisher> ClusterTest::publish(ClusterRelay& relay, const std::string& name) {
  auto pub = std::make_shared<Publisher>(cache::make_broadcast());
  auto session = connect(relay, name, wire::Role::kPublisher);
  EXPECT_TRUE(session.ok()) << session.error().code << " " << session.error().reason;
  if (!session) return nullptr;
  pub->session = session.value();
  EXPECT_TRUE(pub->session->publish(pub->reader).ok());
  asio::co_spawn(io_, refuse_unknown_tracks(pub->writer), asio::detached);
  asio::co_spawn(io_, run_publisher(pub), asio::detached);
  return pub;
}

std::shared_ptr<Subscriber> ClusterTest::subscriber(ClusterRelay& relay, const std::string& name) {
  auto sub = std::make_shared<Subscriber>(cache::make_broadcast());
  auto session = connect(relay, name, wire::Role::kSubscriber);
  EXPECT_TRUE(session.ok()) << session.error().code << " " << session.error().reason;
  if (!session) return nullptr;
  sub->session = session.value();
  EXPECT_TRUE(sub->session->subscribe(sub->writer).ok());
  asio::co_spawn(io_, run_subscriber(sub), asio::detached);
  return sub;
}

void ClusterTest::subscribe(Subscriber& sub, const std::string& track) {
  auto reader = sub.reader.request_track(track);
  ASSERT_TRUE(reader.ok()) << reader.error().reason;
  auto out = std::make_shared<ReceivedTrack>();
  sub.tracks[track] = out;
  asio::co_spawn(io_, read_track(std::move(*reader), out), asio::detached);
}

}  // namespace moq::cluster_test
