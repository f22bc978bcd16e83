#include "session/control_writer.h"

#include <utility>
#include <vector>

namespace moq::session {

ControlWriter::ControlWriter(std::shared_ptr<transport::SendStream> stream)
    : stream_(std::move(stream)) {}

void ControlWriter::send(wire::Message message) {
  if (closed_) return;
  queue_.push_back(std::move(message));
  changed_.notify_all();
}

void ControlWriter::close() {
  closed_ = true;
  queue_.clear();
  changed_.notify_all();
}

asio::awaitable<Error> ControlWriter::run() {
  for (;;) {
    if (closed_) co_return Error::closed();
    if (!queue_.empty()) {
      // Everything queued so far goes out as one write.
      std::vector<uint8_t> bytes;
      while (!queue_.empty()) {
        auto encoded = wire::encode(queue_.front(), bytes);
        queue_.pop_front();
        if (!encoded) {
          closed_ = true;
          co_return Error{code::kInternal, "encode: " + encoded.error().reason};
        }
      }
      auto written = stream_->write(Bytes(std::move(bytes)));
      if (!written) {
        closed_ = true;
        co_return Error{code::kWrite, "control stream: " + written.error().reason};
      }
      continue;
    }
    const bool woke = co_await changed_.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

}  // namespace moq::session
