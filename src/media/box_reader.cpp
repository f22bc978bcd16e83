#include "media/box_reader.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace moq::media {

void BoxReader::feed(Bytes chunk) {
  if (chunk.empty() || error_) return;
  buffered_ += chunk.size();
  chunks_.push_back(std::move(chunk));
}

Error BoxReader::fail(std::string why) {
  error_ = Error::internal(std::move(why));
  return *error_;
}

size_t BoxReader::peek(std::span<uint8_t> out) const {
  size_t got = 0;
  for (const Bytes& c : chunks_) {
    if (got == out.size()) break;
    const size_t n = std::min(c.size(), out.size() - got);
    std::memcpy(out.data() + got, c.data(), n);
    got += n;
  }
  return got;
}

std::optional<FourCC> BoxReader::peek_type() const {
  std::array<uint8_t, 8> head{};
  if (peek(head) < head.size()) return std::nullopt;
  return FourCC((uint32_t(head[4]) << 24) | (uint32_t(head[5]) << 16) | (uint32_t(head[6]) << 8) |
                uint32_t(head[7]));
}

Bytes BoxReader::take(size_t n) {
  buffered_ -= n;
  Bytes& front = chunks_.front();
  if (front.size() >= n) {
    // The common case for a pipe read in large chunks: a slice, no copy.
    Bytes out = front.slice(0, n);
    front = front.slice(n);
    if (front.empty()) chunks_.pop_front();
    return out;
  }
  std::vector<uint8_t> gathered;
  gathered.reserve(n);  // every byte is already here: the size is not a claim
  while (gathered.size() < n) {
    Bytes& c = chunks_.front();
    const size_t k = std::min(c.size(), n - gathered.size());
    gathered.insert(gathered.end(), c.data(), c.data() + k);
    c = c.slice(k);
    if (c.empty()) chunks_.pop_front();
  }
  return Bytes(std::move(gathered));
}

Result<std::optional<Box>> BoxReader::next() {
  if (error_) return *error_;
  std::array<uint8_t, 16> head{};
  const size_t have = peek(head);
  BoxHeader h;
  std::string why;
  const HeaderStatus st =
      parse_box_header(std::span<const uint8_t>(head.data(), have), max_, h, why);
  if (st == HeaderStatus::kError) return fail(why);
  if (st == HeaderStatus::kNeedMore) {
    if (!finished_ || buffered_ == 0) return std::optional<Box>();
    return fail("truncated box header at end of input (" + std::to_string(buffered_) + " bytes)");
  }
  uint64_t size = h.size;
  if (h.to_end) {
    // Size 0: the box runs to the end of the input, so only the last box can
    // use it, and it is complete only once the input has ended.
    if (buffered_ > max_) {
      return fail("box '" + h.type.str() + "' running to end of input exceeds the limit of " +
                  std::to_string(max_) + " bytes");
    }
    if (!finished_) return std::optional<Box>();
    size = buffered_;
  }
  if (buffered_ < size) {
    if (!finished_) return std::optional<Box>();
    return fail("truncated box '" + h.type.str() + "' at end of input: " +
                std::to_string(buffered_) + " of " + std::to_string(size) + " bytes");
  }
  Box box;
  box.type = h.type;
  box.header_size = h.header_size;
  box.bytes = take(static_cast<size_t>(size));
  ++boxes_;
  return std::optional<Box>(std::move(box));
}

}  // namespace moq::media
