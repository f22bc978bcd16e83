#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace moq::bench {

size_t Histogram::bucket(uint64_t value) {
  constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  if (value < kSub) return static_cast<size_t>(value);
  const int msb = static_cast<int>(std::bit_width(value)) - 1;  // >= kSubBits
  const int shift = msb - kSubBits;
  const uint64_t mantissa = value >> shift;  // in [kSub, 2 * kSub)
  return static_cast<size_t>((uint64_t(shift) + 1) * kSub + (mantissa - kSub));
}

uint64_t Histogram::upper_edge(size_t index) {
  constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  if (index < kSub) return index;
  const uint64_t shift = index / kSub - 1;
  const uint64_t mantissa = index % kSub + kSub;
  return ((mantissa + 1) << shift) - 1;
}

void Histogram::add(int64_t value) {
  if (value < 0) value = 0;
  const size_t b = bucket(static_cast<uint64_t>(value));
  if (b >= counts_.size()) counts_.resize(b + 1, 0);
  ++counts_[b];
  ++count_;
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(static_cast<int64_t>(upper_edge(i)), max_);
  }
  return max_;
}

}  // namespace moq::bench
