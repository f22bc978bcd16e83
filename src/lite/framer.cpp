#include "lite/framer.h"

namespace moq::lite {

namespace {

// The whole segment is one frame.
class WholeSegment final : public Framer {
 public:
  Result<void> push(Bytes chunk, std::vector<Frame>&) override {
    frame_.size += chunk.size();
    frame_.parts.push_back(std::move(chunk));
    return {};
  }
  Result<void> finish(std::vector<Frame>& out) override {
    out.push_back(std::move(frame_));
    frame_ = {};
    return {};
  }

 private:
  Frame frame_;
};

bool starts_fmp4(const Bytes& chunk) {
  if (chunk.size() < 8) return false;
  const std::string_view type = chunk.view().substr(4, 4);
  return type == "moof" || type == "styp" || type == "sidx" || type == "prft" || type == "emsg";
}

}  // namespace

std::unique_ptr<Framer> make_fmp4_framer(uint32_t timescale);  // fmp4_framer.cpp

std::unique_ptr<Framer> Framer::for_segment(const Bytes& first_chunk, uint32_t timescale) {
  if (starts_fmp4(first_chunk)) return make_fmp4_framer(timescale);
  return std::make_unique<WholeSegment>();
}

}  // namespace moq::lite
