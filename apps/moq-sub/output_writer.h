#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "async/notify.h"
#include "coding/bytes.h"

namespace moq::sub {

// Writes Bytes to a file descriptor (stdout) in order without blocking the
// event loop: pipes and ttys through the reactor, regular files (which epoll
// refuses, and which don't block) with plain write() calls. The bytes are
// the received media itself, queued by reference, not copied.
//
// A reader that goes away (EPIPE: `moq-sub ... | head -c 100`) is not an
// error of ours: reader_gone() tells the program to stop quietly.
class OutputWriter {
 public:
  OutputWriter(asio::any_io_executor executor, int fd);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;

  // Queues bytes for writing (ignored once the output failed).
  void write(Bytes bytes);
  // Waits until everything queued so far was written, or the output failed.
  asio::awaitable<void> flush();

  bool reader_gone() const { return reader_gone_; }
  const std::optional<std::string>& error() const { return error_; }
  bool failed() const { return reader_gone_ || error_.has_value(); }
  uint64_t bytes_written() const { return written_; }
  // Called when the output fails (reader gone or error).
  void on_failure(std::function<void()> fn) { on_failure_ = std::move(fn); }

 private:
  asio::awaitable<void> run();
  void fail(int err);

  asio::any_io_executor executor_;
  int fd_;
  std::optional<asio::posix::stream_descriptor> stream_;  // unset: regular file
  std::deque<Bytes> queue_;
  bool running_ = false;
  bool reader_gone_ = false;
  std::optional<std::string> error_;
  uint64_t written_ = 0;
  async::Notify changed_;
  std::function<void()> on_failure_;
};

}  // namespace moq::sub
