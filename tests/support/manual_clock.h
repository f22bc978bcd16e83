#pragma once

#include "async/clock.h"

namespace moq::test {

// A clock that only moves when the test says so, for checking expiry and
// deadlines without sleeping.
class ManualClock final : public async::Clock {
 public:
  time_point now() const override { return now_; }
  void advance(duration by) { now_ += by; }

 private:
  time_point now_{};  // the epoch: any fixed start will do
};

}  // namespace moq::test
