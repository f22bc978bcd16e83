#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>

#include "async/notify.h"
#include "session/task_group.h"
#include "transport/transport.h"

namespace moq::lite {

// The group streams one subscription has in flight, oldest first, and the
// rule every dialect of today shares (moq-lite groups, IETF subgroups): a
// full window waits for a group to finish; a group the peer has not taken
// for `stall_timeout` gives way to the newer one (live media: a slow viewer
// skips rather than falls further behind).
struct GroupWindow {
  struct Group {
    uint64_t sequence = 0;
    uint64_t task = 0;  // its sending coroutine in the session's TaskGroup
    std::shared_ptr<transport::SendStream> stream;
    std::chrono::steady_clock::time_point started;
    bool done = false;
  };
  std::deque<std::shared_ptr<Group>> groups;
  async::Notify changed;
  bool ended = false;

  // The group in flight with this sequence, if any.
  std::shared_ptr<Group> find(uint64_t sequence) const;
  // `group` is over (sent, or given up): its slot is free.
  void finished(const std::shared_ptr<Group>& group);
};

struct WindowLimits {
  size_t max_groups = 16;
  std::chrono::milliseconds stall_timeout{1000};
  uint32_t stalled_reset_code = 0;  // the reset of a group that gave way
};

// Waits until `window` has room for one more group (dropping a stalled
// one: its stream reset, its task cancelled, `dropped` counted). false when
// the window ended or the wait was cancelled.
asio::awaitable<bool> wait_for_slot(std::shared_ptr<GroupWindow> window, WindowLimits limits,
                                    session::TaskGroup& tasks, uint64_t& dropped);

}  // namespace moq::lite
