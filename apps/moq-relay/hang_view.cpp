#include "hang_view.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <chrono>
#include <utility>

#include "lite/frame_reader.h"
#include "media/catalog.h"
#include "media/hang.h"

namespace moq::relay {

namespace {

constexpr size_t kMaxCatalogBytes = 64 * 1024;
constexpr auto kSegmentExpiry = std::chrono::seconds(10);

// The first frame of a catalog.json group: the whole JSON (later frames of
// a group are merge patches, which @moq/publish does not send).
asio::awaitable<std::optional<std::string>> first_frame_text(cache::SegmentReader segment) {
  lite::FrameReader frames(std::move(segment), 0);
  auto frame = co_await frames.next();
  if (!frame || !*frame || (*frame)->size > kMaxCatalogBytes) co_return std::nullopt;
  std::string text;
  for (const auto& part : (*frame)->parts)
    text.append(part.view());
  co_return text;
}

// The renditions a KIXEL viewer gets: the largest video, the first audio.
std::vector<std::string> chosen_renditions(const std::string& catalog_json) {
  auto parsed = media::kixel_from_hang_catalog(catalog_json);
  if (!parsed) return {};
  const media::HangRendition* video = nullptr;
  const media::HangRendition* audio = nullptr;
  auto pixels = [](const media::HangRendition& r) {
    return uint64_t{r.track.width.value_or(0)} * r.track.height.value_or(0);
  };
  for (const auto& r : parsed->renditions) {
    if (r.track.kind == "video" && (!video || pixels(r) > pixels(*video))) video = &r;
    if (r.track.kind == "audio" && !audio) audio = &r;
  }
  std::vector<std::string> names;
  if (video) names.push_back(video->name);
  if (audio) names.push_back(audio->name);
  return names;
}

}  // namespace

HangView::HangView(asio::any_io_executor executor, cache::BroadcastWriter writer,
                   cache::BroadcastReader reader, std::string name)
    : executor_(std::move(executor)),
      writer_(std::move(writer)),
      reader_(std::move(reader)),
      name_(std::move(name)) {}

bool HangView::kixel_name(const std::string& name) {
  if (name == media::kCatalogTrack || name == media::kInitTrack) return true;
  if (name.empty() || name.size() > 9) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void HangView::request(cache::TrackWriter track) {
  if (stopped_) {
    (void)track.close(Error::closed());
    return;
  }
  const std::string name = track.name();
  tracks_.insert_or_assign(name, std::move(track));
  if (published_ && name == media::kCatalogTrack) publish_init_and_catalog();
  if (!started_) {
    started_ = true;
    asio::co_spawn(executor_, run(), asio::detached);
  }
}

void HangView::stop() {
  stopped_ = true;
  for (auto& open : open_) {
    if (open.segment) (void)open.segment->finish();
  }
  for (auto& [name, track] : tracks_)
    (void)track.finish();
}

cache::TrackWriter* HangView::track_writer(const std::string& name) {
  auto it = tracks_.find(name);
  if (it == tracks_.end()) {
    auto created = writer_.create_track(name);
    if (!created) return nullptr;
    it = tracks_.emplace(name, std::move(*created)).first;
  }
  return &it->second;
}

void HangView::publish_init_and_catalog() {
  if (!muxer_ || !muxer_->ready()) return;
  auto write_whole = [&](const std::string& name, uint64_t sequence, Bytes bytes) {
    cache::TrackWriter* track = track_writer(name);
    if (!track) return;
    cache::SegmentInfo info;
    info.sequence = sequence;
    info.priority = std::numeric_limits<int32_t>::max();
    auto segment = track->create_segment(info);
    if (!segment) return;
    (void)segment->write(std::move(bytes));
    (void)segment->finish();
  };
  if (!published_) {
    write_whole(std::string(media::kInitTrack), 0, Bytes::copy(std::span(muxer_->init())));
    published_ = true;
  }
  write_whole(std::string(media::kCatalogTrack), catalog_sequence_++,
              Bytes::copy(media::to_json(muxer_->catalog())));
}

asio::awaitable<void> HangView::run() {
  auto self = shared_from_this();
  auto catalog = reader_.request_track(std::string(media::kHangCatalogTrack));
  if (!catalog) co_return;
  std::optional<uint64_t> newest;
  for (;;) {
    auto segment = co_await catalog->next_segment();
    if (stopped_ || !segment) co_return;
    if (newest && segment->sequence() <= *newest) continue;
    newest = segment->sequence();
    auto json = co_await first_frame_text(std::move(*segment));
    if (stopped_) co_return;
    if (!json) continue;
    if (muxer_ && muxer_->ready()) {
      auto updated = muxer_->update(*json);
      if (updated && *updated == media::HangMuxer::Update::kCatalog) publish_init_and_catalog();
      if (!updated || *updated == media::HangMuxer::Update::kIncompatible) {
        spdlog::info("broadcast '{}': a catalog.json change the KIXEL view cannot follow", name_);
      }
      continue;
    }
    media::HangMuxOptions options;
    options.renditions = chosen_renditions(*json);
    auto muxer = media::HangMuxer::create(*json, options);
    if (!muxer) {
      spdlog::info("broadcast '{}': no KIXEL view: {}", name_, muxer.error().reason);
      continue;
    }
    muxer_ = std::move(*muxer);
    ++generation_;
    open_.assign(muxer_->tracks().size(), Open{});
    spdlog::info("broadcast '{}': KIXEL view of {} hang tracks", name_, muxer_->tracks().size());
    for (size_t i = 0; i < muxer_->tracks().size(); ++i) {
      asio::co_spawn(executor_, pump(i, generation_), asio::detached);
    }
  }
}

asio::awaitable<void> HangView::pump(size_t index, uint64_t generation) {
  auto self = shared_from_this();
  const std::string hang_name = muxer_->tracks()[index].hang_name;
  const std::string kixel_name = std::to_string(muxer_->tracks()[index].track_id);
  auto source = reader_.request_track(hang_name);
  if (!source) co_return;
  std::optional<uint64_t> newest;
  for (;;) {
    auto group = co_await source->next_segment();
    if (stopped_ || generation != generation_ || !group) co_return;
    // Newest first out of a backlog; older groups would go back in time.
    if (newest && group->sequence() < *newest) continue;
    newest = group->sequence();
    lite::FrameReader frames(std::move(*group), 0);
    bool group_start = true;
    for (;;) {
      auto frame = co_await frames.next();
      if (stopped_ || generation != generation_) co_return;
      if (!frame || !*frame) break;
      std::vector<uint8_t> bytes;
      bytes.reserve((*frame)->size);
      for (const auto& part : (*frame)->parts) {
        bytes.insert(bytes.end(), part.data(), part.data() + part.size());
      }
      auto fragment = muxer_->frame(index, bytes, group_start);
      group_start = false;
      if (!fragment || !*fragment) continue;
      if ((*fragment)->became_ready || (muxer_->ready() && !published_)) {
        publish_init_and_catalog();
      }
      Open& open = open_[index];
      if ((*fragment)->new_segment || !open.segment) {
        if (open.segment) (void)open.segment->finish();
        open.segment.reset();
        cache::TrackWriter* track = track_writer(kixel_name);
        if (!track) continue;
        cache::SegmentInfo info;
        info.sequence = open.next_sequence++;
        info.priority = (*fragment)->priority;
        info.expires = std::chrono::duration_cast<async::Clock::duration>(kSegmentExpiry);
        auto segment = track->create_segment(info);
        if (!segment) continue;
        open.segment = std::move(*segment);
      }
      (void)open.segment->write(Bytes(std::move((*fragment)->bytes)));
    }
  }
}

}  // namespace moq::relay
