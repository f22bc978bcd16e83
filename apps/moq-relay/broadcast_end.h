#pragma once

#include <memory>
#include <optional>

#include "async/notify.h"
#include "coding/error.h"

namespace moq::relay {

// How a broadcast this relay serves came to an end: its publisher left (a
// local broadcast) or the upstream session to its origin relay ended (a
// remote one). The subscriber sessions serving it wait on this to close
// themselves with the same code once their tracks are drained, so that a
// downstream relay's upstream session, and then its own subscribers, end too.
//
// Only touched from the io_context thread.
struct BroadcastEnd {
  async::Notify changed;
  std::optional<Error> error;

  void set(const Error& end) {
    if (error) return;
    error = end;
    changed.notify_all();
  }
};

}  // namespace moq::relay
