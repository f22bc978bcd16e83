#include "session/session.h"

#include <spdlog/spdlog.h>

#include <string>
#include <type_traits>
#include <utility>

namespace moq::session {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

Error role_violation(const wire::Message& message) {
  return {code::kRoleViolation, std::string(wire::name_of(message)) + " sent by the wrong role"};
}

}  // namespace

std::shared_ptr<Session> Session::create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         transport::BidiStream control,
                                         wire::ControlDecoder decoder, Setup setup, Config config) {
  std::shared_ptr<Session> session(new Session(std::move(executor), std::move(transport),
                                               std::move(control), std::move(decoder), setup,
                                               config));
  session->core_.tasks.set_owner(session);
  return session;
}

Session::Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
                 transport::BidiStream control, wire::ControlDecoder decoder, Setup setup,
                 Config config)
    : core_(std::move(executor), std::move(transport), std::move(control), config, setup.peer_role),
      decoder_(std::move(decoder)),
      setup_(setup),
      publisher_(core_),
      subscriber_(core_) {}

Result<void> Session::publish(cache::BroadcastReader broadcast) {
  if (running_) return Error::internal("publish() after run()");
  if (!wire::is_publisher(setup_.role)) return Error::internal("this session does not publish");
  publisher_.set_broadcast(std::move(broadcast));
  return {};
}

Result<void> Session::subscribe(cache::BroadcastWriter broadcast) {
  if (running_) return Error::internal("subscribe() after run()");
  if (!wire::is_subscriber(setup_.role)) return Error::internal("this session does not subscribe");
  subscriber_.set_broadcast(std::move(broadcast));
  return {};
}

void Session::goaway(std::string url) {
  if (!setup_.is_server) return;  // only a server may send it
  core_.control.send(wire::GoAway{std::move(url)});
}

void Session::announce(std::string ns) {
  if (!wire::is_publisher(setup_.role)) return;
  core_.control.send(wire::Announce{std::move(ns)});
}

asio::awaitable<Error> Session::run() {
  running_ = true;
  core_.tasks.spawn(read_control());
  core_.tasks.spawn(write_control());
  if (wire::is_subscriber(setup_.role)) core_.tasks.spawn(subscriber_.run_requests());
  // Even a session that doesn't subscribe takes the object streams a peer
  // opens, to stop them (unknown track id) rather than leave them queued.
  core_.tasks.spawn(subscriber_.run_objects());
  Error error = co_await core_.transport->closed();
  if (!core_.transport->is_closed()) {
    // run() itself was cancelled: the session ends with it.
    error = Error{code::kClosed, "cancelled"};
    core_.close(error);
  }
  shutdown(error);
  co_return error;
}

void Session::shutdown(const Error& error) {
  spdlog::debug("moq {}: session ended: {} {}", core_.peer, error.code, error.reason);
  core_.control.close();
  publisher_.close();
  const bool peer_gone =
      error.code == code::kWrite || error.code == code::kRead || error.code == code::kSession;
  subscriber_.close(core_.config.peer_gone_ends_cleanly && peer_gone ? Error::closed() : error);
  core_.tasks.cancel_all();
}

asio::awaitable<void> Session::write_control() {
  Error error = co_await core_.control.run();
  if (!core_.closed() && !error.is_closed()) core_.close(error);
}

asio::awaitable<void> Session::read_control() {
  auto fail = [this](const Error& error) {
    spdlog::warn("moq {}: closing session: {} {}", core_.peer, error.code, error.reason);
    core_.close(error);
  };
  for (;;) {
    wire::Message message;
    for (;;) {
      const DecodeStatus status = decoder_.next(message);
      if (status == DecodeStatus::kNeedMore) break;
      if (status == DecodeStatus::kError) co_return fail(decoder_.error());
      if (auto handled = dispatch(message); !handled) co_return fail(handled.error());
      if (core_.closed()) co_return;
    }
    auto chunk = co_await core_.control_stream.recv->read();
    if (core_.closed()) co_return;
    if (!chunk) co_return fail({code::kRead, "control stream: " + chunk.error().reason});
    // The peer ending its control stream ends the session: cleanly between
    // messages, as a protocol error inside one.
    if (!*chunk) {
      if (decoder_.buffered() > 0) {
        co_return fail({code::kInternal, "control stream ended inside a message (" +
                                             std::to_string(decoder_.buffered()) + " bytes)"});
      }
      co_return core_.close(Error::closed());
    }
    decoder_.feed((*chunk)->span());
  }
}

Result<void> Session::dispatch(const wire::Message& message) {
  // Which role may send what (spec: control messages table).
  const bool from_publisher = wire::is_publisher(setup_.peer_role);
  const bool from_subscriber = wire::is_subscriber(setup_.peer_role);
  return std::visit(Overloaded{
                        [&](const wire::ClientSetup&) -> Result<void> {
                          return Error{code::kInternal, "unexpected CLIENT_SETUP"};
                        },
                        [&](const wire::ServerSetup&) -> Result<void> {
                          return Error{code::kInternal, "unexpected SERVER_SETUP"};
                        },
                        [&](const wire::Subscribe& m) -> Result<void> {
                          if (!from_subscriber) return role_violation(message);
                          return publisher_.on_subscribe(m);
                        },
                        [&](const wire::SubscribeStop& m) -> Result<void> {
                          if (!from_subscriber) return role_violation(message);
                          publisher_.on_subscribe_stop(m);
                          return {};
                        },
                        [&](const wire::AnnounceOk& m) -> Result<void> {
                          if (!from_subscriber) return role_violation(message);
                          publisher_.on_announce_ok(m);
                          return {};
                        },
                        [&](const wire::AnnounceReset& m) -> Result<void> {
                          if (!from_subscriber) return role_violation(message);
                          publisher_.on_announce_reset(m);
                          return {};
                        },
                        [&](const wire::SubscribeOk& m) -> Result<void> {
                          if (!from_publisher) return role_violation(message);
                          subscriber_.on_subscribe_ok(m);
                          return {};
                        },
                        [&](const wire::SubscribeReset& m) -> Result<void> {
                          if (!from_publisher) return role_violation(message);
                          subscriber_.on_subscribe_reset(m);
                          return {};
                        },
                        [&](const wire::Announce& m) -> Result<void> {
                          if (!from_publisher) return role_violation(message);
                          subscriber_.on_announce(m);
                          return {};
                        },
                        [&](const wire::AnnounceStop& m) -> Result<void> {
                          if (!from_publisher) return role_violation(message);
                          subscriber_.on_announce_stop(m);
                          return {};
                        },
                        [&](const wire::GoAway& m) -> Result<void> {
                          if (setup_.is_server)
                            return role_violation(message);  // only servers send it
                          // Never fatal: remember where to go and end this session cleanly.
                          spdlog::info("moq {}: GOAWAY, reconnect to '{}'", core_.peer, m.url);
                          goaway_url_ = m.url;
                          core_.transport->close(app_code(code::kClosed), "goaway");
                          return {};
                        },
                    },
                    message);
}

}  // namespace moq::session
