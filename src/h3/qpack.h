#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct nghttp3_qpack_encoder;
struct nghttp3_qpack_decoder;

namespace moq::h3 {

struct Header {
  std::string name;
  std::string value;
  friend bool operator==(const Header&, const Header&) = default;
};
using HeaderList = std::vector<Header>;

// First value of `name` in `headers`, or nullptr.
const std::string* find_header(const HeaderList& headers, std::string_view name);

// QPACK (RFC 9204) through nghttp3, with a zero-capacity dynamic table and zero
// blocked streams: field sections are static-table references and literals
// (nghttp3 Huffman-codes a literal when that is shorter), and the encoder and
// decoder streams stay empty.
class QpackEncoder {
 public:
  QpackEncoder();
  ~QpackEncoder();
  QpackEncoder(QpackEncoder&&) noexcept;
  QpackEncoder& operator=(QpackEncoder&&) noexcept;

  // The encoded field section (prefix + field lines), i.e. a HEADERS payload.
  // Names must be lowercase. Empty on failure (out of memory).
  std::vector<uint8_t> encode(int64_t stream_id, const HeaderList& headers);
  // Bytes of the peer's QPACK decoder stream. False, with `why`, on an
  // instruction RFC 9204 makes a QPACK_DECODER_STREAM_ERROR.
  bool read_decoder_stream(std::span<const uint8_t> bytes, std::string& why);

 private:
  nghttp3_qpack_encoder* enc_ = nullptr;
};

struct QpackDecodeResult {
  bool ok = false;
  HeaderList headers;
  uint64_t error_code = 0;  // QPACK_DECOMPRESSION_FAILED / H3_EXCESSIVE_LOAD
  std::string reason;
};

class QpackDecoder {
 public:
  // `max_field_section_size`: sum of name+value+32 per field (RFC 9114 §4.2.2)
  // beyond which decoding fails with H3_EXCESSIVE_LOAD.
  explicit QpackDecoder(size_t max_field_section_size = 64 * 1024);
  ~QpackDecoder();
  QpackDecoder(QpackDecoder&&) noexcept;
  QpackDecoder& operator=(QpackDecoder&&) noexcept;

  // Decodes one complete field section (a HEADERS payload).
  QpackDecodeResult decode(int64_t stream_id, std::span<const uint8_t> field_section);
  // Bytes of the peer's QPACK encoder stream. We allow no dynamic table, so
  // a capacity above 0 or an insertion is an error: false, with `why`, means
  // QPACK_ENCODER_STREAM_ERROR (RFC 9204 §4.3.1).
  bool read_encoder_stream(std::span<const uint8_t> bytes, std::string& why);

 private:
  nghttp3_qpack_decoder* dec_ = nullptr;
  size_t max_size_;
};

}  // namespace moq::h3
