#pragma once

#include <cstdint>
#include <vector>

#include "coding/bytes.h"
#include "coding/reader.h"
#include "coding/result.h"

namespace moq::wire {

// Header of a data stream: one object (segment) per unidirectional stream,
// this header first, then the payload until FIN.
struct ObjectHeader {
  static constexpr uint64_t kType = 0x0;
  uint64_t track = 0;     // the SUBSCRIBE id
  uint64_t sequence = 0;  // position of the object in the track
  int32_t priority = 0;   // larger is more important: sent first
  uint64_t expires = 0;   // seconds to cache; 0 = never expires

  friend bool operator==(const ObjectHeader&, const ObjectHeader&) = default;
};

// The longest possible header: type + 3 varints + i32.
inline constexpr size_t kMaxObjectHeaderSize = 1 + 8 + 8 + 4 + 8;

Result<void> encode(const ObjectHeader& h, std::vector<uint8_t>& out);

// Decodes a header from the front of `r` (type 0x0 included).
DecodeStatus decode(Reader& r, ObjectHeader& out);

// Incremental decoder for the start of a data stream. Chunks are handed in as
// they arrive; once the header is complete the bytes after it are handed back
// as slices of the same chunks (the payload is never copied).
class ObjectStreamDecoder {
 public:
  // Feeds one chunk. Returns kOk as soon as the header is known (the rest of
  // the chunk is then available from take_payload()), kNeedMore, or kError.
  // After kOk, pass later chunks straight to the payload.
  DecodeStatus feed(const Bytes& chunk);

  const ObjectHeader& header() const { return header_; }
  const Error& error() const { return error_; }
  // Payload bytes that arrived together with the header (may be empty).
  Bytes take_payload() { return std::move(payload_); }

 private:
  std::vector<uint8_t> pending_;  // header bytes so far (at most 29)
  ObjectHeader header_;
  Bytes payload_;
  Error error_;
  DecodeStatus status_ = DecodeStatus::kNeedMore;
};

}  // namespace moq::wire
