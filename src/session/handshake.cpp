#include "session/handshake.h"

#include <asio/this_coro.hpp>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "session/core.h"

namespace moq::session {
namespace {

// The control stream goes before any object stream.
constexpr int32_t kControlPriority = std::numeric_limits<int32_t>::max();

Error fail(transport::Session& transport, Error error) {
  transport.close(app_code(error.code), error.reason);
  return error;
}

Result<void> send(transport::SendStream& stream, const wire::Message& message) {
  std::vector<uint8_t> bytes;
  if (auto encoded = wire::encode(message, bytes); !encoded) return encoded.error();
  if (auto written = stream.write(Bytes(std::move(bytes))); !written) {
    return Error{code::kWrite, "control stream: " + written.error().reason};
  }
  return {};
}

// Reads the control stream until one whole message decodes. Bytes after it
// stay in `decoder` for the session.
asio::awaitable<Result<wire::Message>> read_message(transport::RecvStream& stream,
                                                    wire::ControlDecoder& decoder) {
  for (;;) {
    wire::Message message;
    switch (decoder.next(message)) {
      case DecodeStatus::kOk:
        co_return message;
      case DecodeStatus::kError:
        co_return decoder.error();
      case DecodeStatus::kNeedMore:
        break;
    }
    auto chunk = co_await stream.read();
    if (!chunk) co_return Error{code::kRead, "control stream: " + chunk.error().reason};
    if (!*chunk) co_return Error{code::kRead, "control stream ended during setup"};
    decoder.feed((*chunk)->span());
  }
}

}  // namespace

asio::awaitable<Result<std::shared_ptr<Session>>> connect(
    std::shared_ptr<transport::Session> transport, wire::Role role, Config config) {
  return connect(std::move(transport), wire::ClientSetup{{wire::kKixel00}, role}, config);
}

asio::awaitable<Result<std::shared_ptr<Session>>> connect(
    std::shared_ptr<transport::Session> transport, wire::ClientSetup setup, Config config) {
  auto executor = co_await asio::this_coro::executor;
  auto control = co_await transport->open_bidi();
  if (!control) {
    // A server that refused us at once (e.g. 400 for the path) closed the
    // session with its reason: that is the error, not a generic 503.
    if (transport->is_closed()) {
      Error refused = co_await transport->closed();
      co_return refused;
    }
    co_return fail(*transport, {code::kSession, control.error().reason});
  }
  control->send->set_priority(kControlPriority);
  if (auto sent = send(*control->send, setup); !sent) co_return fail(*transport, sent.error());

  wire::ControlDecoder decoder;
  auto reply = co_await read_message(*control->recv, decoder);
  // A server that refused us closed the session with its reason (406, 300...).
  if (!reply && transport->is_closed()) {
    Error refused = co_await transport->closed();
    co_return refused;
  }
  if (!reply) co_return fail(*transport, reply.error());
  auto* server = std::get_if<wire::ServerSetup>(&*reply);
  if (!server) {
    co_return fail(*transport, {code::kInternal, "expected SERVER_SETUP, got " +
                                                     std::string(wire::name_of(*reply))});
  }
  if (auto checked = wire::check_server_setup(*server, setup.role); !checked) {
    co_return fail(*transport, checked.error());
  }
  co_return Session::create(executor, std::move(transport), std::move(*control), std::move(decoder),
                            {.role = setup.role, .peer_role = server->role, .is_server = false},
                            config);
}

asio::awaitable<Result<ServerHandshake>> accept(std::shared_ptr<transport::Session> transport) {
  auto executor = co_await asio::this_coro::executor;
  auto control = co_await transport->accept_bidi();
  if (!control) co_return fail(*transport, {code::kSession, control.error().reason});
  control->send->set_priority(kControlPriority);

  wire::ControlDecoder decoder;
  auto hello = co_await read_message(*control->recv, decoder);
  if (!hello) co_return fail(*transport, hello.error());
  auto* client = std::get_if<wire::ClientSetup>(&*hello);
  if (!client) {
    co_return fail(*transport, {code::kInternal, "expected CLIENT_SETUP, got " +
                                                     std::string(wire::name_of(*hello))});
  }
  co_return ServerHandshake(executor, std::move(transport), std::move(*control), std::move(decoder),
                            std::move(*client));
}

ServerHandshake::ServerHandshake(asio::any_io_executor executor,
                                 std::shared_ptr<transport::Session> transport,
                                 transport::BidiStream control, wire::ControlDecoder decoder,
                                 wire::ClientSetup client)
    : executor_(std::move(executor)),
      transport_(std::move(transport)),
      control_(std::move(control)),
      decoder_(std::move(decoder)),
      client_(std::move(client)) {}

Result<std::shared_ptr<Session>> ServerHandshake::accept(wire::Role role, Config config) {
  auto negotiated = wire::negotiate(client_, role);
  if (!negotiated) return fail(*transport_, negotiated.error());
  if (auto sent = send(*control_.send, *negotiated); !sent) return fail(*transport_, sent.error());
  return Session::create(executor_, transport_, control_, std::move(decoder_),
                         {.role = role, .peer_role = client_.role, .is_server = true}, config);
}

void ServerHandshake::reject(const Error& error) {
  (void)fail(*transport_, error);
}

}  // namespace moq::session
