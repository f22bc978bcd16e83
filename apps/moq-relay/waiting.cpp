#include "waiting.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "cluster.h"
#include "mirror.h"

namespace moq::relay {

// Shared by the WaitingBroadcast (its sessions) and its coroutine.
struct WaitingBroadcast::State {
  std::string name;
  std::shared_ptr<Origins> origins;
  std::shared_ptr<Cluster> cluster;  // null: a single relay
  size_t sessions = 0;
  std::optional<uint64_t> token;  // the local publisher it is served from, once live
  bool upstream = false;          // served from another relay of the cluster
};

namespace {

constexpr std::chrono::milliseconds kLookupEvery{100};
// moq-api is asked once every this many local lookups (500 ms).
constexpr int kApiEvery = 5;

// Clustering lives on worker 0: these run there. Plain coroutine functions
// (GCC 12 mishandles coroutine lambdas), results wrapped in optional (GCC 12
// mishandles `co_return co_await`).
asio::awaitable<std::optional<Result<bool>>> ask_moq_api(std::shared_ptr<Cluster> cluster,
                                                         std::string name) {
  Result<bool> elsewhere = co_await cluster->registered_elsewhere(std::move(name));
  co_return std::optional<Result<bool>>(std::move(elsewhere));
}

struct UpstreamSource {
  std::shared_ptr<Upstream> upstream;  // dropped on worker 0
  cache::BroadcastReader broadcast;    // used on worker 0 only
};

asio::awaitable<std::optional<UpstreamSource>> open_upstream(std::shared_ptr<Cluster> cluster,
                                                             std::string name) {
  auto upstream = cluster->upstream(name);
  auto broadcast = upstream->broadcast();
  co_return UpstreamSource{std::move(upstream), std::move(broadcast)};
}

}  // namespace

asio::awaitable<Result<bool>> origin_elsewhere(std::shared_ptr<Cluster> cluster,
                                               asio::any_io_executor worker0, std::string name) {
  std::optional<Result<bool>> asked = co_await asio::co_spawn(
      worker0, ask_moq_api(std::move(cluster), std::move(name)), asio::use_awaitable);
  Result<bool> elsewhere = std::move(*asked);
  co_return elsewhere;
}

namespace {

// Holds the waiting broadcast's track requests until the name is live here
// or (clustered) on another relay, then fills them, and every later one, from
// it; or ends them with 404 when the wait is over. Ends when the waiting
// broadcast goes away, which closes `writer`.
asio::awaitable<void> wait_then_serve(cache::BroadcastWriter writer,
                                      std::shared_ptr<WaitingBroadcast::State> state,
                                      std::shared_ptr<std::vector<asio::any_io_executor>> executors,
                                      std::chrono::milliseconds wait) {
  auto home = co_await asio::this_coro::executor;
  const auto give_up = std::chrono::steady_clock::now() + wait;
  asio::steady_timer timer(home);
  std::vector<cache::TrackWriter> held;
  std::optional<Origins::Live> live;
  std::optional<UpstreamSource> remote;
  for (int round = 0;; ++round) {
    for (;;) {
      auto request = writer.try_next_request();
      if (!request) co_return;  // closed: every session left
      if (!*request) break;
      held.push_back(std::move(**request));
    }
    if ((live = state->origins->find(state->name))) break;
    // Not at round 0: the relay asked moq-api just before sending the viewer
    // here (run_subscriber), so the first question here waits its turn.
    if (state->cluster && round % kApiEvery == kApiEvery - 1) {
      Result<bool> elsewhere =
          co_await origin_elsewhere(state->cluster, (*executors)[0], state->name);
      if (elsewhere && *elsewhere) {
        remote = co_await asio::co_spawn(
            (*executors)[0], open_upstream(state->cluster, state->name), asio::use_awaitable);
        break;
      }
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      const Error none{code::kNotFound, "not found: no publisher of '" + state->name + "' within " +
                                            std::to_string(wait.count() / 1000) + " s"};
      spdlog::info("waiting viewers of '{}': {}", state->name, none.reason);
      for (auto& track : held)
        (void)track.close(none);
      (void)writer.close(none);  // later SUBSCRIBEs: 404 at once
      co_return;
    }
    timer.expires_after(kLookupEvery);
    std::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  // Served from here on: the local publisher's broadcast (on its worker), or
  // the cluster's upstream of the name (on worker 0).
  asio::any_io_executor owner = (*executors)[0];
  cache::BroadcastReader source = live ? live->broadcast : remote->broadcast;
  if (live) {
    owner = (*executors)[live->owner];
    state->token = live->token;
    state->origins->add_viewers(state->name, live->token, static_cast<int>(state->sessions));
  } else {
    state->upstream = true;
  }
  spdlog::info("waiting viewers of '{}': live now{}, serving {} session{}", state->name,
               live ? "" : " on another relay", state->sessions, state->sessions == 1 ? "" : "s");
  std::vector<std::shared_ptr<Mirror::TrackSink>> sinks;
  for (auto& track : held)
    sinks.push_back(fill_track(std::move(track), home, owner, source));
  held.clear();
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) break;
    std::erase_if(sinks, [](const auto& s) { return s->track.closed().has_value(); });
    sinks.push_back(fill_track(std::move(*request), home, owner, source));
  }
  if (remote) {
    // The upstream lives on worker 0: its last handle goes there.
    asio::post((*executors)[0],
               [upstream = std::move(remote->upstream)]() mutable { upstream.reset(); });
  }
}

}  // namespace

WaitingBroadcast::WaitingBroadcast(std::string name, std::shared_ptr<Origins> origins,
                                   std::shared_ptr<Cluster> cluster,
                                   std::pair<cache::BroadcastWriter, cache::BroadcastReader> local)
    : writer_(std::move(local.first)),
      reader_(std::move(local.second)),
      state_(std::make_shared<State>(
          State{std::move(name), std::move(origins), std::move(cluster), 0, {}, false})) {}

std::shared_ptr<WaitingBroadcast> WaitingBroadcast::create(
    asio::any_io_executor home, std::string name, std::shared_ptr<Origins> origins,
    std::shared_ptr<Cluster> cluster, std::shared_ptr<std::vector<asio::any_io_executor>> executors,
    std::chrono::milliseconds wait) {
  std::shared_ptr<WaitingBroadcast> waiting(new WaitingBroadcast(
      std::move(name), std::move(origins), std::move(cluster), cache::make_broadcast()));
  asio::co_spawn(home,
                 wait_then_serve(waiting->writer_, waiting->state_, std::move(executors), wait),
                 asio::detached);
  return waiting;
}

WaitingBroadcast::~WaitingBroadcast() {
  // Ends the coroutine and, with it, the forwarding.
  (void)writer_.close(Error::closed());
}

void WaitingBroadcast::join() {
  ++state_->sessions;
  if (state_->token) state_->origins->add_viewers(state_->name, *state_->token, 1);
}

void WaitingBroadcast::leave() {
  if (state_->sessions > 0) --state_->sessions;
  if (state_->token) state_->origins->add_viewers(state_->name, *state_->token, -1);
}

bool WaitingBroadcast::waiting() const {
  return !state_->token && !state_->upstream && !reader_.closed();
}

std::shared_ptr<WaitingBroadcast> WaitingRoom::get(
    const std::string& name, const std::shared_ptr<Origins>& origins,
    const std::shared_ptr<Cluster>& cluster,
    const std::shared_ptr<std::vector<asio::any_io_executor>>& executors,
    std::chrono::milliseconds wait) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    if (auto waiting = it->second.lock(); waiting && waiting->waiting()) return waiting;
  }
  std::erase_if(by_name_, [](const auto& entry) { return entry.second.expired(); });
  auto waiting = WaitingBroadcast::create(home_, name, origins, cluster, executors, wait);
  by_name_[name] = waiting;
  return waiting;
}

}  // namespace moq::relay
