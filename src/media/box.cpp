#include "media/box.h"

#include "media/be_reader.h"

namespace moq::media {

HeaderStatus parse_box_header(std::span<const uint8_t> data, uint64_t max_size, BoxHeader& out,
                              std::string& error) {
  if (data.size() < 8) return HeaderStatus::kNeedMore;
  BeReader r(data);
  const uint32_t size32 = r.u32();
  out.type = FourCC(r.u32());
  out.header_size = 8;
  out.to_end = false;
  if (size32 == 0) {
    out.to_end = true;
    out.size = 0;
    return HeaderStatus::kOk;
  }
  if (size32 == 1) {
    if (data.size() < 16) return HeaderStatus::kNeedMore;
    out.header_size = 16;
    out.size = r.u64();
    if (out.size < 16) {
      error = "box '" + out.type.str() + "' has invalid 64-bit size " + std::to_string(out.size) +
              " (minimum 16)";
      return HeaderStatus::kError;
    }
  } else if (size32 < 8) {
    error =
        "box '" + out.type.str() + "' has invalid size " + std::to_string(size32) + " (minimum 8)";
    return HeaderStatus::kError;
  } else {
    out.size = size32;
  }
  if (out.size > max_size) {
    error = "box '" + out.type.str() + "' size " + std::to_string(out.size) +
            " exceeds the limit of " + std::to_string(max_size) + " bytes";
    return HeaderStatus::kError;
  }
  return HeaderStatus::kOk;
}

Result<void> for_each_child(std::span<const uint8_t> payload,
                            const std::function<Result<void>(const BoxView&)>& fn) {
  while (payload.size() >= 8) {
    BoxHeader h;
    std::string why;
    // Inside a parent the parent's size already bounds the child.
    const HeaderStatus st = parse_box_header(payload, UINT64_MAX, h, why);
    if (st == HeaderStatus::kError) return Error::internal(why);
    if (st == HeaderStatus::kNeedMore) return box_error(h.type, "truncated 64-bit header");
    const uint64_t size = h.to_end ? payload.size() : h.size;
    if (size > payload.size()) {
      return box_error(h.type, "size " + std::to_string(size) + " overruns its parent (" +
                                   std::to_string(payload.size()) + " bytes left)");
    }
    const auto whole = payload.first(static_cast<size_t>(size));
    if (auto r = fn(BoxView{h.type, whole, whole.subspan(h.header_size)}); !r) return r;
    payload = payload.subspan(static_cast<size_t>(size));
  }
  return {};
}

Result<BoxView> find_child(std::span<const uint8_t> payload, FourCC type) {
  BoxView found;
  bool have = false;
  auto r = for_each_child(payload, [&](const BoxView& b) -> Result<void> {
    if (!have && b.type == type) {
      found = b;
      have = true;
    }
    return {};
  });
  if (!r) return r.error();
  return found;
}

Error box_error(FourCC type, const std::string& what) {
  return Error::internal("box '" + type.str() + "': " + what);
}

}  // namespace moq::media
