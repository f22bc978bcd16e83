#include "echo.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

namespace moq::echo {
namespace {

constexpr std::string_view kCloseCommand = "close";

asio::awaitable<void> echo_bidi(std::shared_ptr<wt::WtSession> session, transport::BidiStream s) {
  std::string head;  // the first bytes, to recognise "close"
  uint64_t total = 0;
  for (;;) {
    auto chunk = co_await s.recv->read();
    if (!chunk) co_return;  // reset or session gone
    if (!chunk.value()) break;
    const Bytes& b = *chunk.value();
    total += b.size();
    if (head.size() < kCloseCommand.size() + 1) {
      head += b.view().substr(0, kCloseCommand.size() + 1 - head.size());
    }
    if (!s.send->write(b)) co_return;
  }
  if (total == kCloseCommand.size() && head == kCloseCommand) {
    spdlog::info("session {}: close requested", session->peer());
    session->close(42, "bye");
    co_return;
  }
  (void)s.send->finish();
}

asio::awaitable<void> echo_uni(std::shared_ptr<wt::WtSession> session,
                               std::shared_ptr<transport::RecvStream> in) {
  auto out = co_await session->open_uni();
  if (!out) co_return;
  for (;;) {
    auto chunk = co_await in->read();
    if (!chunk) {
      out.value()->reset(0);
      co_return;
    }
    if (!chunk.value()) break;
    if (!out.value()->write(*chunk.value())) co_return;
  }
  (void)out.value()->finish();
}

asio::awaitable<void> accept_bidi(std::shared_ptr<wt::WtSession> session) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto s = co_await session->accept_bidi();
    if (!s) co_return;
    asio::co_spawn(ex, echo_bidi(session, std::move(s.value())), asio::detached);
  }
}

asio::awaitable<void> accept_uni(std::shared_ptr<wt::WtSession> session) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto s = co_await session->accept_uni();
    if (!s) co_return;
    asio::co_spawn(ex, echo_uni(session, std::move(s.value())), asio::detached);
  }
}

}  // namespace

asio::awaitable<void> serve(std::shared_ptr<wt::WtSession> session) {
  auto ex = co_await asio::this_coro::executor;
  spdlog::info("session {} {}: started", session->peer(), session->path());
  asio::co_spawn(ex, accept_bidi(session), asio::detached);
  asio::co_spawn(ex, accept_uni(session), asio::detached);
  const Error why = co_await session->closed();
  spdlog::info("session {} {}: ended, code {} reason '{}'", session->peer(), session->path(),
               why.code, why.reason);
}

}  // namespace moq::echo
