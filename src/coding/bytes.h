#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace moq {

// An immutable, reference-counted slice of bytes.
//
// Media payload enters the process once (the ingress copy out of the QUIC
// stack) and from then on travels as Bytes: the cache, every subscriber's send
// buffer and every slice point at the same storage, so fan-out to N readers
// costs N reference-count bumps, never N copies. Copying a Bytes copies the
// handle, not the data.
class Bytes {
 public:
  Bytes() = default;

  // Takes ownership of `data` without copying it.
  explicit Bytes(std::vector<uint8_t>&& data) {
    auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(data));
    size_ = owner->size();
    storage_ = std::shared_ptr<const uint8_t>(owner, owner->data());
  }

  // The one place that copies: bytes that arrive in a transient buffer. One
  // allocation holds the count and the bytes (this runs per received chunk).
  static Bytes copy(std::span<const uint8_t> data) {
    Bytes out;
    if (data.empty()) return out;
    std::shared_ptr<uint8_t[]> buffer = std::make_shared_for_overwrite<uint8_t[]>(data.size());
    std::memcpy(buffer.get(), data.data(), data.size());
    out.storage_ = std::shared_ptr<const uint8_t>(buffer, buffer.get());
    out.size_ = data.size();
    return out;
  }
  static Bytes copy(std::string_view text) {
    auto p = reinterpret_cast<const uint8_t*>(text.data());
    return copy(std::span<const uint8_t>(p, text.size()));
  }

  const uint8_t* data() const { return storage_ ? storage_.get() + offset_ : nullptr; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data(), size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }
  uint8_t operator[](size_t i) const { return data()[i]; }

  // A sub-slice sharing the same storage. Clamped to the available bytes.
  Bytes slice(size_t offset, size_t length = SIZE_MAX) const {
    Bytes out;
    if (offset > size_) offset = size_;
    if (length > size_ - offset) length = size_ - offset;
    out.storage_ = storage_;
    out.offset_ = offset_ + offset;
    out.size_ = length;
    return out;
  }

  // True when both slices view the very same memory (used by tests to prove
  // that fan-out shares buffers instead of copying them).
  bool shares_storage_with(const Bytes& other) const {
    return storage_ && other.storage_ && !storage_.owner_before(other.storage_) &&
           !other.storage_.owner_before(storage_);
  }
  long use_count() const { return storage_.use_count(); }

  friend bool operator==(const Bytes& a, const Bytes& b) { return a.view() == b.view(); }

 private:
  std::shared_ptr<const uint8_t> storage_;  // aliases the start of the owned buffer
  size_t offset_ = 0;
  size_t size_ = 0;
};

}  // namespace moq
