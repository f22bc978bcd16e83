#include "waiting.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "mirror.h"

namespace moq::relay {

// Shared by the WaitingBroadcast (its sessions) and its coroutine.
struct WaitingBroadcast::State {
  std::string name;
  std::shared_ptr<Origins> origins;
  size_t sessions = 0;
  std::optional<uint64_t> token;  // the publisher it is served from, once live
};

namespace {

constexpr std::chrono::milliseconds kLookupEvery{100};

// Holds the waiting broadcast's track requests until the name is live (then
// fills them, and every later one, from it) or the wait is over (then ends
// them with 404). Ends when the waiting broadcast goes away, which closes
// `writer`.
asio::awaitable<void> wait_then_serve(cache::BroadcastWriter writer,
                                      std::shared_ptr<WaitingBroadcast::State> state,
                                      std::shared_ptr<std::vector<asio::any_io_executor>> executors,
                                      std::chrono::milliseconds wait) {
  auto home = co_await asio::this_coro::executor;
  const auto give_up = std::chrono::steady_clock::now() + wait;
  asio::steady_timer timer(home);
  std::vector<cache::TrackWriter> held;
  std::optional<Origins::Live> live;
  for (;;) {
    for (;;) {
      auto request = writer.try_next_request();
      if (!request) co_return;  // closed: every session left
      if (!*request) break;
      held.push_back(std::move(**request));
    }
    if ((live = state->origins->find(state->name))) break;
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

  state->token = live->token;
  state->origins->add_viewers(state->name, live->token, static_cast<int>(state->sessions));
  spdlog::info("waiting viewers of '{}': live now, serving {} session{}", state->name,
               state->sessions, state->sessions == 1 ? "" : "s");
  const asio::any_io_executor owner = (*executors)[live->owner];
  std::vector<std::shared_ptr<Mirror::TrackSink>> sinks;
  for (auto& track : held)
    sinks.push_back(fill_track(std::move(track), home, owner, live->broadcast));
  held.clear();
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    std::erase_if(sinks, [](const auto& s) { return s->track.closed().has_value(); });
    sinks.push_back(fill_track(std::move(*request), home, owner, live->broadcast));
  }
}

}  // namespace

WaitingBroadcast::WaitingBroadcast(std::string name, std::shared_ptr<Origins> origins,
                                   std::pair<cache::BroadcastWriter, cache::BroadcastReader> local)
    : writer_(std::move(local.first)),
      reader_(std::move(local.second)),
      state_(std::make_shared<State>(State{std::move(name), std::move(origins), 0, {}})) {}

std::shared_ptr<WaitingBroadcast> WaitingBroadcast::create(
    asio::any_io_executor home, std::string name, std::shared_ptr<Origins> origins,
    std::shared_ptr<std::vector<asio::any_io_executor>> executors, std::chrono::milliseconds wait) {
  std::shared_ptr<WaitingBroadcast> waiting(
      new WaitingBroadcast(std::move(name), std::move(origins), cache::make_broadcast()));
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
  return !state_->token && !reader_.closed();
}

std::shared_ptr<WaitingBroadcast> WaitingRoom::get(
    const std::string& name, const std::shared_ptr<Origins>& origins,
    const std::shared_ptr<std::vector<asio::any_io_executor>>& executors,
    std::chrono::milliseconds wait) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    if (auto waiting = it->second.lock(); waiting && waiting->waiting()) return waiting;
  }
  std::erase_if(by_name_, [](const auto& entry) { return entry.second.expired(); });
  auto waiting = WaitingBroadcast::create(home_, name, origins, executors, wait);
  by_name_[name] = waiting;
  return waiting;
}

}  // namespace moq::relay
