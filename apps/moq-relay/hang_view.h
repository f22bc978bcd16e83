#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "media/hang_mux.h"

namespace moq::relay {

// The KIXEL_00 view of a broadcast that a moq-lite client publishes in the
// hang format without a `.catalog` of its own: the legacy container
// (@moq/publish: raw codec frames) or CMAF under other names (moq-cli):
// `.catalog`, one init track `1.mp4` and fMP4 data tracks "1", "2", ...,
// muxed by media::HangMuxer from the hang tracks, for moq-sub and the watch
// page. It lives in the same cache broadcast as the hang tracks, so viewers
// of every dialect share it, and it runs only once a KIXEL viewer asks for
// one of its names (a KIXEL viewer, or the relay's index reading
// `.catalog`). The muxing copies each frame once per relay (a moof is
// written in front of it), never per viewer.
//
// Which renditions: the largest video one and the first audio one (a
// KIXEL viewer plays one of each). Catalog changes before the view is ready
// rebuild it (the publisher's catalog grows as its encoders come up); later
// ones only refresh `.catalog` if they are compatible, and are logged and
// left alone otherwise.
class HangView : public std::enable_shared_from_this<HangView> {
 public:
  // `broadcast`: where the view reads the hang tracks and creates its own.
  HangView(asio::any_io_executor executor, cache::BroadcastWriter writer,
           cache::BroadcastReader reader, std::string name);

  // Whether a track name belongs to the KIXEL view.
  static bool kixel_name(const std::string& name);
  // A KIXEL viewer's request for one of its names (kixel_name()); the first
  // one starts the view.
  void request(cache::TrackWriter track);
  void stop();

 private:
  asio::awaitable<void> run();
  asio::awaitable<void> pump(size_t track, uint64_t generation);
  // The writer of a KIXEL track: a viewer's pending request, or a new track.
  cache::TrackWriter* track_writer(const std::string& name);
  void publish_init_and_catalog();

  asio::any_io_executor executor_;
  cache::BroadcastWriter writer_;
  cache::BroadcastReader reader_;
  const std::string name_;
  std::map<std::string, cache::TrackWriter> tracks_;  // the KIXEL ones, by name
  std::optional<media::HangMuxer> muxer_;
  uint64_t generation_ = 0;  // bumped when the muxer is rebuilt
  bool started_ = false;
  bool stopped_ = false;
  bool published_ = false;
  uint64_t catalog_sequence_ = 0;
  struct Open {
    std::optional<cache::SegmentWriter> segment;
    uint64_t next_sequence = 0;
  };
  std::vector<Open> open_;  // per muxer track
};

}  // namespace moq::relay
