#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "coding/error.h"
#include "coding/result.h"
#include "lite/message.h"
#include "session/config.h"
#include "session/task_group.h"
#include "session/track_source.h"
#include "transport/transport.h"

namespace moq::lite {

// What a moq-lite session serves from: the broadcasts live where it runs
// (a relay's Origins, with its derived views), by absolute path.
class Origin {
 public:
  virtual ~Origin() = default;
  // The live broadcast at `path`, or why not (404). May wait (a relay asks
  // its cluster).
  virtual asio::awaitable<Result<cache::BroadcastReader>> find(std::string path) = 0;
  // Every live broadcast path, and a stamp that changes whenever that list
  // may have (announcement streams poll it; it is cheap).
  virtual std::vector<std::string> live() = 0;
  virtual uint64_t generation() = 0;
  // The mdhd timescale of an fMP4 track, if known (frame timestamps on
  // moq-lite-05 are derived from its tfdt); 0: unknown.
  virtual uint32_t timescale(const std::string& path, const std::string& track) {
    (void)path;
    (void)track;
    return 0;
  }
};

// Serves nothing: for sessions that only consume (a relay's upstream).
class NoBroadcasts final : public Origin {
 public:
  asio::awaitable<Result<cache::BroadcastReader>> find(std::string) override {
    co_return Error::not_found();
  }
  std::vector<std::string> live() override { return {}; }
  uint64_t generation() override { return 0; }
};

// A random origin id for announcements: non-zero, below 2^53 (the JS
// clients read it as a number). Relays route by these ids, so two
// endpoints must not share one.
uint64_t random_origin_id();

class StreamReader;
using StreamReaderPtr = std::shared_ptr<StreamReader>;

struct SessionConfig {
  // Our origin id in announcements (non-zero, below 2^53 for the JS
  // clients).
  uint64_t origin_id = 1;
  // Group streams one subscription may have open at once.
  size_t max_groups_per_subscription = 16;
  // A group stream the peer has not taken in this long gives way to a newer
  // group when the window is full.
  std::chrono::milliseconds stall_timeout{1000};
  // Subscriptions (and announcement streams) a peer may hold at once.
  size_t max_requests = 1024;
  // A group stream with more than this many bytes unacknowledged waits.
  uint64_t stream_high_water = 256 * 1024;
  // How often an announcement stream looks for broadcasts that came or went.
  std::chrono::milliseconds announce_poll{100};
  // How long the groups we receive stay cached (catalog tracks, named
  // `*.json`, stay while their broadcast lives).
  std::chrono::milliseconds group_expiry{10'000};
  // What the tracks we consume end with when the peer disappears (its
  // session closed, reset or timed out): false, that error; true, a clean
  // end. A relay sets it for publishers (viewers see a publisher that went
  // away like one that said goodbye), as session::Config does for KIXEL_00.
  bool peer_gone_ends_cleanly = false;
};

// Counters for logs and /metrics.
struct SessionStats {
  uint64_t subscriptions = 0;
  uint64_t groups_started = 0;
  uint64_t groups_dropped = 0;
  uint64_t frames_sent = 0;
  uint64_t payload_bytes_sent = 0;
  uint64_t tracks_ended = 0;  // consumed tracks the peer ended cleanly
};

// A moq-lite session (03, 04, 05) over one transport session, serving the
// broadcasts of `origin` to the peer: ANNOUNCE (what is live under a
// prefix), SUBSCRIBE (groups as uni streams, frames inside), TRACK (05),
// FETCH (05), PROBE (closed at once: no estimates), GOAWAY. Paths the peer
// names are relative to `root` (the URL path of the session).
//
// Segments of the cache are groups; their frames are the moof+mdat
// fragments of an fMP4 segment (zero copy: slices of the cached chunks) or
// the whole segment for anything else (a catalog). Nothing the peer sends
// ends more than its stream, except a SETUP or stream type that breaks the
// protocol, which closes this session (protocol violation), never another.
class Session : public session::TrackSource, public std::enable_shared_from_this<Session> {
 public:
  static std::shared_ptr<Session> create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         Version version, std::string root,
                                         std::shared_ptr<Origin> origin, SessionConfig config = {});
  ~Session() override;

  // Runs until the transport session ends; returns how it ended.
  asio::awaitable<Error> run();
  void close(uint32_t code, std::string_view reason) { transport_->close(code, reason); }
  // Tells the peer to reconnect (04+: a GOAWAY stream; 03: nothing).
  void goaway(std::string uri);

  // ---- the consuming side: what the peer publishes ----
  // Fills `broadcast`'s track requests by subscribing to the peer's
  // broadcast at `path` (relative to the root): each request becomes a
  // SUBSCRIBE (on 05 after a TRACK for its timescale), each group a segment
  // whose frames are marked (cache::FrameStart, timestamps in µs).
  // `from_start`: ask for every group the peer still has (start group 0),
  // not just the newest.
  void consume(std::string path, cache::BroadcastWriter broadcast, bool from_start = false);
  // Asks the peer what it publishes under `prefix` (relative); `on_change`
  // gets each path (relative to the root) as it becomes active or ends, and
  // every active one ends when the peer ends the stream or the session.
  // One track of the peer's broadcast at `path`, into `track` (what
  // consume() does for each request).
  void subscribe(std::string path, cache::TrackWriter track, bool from_start = false) override;
  using AnnounceHandler = std::function<void(const std::string& path, bool active)>;
  void watch_announcements(std::string prefix, AnnounceHandler on_change);

  Version version() const { return version_; }
  const SessionStats& stats() const { return stats_; }
  // SUBSCRIBEs the peer holds now (a publisher that ends waits for 0).
  size_t active_subscriptions() const { return active_subscriptions_; }
  const std::shared_ptr<transport::Session>& transport() const override { return transport_; }

 private:
  struct Subscription;
  Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
          Version version, std::string root, std::shared_ptr<Origin> origin, SessionConfig config);

  asio::awaitable<void> accept_bidi();
  asio::awaitable<void> accept_uni();
  asio::awaitable<void> send_setup();
  asio::awaitable<void> on_bidi(transport::BidiStream stream);
  asio::awaitable<void> on_uni(std::shared_ptr<transport::RecvStream> stream);
  asio::awaitable<void> serve_announce(transport::BidiStream stream, std::vector<uint8_t> rest);
  asio::awaitable<void> serve_subscribe(transport::BidiStream stream, std::vector<uint8_t> rest);
  asio::awaitable<void> serve_track(transport::BidiStream stream, std::vector<uint8_t> rest);
  asio::awaitable<void> serve_fetch(transport::BidiStream stream, std::vector<uint8_t> rest);
  asio::awaitable<void> send_group(std::shared_ptr<Subscription> sub, cache::SegmentReader segment);
  asio::awaitable<bool> wait_for_slot(std::shared_ptr<Subscription> sub);
  asio::awaitable<void> watch_subscriber(std::shared_ptr<Subscription> sub,
                                         std::shared_ptr<transport::RecvStream> recv,
                                         std::vector<uint8_t> rest);
  asio::awaitable<void> serve_requests(std::string path, cache::BroadcastWriter broadcast,
                                       bool from_start);
  asio::awaitable<void> subscribe_track(std::string path, cache::TrackWriter track,
                                        bool from_start);
  asio::awaitable<void> read_group(StreamReaderPtr reader);
  asio::awaitable<void> read_announcements(std::string prefix, AnnounceHandler on_change);
  std::string absolute(const std::string& relative) const { return join_path(root_, relative); }
  void violation(const std::string& why);

  std::shared_ptr<transport::Session> transport_;
  const Version version_;
  const std::string root_;
  std::shared_ptr<Origin> origin_;
  const SessionConfig config_;
  session::TaskGroup tasks_;
  SessionStats stats_;
  size_t requests_ = 0;
  size_t active_subscriptions_ = 0;
  const std::string peer_;
  // Our SUBSCRIBEs, by id: where their groups go.
  struct Incoming {
    explicit Incoming(cache::TrackWriter t) : track(std::move(t)) {}
    cache::TrackWriter track;
    uint64_t timescale = 1'000'000;
    size_t groups_in_flight = 0;
    async::Notify changed;
  };
  std::unordered_map<uint64_t, std::shared_ptr<Incoming>> incoming_;
  uint64_t next_subscribe_id_ = 0;
};

}  // namespace moq::lite
