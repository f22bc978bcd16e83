#include "output_writer.h"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <functional>

namespace moq::sub {

OutputWriter::OutputWriter(asio::any_io_executor executor, int fd)
    : executor_(std::move(executor)), fd_(fd) {
  const int copy = ::dup(fd);
  if (copy < 0) return;
  asio::posix::stream_descriptor stream(executor_);
  asio::error_code ec;
  stream.assign(copy, ec);
  if (ec) {
    ::close(copy);  // a regular file: written directly
    return;
  }
  stream_.emplace(std::move(stream));
}

void OutputWriter::write(Bytes bytes) {
  if (failed() || bytes.empty()) return;
  queue_.push_back(std::move(bytes));
  if (!running_) {
    running_ = true;
    asio::co_spawn(executor_, run(), asio::detached);
  }
}

asio::awaitable<void> OutputWriter::flush() {
  while (!failed() && (running_ || !queue_.empty())) {
    const bool woke = co_await changed_.wait();
    if (!woke) co_return;
  }
}

void OutputWriter::fail(int err) {
  if (failed()) return;
  if (err == EPIPE) {
    reader_gone_ = true;
  } else {
    error_ = std::string("cannot write output: ") + std::strerror(err);
  }
  queue_.clear();
  if (on_failure_) on_failure_();
}

asio::awaitable<void> OutputWriter::run() {
  while (!queue_.empty() && !failed()) {
    Bytes bytes = std::move(queue_.front());
    queue_.pop_front();
    if (stream_) {
      asio::error_code ec;
      co_await asio::async_write(*stream_, asio::buffer(bytes.data(), bytes.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        fail(ec.value());
        break;
      }
    } else {
      size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          fail(errno);
          break;
        }
        done += static_cast<size_t>(n);
      }
      if (failed()) break;
    }
    written_ += bytes.size();
  }
  running_ = false;
  changed_.notify_all();
}

}  // namespace moq::sub
