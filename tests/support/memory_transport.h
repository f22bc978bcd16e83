#pragma once

// An in-memory transport::Session pair for tests: two ends joined by queues
// on one io_context, with the stream semantics the session layer relies on
// (FIN, reset, stop, session close, stream credit) and backpressure that can
// be controlled: a "stalled" end never reads, so its peer's buffered() grows
// and drained() never returns, as with a subscriber that stopped acking.
//
// Chunks are handed over as the very Bytes that were written, so tests can
// check that nothing was copied on the way.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/transport.h"

namespace moq::test {

struct MemoryOptions {
  // drained() on this end's streams returns once buffered() <= this.
  uint64_t drain_threshold = 0;
  // Unidirectional streams the peer may have open towards this end (not yet
  // read to FIN, reset or stopped) before its open_uni() waits for credit.
  size_t max_incoming_uni = 1024;
};

namespace detail {
struct Link;
}

class MemorySession final : public transport::Session {
 public:
  MemorySession(std::shared_ptr<detail::Link> link, int side);
  // Dropping one end ends the session for the other (code 503).
  ~MemorySession() override;

  asio::awaitable<Result<transport::BidiStream>> open_bidi() override;
  asio::awaitable<Result<std::shared_ptr<transport::SendStream>>> open_uni() override;
  asio::awaitable<Result<transport::BidiStream>> accept_bidi() override;
  asio::awaitable<Result<std::shared_ptr<transport::RecvStream>>> accept_uni() override;
  void close(uint32_t code, std::string_view reason) override;
  asio::awaitable<Error> closed() override;
  bool is_closed() const override;
  std::string path() const override;
  std::string peer() const override;

  // While stalled, reads on this end deliver no data (resets still arrive).
  void set_stalled(bool stalled);
  // Bytes this end wrote that the peer has not read yet, over all streams.
  uint64_t buffered() const;
  // Uni streams this end opened that still hold the peer's credit.
  size_t open_uni_streams() const;
  // Keeps every chunk this end reads, for zero-copy checks.
  void record_reads(bool on);
  const std::vector<Bytes>& reads() const;

 private:
  std::shared_ptr<detail::Link> link_;
  int side_;
};

// A connected pair: first = the client end, second = the server end.
std::pair<std::shared_ptr<MemorySession>, std::shared_ptr<MemorySession>> make_memory_pair(
    MemoryOptions client = {}, MemoryOptions server = {}, std::string path = "/test");

}  // namespace moq::test
