#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "coding/bytes.h"
#include "coding/result.h"

namespace moq::pub {

// Reads a file descriptor (stdin) in chunks without blocking the event loop.
// Pipes, ttys and sockets go through the reactor; a regular file (which epoll
// refuses, and which never blocks) is read with plain read() calls, yielding
// to the event loop between chunks so the session keeps running.
class InputReader {
 public:
  InputReader(asio::any_io_executor executor, int fd);
  InputReader(const InputReader&) = delete;
  InputReader& operator=(const InputReader&) = delete;

  // The next chunk (its own exact-size buffer); nullopt at end of input.
  asio::awaitable<Result<std::optional<Bytes>>> read();

  uint64_t bytes_read() const { return total_; }

 private:
  asio::any_io_executor executor_;
  int fd_;
  std::optional<asio::posix::stream_descriptor> stream_;  // unset: regular file
  std::vector<uint8_t> buffer_;
  uint64_t total_ = 0;
};

}  // namespace moq::pub
