#include "lite/framer.h"
#include "media/hang.h"

namespace moq::lite {

namespace {

// One frame per moof+mdat fragment (media::FragmentSplitter).
class Fmp4Fragments final : public Framer {
 public:
  explicit Fmp4Fragments(uint32_t timescale) : splitter_(timescale) {}
  Result<void> push(Bytes chunk, std::vector<Frame>& out) override {
    scratch_.clear();
    auto fed = splitter_.feed(std::move(chunk), scratch_);
    for (auto& f : scratch_)
      out.push_back(Frame{std::move(f.parts), f.size, f.timestamp_us});
    return fed;
  }
  Result<void> finish(std::vector<Frame>&) override { return splitter_.finish(); }

 private:
  media::FragmentSplitter splitter_;
  std::vector<media::HangFrame> scratch_;
};

}  // namespace

std::unique_ptr<Framer> make_fmp4_framer(uint32_t timescale) {
  return std::make_unique<Fmp4Fragments>(timescale);
}

}  // namespace moq::lite
