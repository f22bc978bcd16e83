#pragma once

#include <memory>

#include "coding/error.h"

// Pieces shared by the cache's handle classes (segment.h, track.h,
// broadcast.h). A handle is either live or moved-from: a moved-from handle
// answers calls that can fail with empty_handle(); plain accessors (name(),
// info(), sequence()) need a live handle.

namespace moq::cache::detail {

// Shared by every copy of one writer handle. When the last copy goes away the
// token closes the level with code 0 ("closed"), so a producer that disappears
// (even through an early return or a failure) never leaves readers waiting.
// `Shared` needs a `close(Error)` that is a no-op on an already closed level.
template <typename Shared>
class WriterToken {
 public:
  explicit WriterToken(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  ~WriterToken() { (void)shared_->close(Error::closed()); }
  WriterToken(const WriterToken&) = delete;
  WriterToken& operator=(const WriterToken&) = delete;

  const std::shared_ptr<Shared>& shared() const { return shared_; }

 private:
  std::shared_ptr<Shared> shared_;
};

// What a moved-from (empty) handle answers instead of crashing.
inline Error empty_handle() {
  return Error::internal("empty cache handle");
}

// What an awaiting reader answers when its coroutine is cancelled (e.g. the
// losing side of `a || b`): the caller stopped waiting, as with the wire's 206.
inline Error cancelled() {
  return {code::kStop, "cancelled"};
}

}  // namespace moq::cache::detail
