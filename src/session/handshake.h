#pragma once

#include <asio/awaitable.hpp>
#include <memory>
#include <string_view>

#include "coding/error.h"
#include "coding/result.h"
#include "session/config.h"
#include "session/session.h"
#include "transport/transport.h"
#include "wire/control_decoder.h"
#include "wire/setup.h"

// The KIXEL_00 handshake on the first bidirectional stream (the control
// stream). Any failure closes the transport session with the error's code
// (406 for version or role) and is returned; nothing is thrown.

namespace moq::session {

// Client side: opens the control stream, sends CLIENT_SETUP (KIXEL_00 and
// `role`), and checks the SERVER_SETUP that answers it.
asio::awaitable<Result<std::shared_ptr<Session>>> connect(
    std::shared_ptr<transport::Session> transport, wire::Role role, Config config = {});
// The same with a hand-made CLIENT_SETUP (e.g. other versions, for tests).
asio::awaitable<Result<std::shared_ptr<Session>>> connect(
    std::shared_ptr<transport::Session> transport, wire::ClientSetup setup, Config config = {});

// Server side, in two steps so the caller can look at the client's role
// before answering (a relay refuses role "both" with 300, a second
// publisher of a broadcast with 409, ...):
//
//   auto handshake = co_await session::accept(transport);
//   if (handshake->client().role == Role::kBoth) handshake->reject({300, "..."});
//   else auto session = handshake->accept(Role::kSubscriber);
class ServerHandshake {
 public:
  ServerHandshake(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
                  transport::BidiStream control, wire::ControlDecoder decoder,
                  wire::ClientSetup client);

  const wire::ClientSetup& client() const { return client_; }

  // Negotiates (wire::negotiate) and answers SERVER_SETUP with our `role`.
  // On 406 the session is closed with it and the error returned.
  Result<std::shared_ptr<Session>> accept(wire::Role role, Config config = {});
  // Refuses the client: closes the session with `error`'s code and reason.
  void reject(const Error& error);

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<transport::Session> transport_;
  transport::BidiStream control_;
  wire::ControlDecoder decoder_;
  wire::ClientSetup client_;
};

// Waits for the client's control stream and reads its CLIENT_SETUP.
asio::awaitable<Result<ServerHandshake>> accept(std::shared_ptr<transport::Session> transport);

}  // namespace moq::session
