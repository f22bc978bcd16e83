#pragma once

#include <chrono>
#include <memory>

namespace moq::async {

// The time source used for expiry and deadlines. It is injected rather than
// read from std::chrono directly so that tests can drive time by hand (see
// tests/support/manual_clock.h) and check expiry without sleeping.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// The real monotonic clock, shared by everyone who does not inject their own.
std::shared_ptr<const Clock> steady_clock();

}  // namespace moq::async
