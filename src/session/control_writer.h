#pragma once

#include <asio/awaitable.hpp>
#include <deque>
#include <memory>

#include "async/notify.h"
#include "coding/error.h"
#include "transport/transport.h"
#include "wire/message.h"

namespace moq::session {

// The single owner of the control stream's sending half.
//
// Both halves of a session answer on the control stream; rather than sharing
// the stream, they enqueue messages here and one coroutine (run()) encodes
// and writes them in order. Sending never blocks the caller.
class ControlWriter {
 public:
  explicit ControlWriter(std::shared_ptr<transport::SendStream> stream);

  // Queues a message; dropped once the writer is closed.
  void send(wire::Message message);

  // Writes queued messages until close() or a write failure, which it
  // returns (the caller closes the session with it).
  asio::awaitable<Error> run();

  void close();
  bool closed() const { return closed_; }
  size_t queued() const { return queue_.size(); }

 private:
  std::shared_ptr<transport::SendStream> stream_;
  std::deque<wire::Message> queue_;
  async::Notify changed_;
  bool closed_ = false;
};

}  // namespace moq::session
