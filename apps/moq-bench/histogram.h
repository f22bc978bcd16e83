#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moq::bench {

// A histogram of non-negative values (latencies in ns) in logarithmic
// buckets: exact below 64, then 64 buckets per power of two, so a quantile
// is off by at most 1/64 (1.6 %). Cheap to add to, and histograms of
// several threads merge by adding their counts. The maximum is exact.
class Histogram {
 public:
  void add(int64_t value);
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  // The value under which a fraction `q` (0..1) of the values lie: the upper
  // edge of the bucket holding that rank, never above the maximum. 0 when
  // empty.
  int64_t quantile(double q) const;

 private:
  static constexpr int kSubBits = 6;
  static size_t bucket(uint64_t value);
  static uint64_t upper_edge(size_t bucket);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace moq::bench
