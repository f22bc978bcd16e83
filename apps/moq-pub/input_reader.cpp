#include "input_reader.h"

#include <unistd.h>

#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>

namespace moq::pub {
namespace {

constexpr size_t kChunkSize = 64 * 1024;

}  // namespace

InputReader::InputReader(asio::any_io_executor executor, int fd)
    : executor_(std::move(executor)), fd_(fd), buffer_(kChunkSize) {
  // A dup, so that closing the descriptor object leaves the process's fd
  // alone. Registration fails (EPERM) for regular files: read them directly.
  const int copy = ::dup(fd);
  if (copy < 0) return;
  asio::posix::stream_descriptor stream(executor_);
  asio::error_code ec;
  stream.assign(copy, ec);
  if (ec) {
    ::close(copy);
    return;
  }
  stream_.emplace(std::move(stream));
}

asio::awaitable<Result<std::optional<Bytes>>> InputReader::read() {
  size_t n = 0;
  if (stream_) {
    asio::error_code ec;
    n = co_await stream_->async_read_some(asio::buffer(buffer_),
                                          asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) co_return std::nullopt;
    if (ec) co_return Error::internal("cannot read input: " + ec.message());
  } else {
    // Let the rest of the event loop run between chunks of a file.
    co_await asio::post(executor_, asio::use_awaitable);
    ssize_t got = 0;
    do {
      got = ::read(fd_, buffer_.data(), buffer_.size());
    } while (got < 0 && errno == EINTR);
    if (got < 0)
      co_return Error::internal(std::string("cannot read input: ") + std::strerror(errno));
    if (got == 0) co_return std::nullopt;
    n = static_cast<size_t>(got);
  }
  total_ += n;
  // One exact-size copy per read: the reusable buffer stays 64 KiB while the
  // cached media holds only what arrived.
  co_return Bytes::copy(std::span<const uint8_t>(buffer_.data(), n));
}

}  // namespace moq::pub
