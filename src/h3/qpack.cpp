#include "h3/qpack.h"

#include <nghttp3/nghttp3.h>

#include <utility>

#include "h3/error.h"

namespace moq::h3 {

const std::string* find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

// ---- encoder ----

QpackEncoder::QpackEncoder() {
  // hard_max_dtable_capacity 0: the dynamic table can never be used.
  if (nghttp3_qpack_encoder_new(&enc_, 0, nghttp3_mem_default()) != 0) enc_ = nullptr;
  if (enc_) {
    nghttp3_qpack_encoder_set_max_dtable_capacity(enc_, 0);
    nghttp3_qpack_encoder_set_max_blocked_streams(enc_, 0);
  }
}

QpackEncoder::~QpackEncoder() {
  if (enc_) nghttp3_qpack_encoder_del(enc_);
}

QpackEncoder::QpackEncoder(QpackEncoder&& o) noexcept : enc_(std::exchange(o.enc_, nullptr)) {}

QpackEncoder& QpackEncoder::operator=(QpackEncoder&& o) noexcept {
  if (this != &o) {
    if (enc_) nghttp3_qpack_encoder_del(enc_);
    enc_ = std::exchange(o.enc_, nullptr);
  }
  return *this;
}

std::vector<uint8_t> QpackEncoder::encode(int64_t stream_id, const HeaderList& headers) {
  std::vector<uint8_t> out;
  if (!enc_) return out;
  std::vector<nghttp3_nv> nva;
  nva.reserve(headers.size());
  for (const auto& h : headers) {
    nghttp3_nv nv{};
    // nghttp3 only reads these during encode().
    nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(h.name.data()));
    nv.namelen = h.name.size();
    nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(h.value.data()));
    nv.valuelen = h.value.size();
    nv.flags = NGHTTP3_NV_FLAG_NONE;
    nva.push_back(nv);
  }
  const nghttp3_mem* mem = nghttp3_mem_default();
  nghttp3_buf pbuf, rbuf, ebuf;
  nghttp3_buf_init(&pbuf);
  nghttp3_buf_init(&rbuf);
  nghttp3_buf_init(&ebuf);
  const int rv =
      nghttp3_qpack_encoder_encode(enc_, &pbuf, &rbuf, &ebuf, stream_id, nva.data(), nva.size());
  // With a zero-capacity table nothing goes to the encoder stream (ebuf).
  if (rv == 0 && nghttp3_buf_len(&ebuf) == 0) {
    out.insert(out.end(), pbuf.pos, pbuf.last);
    out.insert(out.end(), rbuf.pos, rbuf.last);
  }
  nghttp3_buf_free(&pbuf, mem);
  nghttp3_buf_free(&rbuf, mem);
  nghttp3_buf_free(&ebuf, mem);
  return out;
}

bool QpackEncoder::read_decoder_stream(std::span<const uint8_t> bytes, std::string& why) {
  if (bytes.empty()) return true;
  if (!enc_) {
    why = "QPACK encoder unavailable";
    return false;
  }
  const nghttp3_ssize n = nghttp3_qpack_encoder_read_decoder(enc_, bytes.data(), bytes.size());
  if (n < 0) {
    why = std::string("QPACK decoder stream: ") + nghttp3_strerror(static_cast<int>(n));
    return false;
  }
  return true;
}

// ---- decoder ----

QpackDecoder::QpackDecoder(size_t max_field_section_size) : max_size_(max_field_section_size) {
  if (nghttp3_qpack_decoder_new(&dec_, 0, 0, nghttp3_mem_default()) != 0) dec_ = nullptr;
}

QpackDecoder::~QpackDecoder() {
  if (dec_) nghttp3_qpack_decoder_del(dec_);
}

QpackDecoder::QpackDecoder(QpackDecoder&& o) noexcept
    : dec_(std::exchange(o.dec_, nullptr)), max_size_(o.max_size_) {}

QpackDecoder& QpackDecoder::operator=(QpackDecoder&& o) noexcept {
  if (this != &o) {
    if (dec_) nghttp3_qpack_decoder_del(dec_);
    dec_ = std::exchange(o.dec_, nullptr);
    max_size_ = o.max_size_;
  }
  return *this;
}

namespace {
struct StreamContext {
  nghttp3_qpack_stream_context* ctx = nullptr;
  ~StreamContext() {
    if (ctx) nghttp3_qpack_stream_context_del(ctx);
  }
};
std::string rcbuf_string(nghttp3_rcbuf* buf) {
  const nghttp3_vec v = nghttp3_rcbuf_get_buf(buf);
  return std::string(reinterpret_cast<const char*>(v.base), v.len);
}
}  // namespace

bool QpackDecoder::read_encoder_stream(std::span<const uint8_t> bytes, std::string& why) {
  if (bytes.empty()) return true;
  if (!dec_) {
    why = "QPACK decoder unavailable";
    return false;
  }
  const nghttp3_ssize n = nghttp3_qpack_decoder_read_encoder(dec_, bytes.data(), bytes.size());
  if (n < 0) {
    why = std::string("QPACK encoder stream: ") + nghttp3_strerror(static_cast<int>(n));
    return false;
  }
  return true;
}

QpackDecodeResult QpackDecoder::decode(int64_t stream_id, std::span<const uint8_t> field_section) {
  QpackDecodeResult res;
  auto fail = [&](uint64_t code, std::string why) {
    res.ok = false;
    res.headers.clear();
    res.error_code = code;
    res.reason = std::move(why);
    return res;
  };
  if (!dec_) return fail(error::kInternalError, "QPACK decoder unavailable");
  StreamContext sctx;
  if (nghttp3_qpack_stream_context_new(&sctx.ctx, stream_id, nghttp3_mem_default()) != 0) {
    return fail(error::kInternalError, "out of memory");
  }
  const uint8_t* p = field_section.data();
  size_t left = field_section.size();
  size_t total = 0;
  while (true) {
    nghttp3_qpack_nv nv{};
    uint8_t flags = 0;
    const nghttp3_ssize n =
        nghttp3_qpack_decoder_read_request(dec_, sctx.ctx, &nv, &flags, p, left, /*fin=*/1);
    if (n < 0) {
      return fail(error::kQpackDecompressionFailed,
                  std::string("QPACK: ") + nghttp3_strerror(static_cast<int>(n)));
    }
    p += n;
    left -= static_cast<size_t>(n);
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
      Header h{rcbuf_string(nv.name), rcbuf_string(nv.value)};
      nghttp3_rcbuf_decref(nv.name);
      nghttp3_rcbuf_decref(nv.value);
      total += h.name.size() + h.value.size() + 32;
      if (total > max_size_) return fail(error::kExcessiveLoad, "field section too large");
      res.headers.push_back(std::move(h));
    }
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) break;
    if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED) {
      // Impossible with a zero-capacity table; a peer that references the
      // dynamic table anyway is broken.
      return fail(error::kQpackDecompressionFailed, "field section references dynamic table");
    }
    if (n == 0 && !(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT)) {
      return fail(error::kQpackDecompressionFailed, "truncated field section");
    }
  }
  res.ok = true;
  return res;
}

}  // namespace moq::h3
