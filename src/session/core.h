#pragma once

#include <asio/any_io_executor.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "coding/error.h"
#include "session/config.h"
#include "session/control_writer.h"
#include "session/task_group.h"
#include "transport/transport.h"
#include "wire/setup.h"

namespace moq::session {

// A wire code as a transport application code (they are u32 in
// WebTransport); codes that don't fit become 500.
inline uint32_t app_code(uint64_t code) {
  return code <= std::numeric_limits<uint32_t>::max() ? static_cast<uint32_t>(code)
                                                      : static_cast<uint32_t>(code::kInternal);
}

// What the two halves of a session share: the transport, the control
// writer, the session's tasks and its limits. Owned by the Session.
struct Core {
  Core(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport_,
       transport::BidiStream control_stream_, Config config_, wire::Role peer_role_)
      : transport(std::move(transport_)),
        control_stream(std::move(control_stream_)),
        control(control_stream.send),
        tasks(std::move(executor)),
        config(config_),
        peer_role(peer_role_),
        peer(transport->peer()) {}

  // Ends the session (once) with `error`'s code; everything else follows
  // from the transport closing.
  void close(const Error& error) {
    if (transport->is_closed()) return;
    transport->close(app_code(error.code), error.reason);
  }
  bool closed() const { return transport->is_closed(); }

  const std::shared_ptr<transport::Session> transport;
  const transport::BidiStream control_stream;
  ControlWriter control;
  TaskGroup tasks;
  const Config config;
  const wire::Role peer_role;  // from its SETUP
  const std::string peer;      // for logs
};

}  // namespace moq::session
