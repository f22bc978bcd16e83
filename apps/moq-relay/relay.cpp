#include "relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <ctime>
#include <list>
#include <random>
#include <string>
#include <utility>
#include <variant>

#include <asio/use_awaitable.hpp>
#include <functional>
#include <optional>

#include "cache/broadcast.h"
#include "hang_view.h"
#include "ietf/session.h"
#include "lite/session.h"
#include "media/catalog.h"
#include "media/hang.h"
#include "metrics.h"
#include "mirror.h"
#include "session/handshake.h"
#include "session/session.h"
#include "waiting.h"
#include "wire/setup.h"

namespace moq::relay {

// One worker's share of the relay, shared by its session coroutines. Only
// its own thread touches it (the relay's other threads post to it).
struct Worker {
  Worker(unsigned i, asio::any_io_executor ex)
      : index(i), executor(ex), mirrors(ex), waiting(ex), sample_timer(ex) {}
  const unsigned index;
  const asio::any_io_executor executor;
  std::shared_ptr<Origins> origins;                               // every worker's
  std::shared_ptr<Cluster> cluster;                               // on worker 0; null: none
  std::shared_ptr<std::vector<asio::any_io_executor>> executors;  // by worker index
  std::shared_ptr<RelayShared> shared;
  std::shared_ptr<MetricsBoard> board;
  RelayConfig config;
  Mirrors mirrors;              // other workers' broadcasts, as seen here
  uint64_t lite_origin_id = 1;  // ours in moq-lite announcements (< 2^53)
  WaitingRoom waiting;          // viewers that came before their publisher
  std::unique_ptr<wt::Server> server;

  // The MoQ sessions past SETUP, for GOAWAY and /metrics.
  struct LiveSession {
    wire::Role role;  // the peer's
    std::weak_ptr<session::Session> session;
  };
  std::list<LiveSession> live;
  WorkerFigures ended;                    // counters of the sessions that ended
  RttHistogram rtt;                       // so far
  std::optional<std::string> goaway_url;  // set when draining
  asio::steady_timer sample_timer;
  bool stopped = false;  // shut down: no more samples

  // Takes this worker's figures and puts them on the board (also at a
  // /metrics request, on worker 0).
  void sample();
  // Adds every connection's smoothed RTT to the histogram (once a second).
  void observe_rtts();
  void sample_every_second();
  // Sends GOAWAY to every session; new ones get 503 from now on.
  void drain(const std::string& url);
};

// Keeps a session in its worker's live list while it runs; its counters go
// to the worker's totals when it ends.
class LiveSessionGuard {
 public:
  LiveSessionGuard(Worker& w, wire::Role role, const std::shared_ptr<session::Session>& session)
      : w_(w) {
    w_.live.push_front(Worker::LiveSession{role, session});
    it_ = w_.live.begin();
    ++w_.ended.sessions_started;
    ++w_.shared->live_sessions;
    // It started while the relay drains (its SETUP was on the way).
    if (w_.goaway_url) session->goaway(*w_.goaway_url);
  }
  ~LiveSessionGuard() {
    if (auto s = it_->session.lock()) add_counters(w_.ended, it_->role, *s);
    w_.live.erase(it_);
    --w_.shared->live_sessions;
  }
  LiveSessionGuard(const LiveSessionGuard&) = delete;
  LiveSessionGuard& operator=(const LiveSessionGuard&) = delete;

  static void add_counters(WorkerFigures& f, wire::Role role, const session::Session& s) {
    if (role == wire::Role::kPublisher) {
      f.objects_in += s.subscriber_stats().objects_received;
      f.bytes_in += s.subscriber_stats().payload_bytes_received;
    } else {
      f.subscriptions += s.publisher_stats().subscriptions;
      f.objects_out += s.publisher_stats().objects_started;
      f.bytes_out += s.publisher_stats().payload_bytes_sent;
      f.objects_dropped += s.publisher_stats().objects_dropped;
    }
  }

 private:
  Worker& w_;
  std::list<Worker::LiveSession>::iterator it_;
};

void Worker::sample() {
  WorkerFigures f = ended;
  f.worker = index;
  f.rtt = rtt;
  f.mirrors = mirrors.size();
  if (server) {
    const quic::Endpoint& endpoint = server->endpoint();
    f.connections = endpoint.connection_count();
    f.udp = endpoint.udp_stats();
    f.datagrams_unroutable = endpoint.dropped_datagrams();
    f.stream_packets_lost = endpoint.stream_packets_lost();
  }
  for (const auto& entry : live) {
    (entry.role == wire::Role::kPublisher ? f.publishers : f.subscribers) += 1;
    if (auto s = entry.session.lock()) LiveSessionGuard::add_counters(f, entry.role, *s);
  }
  timespec cpu{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
    f.cpu_seconds = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
  }
  board->put(f);
}

void Worker::observe_rtts() {
  if (!server) return;
  server->endpoint().for_each_connection([&](const quic::Connection& c) {
    const auto info = c.path_info();
    if (info.smoothed_rtt_ns > 0) rtt.observe(static_cast<double>(info.smoothed_rtt_ns) / 1e9);
  });
}

void Worker::sample_every_second() {
  if (stopped) return;
  observe_rtts();
  sample();
  sample_timer.expires_after(std::chrono::seconds(1));
  sample_timer.async_wait([this](const asio::error_code& ec) {
    // Cancelled when the worker stops, and never outlives it (it owns the
    // timer, whose destruction cancels it).
    if (!ec) sample_every_second();
  });
}

void Worker::drain(const std::string& url) {
  goaway_url = url;
  for (const auto& entry : live) {
    if (auto s = entry.session.lock()) s->goaway(url);
  }
}

namespace {

// What the start and end log lines of a session say. The start line is
// written once the SETUP told the role; a peer that fails before that only
// gets the end line (role "-").
struct SessionLog {
  std::string peer;
  std::string path;
  std::string role = "-";  // until the SETUP tells
};

void log_end(const SessionLog& log, const Error& end) {
  spdlog::info("session end: peer {} path '{}' role {} code {} reason '{}'", log.peer, log.path,
               log.role, end.code, end.reason);
}

// Clustering lives on worker 0: these run there (co_spawn'ed from the
// session's worker, which resumes with their value). Plain coroutine
// functions on purpose: GCC 12 destroys a lambda held by a std::function
// coroutine parameter twice.
using Registered = Result<std::unique_ptr<Registration>>;

asio::awaitable<std::optional<Registered>> register_on_worker0(std::shared_ptr<Cluster> cluster,
                                                               std::string name) {
  Registered registered = co_await cluster->register_origin(name);
  co_return std::optional<Registered>(std::move(registered));
}

asio::awaitable<std::shared_ptr<Upstream>> upstream_on_worker0(std::shared_ptr<Cluster> cluster,
                                                               std::string name) {
  co_return cluster->upstream(name);
}

// Drops `handle` on worker 0, where the object it holds lives.
template <class T>
void release_on_worker0(const Worker& w, T handle) {
  if (!handle) return;
  asio::post((*w.executors)[0], [h = std::move(handle)]() mutable { h.reset(); });
}

// A whole segment's bytes (a catalog, an init segment); nullopt if it was
// reset or is larger than `cap`.
asio::awaitable<std::optional<std::string>> read_whole(cache::SegmentReader segment, size_t cap) {
  std::string text;
  for (;;) {
    auto chunk = co_await segment.next_chunk();
    if (!chunk) {
      if (!chunk.error().is_closed()) co_return std::nullopt;
      co_return std::optional<std::string>(std::move(text));
    }
    if (text.size() + chunk->size() > cap) co_return std::nullopt;
    text.append(chunk->view());
  }
}

// The newest segment of a track that is complete now or soon (an init
// track holds one).
asio::awaitable<std::optional<std::string>> read_track_once(cache::BroadcastReader broadcast,
                                                            std::string name, size_t cap) {
  auto track = broadcast.request_track(name);
  if (!track) co_return std::nullopt;
  auto segment = co_await track->next_segment();
  if (!segment) co_return std::nullopt;
  co_return co_await read_whole(std::move(*segment), cap);
}

// Today's clients (moq-lite, @moq/watch) read a hang `catalog.json` track
// (docs/dialects.md §4): the relay derives it, once per catalog version,
// from the broadcast's `.catalog` and init segment, and writes it into the
// broadcast itself, where every dialect's viewers share it. The media tracks
// need no translation: a KIXEL segment is a hang group, its moof+mdat
// fragments are the CMAF frames (lite::Framer cuts them per send, slices
// only). Also records each data track's timescale, for moq-lite-05 frame
// timestamps.
asio::awaitable<bool> derive_hang_catalog(const std::string& kixel_catalog,
                                          cache::BroadcastReader broadcast,
                                          cache::TrackWriter& hang_catalog, uint64_t sequence,
                                          std::shared_ptr<Origins> origins, const std::string& name,
                                          uint64_t token) {
  constexpr size_t kMaxInitBytes = 1024 * 1024;
  auto parsed = media::parse_catalog(kixel_catalog);
  if (!parsed) co_return false;
  std::map<std::string, std::string> inits;
  for (const auto& t : parsed->tracks) {
    if (inits.contains(t.init_track)) continue;
    auto init = co_await read_track_once(broadcast, t.init_track, kMaxInitBytes);
    if (!init) co_return false;
    inits[t.init_track] = std::move(*init);
  }
  auto span_of = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto hang = media::hang_catalog_from_kixel(
      kixel_catalog, [&](std::string_view init_track) -> std::optional<std::span<const uint8_t>> {
        auto it = inits.find(std::string(init_track));
        if (it == inits.end()) return std::nullopt;
        return span_of(it->second);
      });
  if (!hang) {
    spdlog::info("broadcast '{}': no hang catalog.json: {}", name, hang.error().reason);
    co_return false;
  }
  std::map<std::string, uint32_t> timescales;
  for (const auto& t : parsed->tracks) {
    auto movie = media::parse_init_segment(span_of(inits[t.init_track]));
    if (!movie) continue;
    for (const auto& trak : movie->tracks) {
      if (std::to_string(trak.id) == t.data_track || movie->tracks.size() == 1) {
        timescales[t.data_track] = trak.timescale;
      }
    }
  }
  origins->set_timescales(name, token, std::move(timescales));
  cache::SegmentInfo info;
  info.sequence = sequence;
  auto segment = hang_catalog.create_segment(info);
  if (!segment) co_return false;
  (void)segment->write(Bytes::copy(*hang));
  (void)segment->finish();
  co_return true;
}

// The index page lists each broadcast with its tracks: this reads the
// broadcast's `.catalog` like any viewer (one upstream SUBSCRIBE, shared with
// the viewers'), and lists the newest complete segment (a publisher may
// publish a corrected catalog later); with `hang_catalog`, it also derives
// the hang catalog.json from it. Ends with the track, i.e. with the
// broadcast; a publisher without a catalog answers 404 and that is all.
asio::awaitable<void> watch_catalog(cache::BroadcastReader broadcast,
                                    std::shared_ptr<Origins> origins, std::string name,
                                    uint64_t token,
                                    std::optional<cache::TrackWriter> hang_catalog) {
  constexpr size_t kMaxCatalogBytes = 64 * 1024;
  auto track = broadcast.request_track(".catalog");
  if (!track) co_return;
  std::optional<uint64_t> newest;
  uint64_t hang_sequence = 0;
  for (;;) {
    auto segment = co_await track->next_segment();
    if (!segment) co_return;
    if (newest && segment->sequence() < *newest) continue;
    const uint64_t sequence = segment->sequence();
    auto text = co_await read_whole(std::move(*segment), kMaxCatalogBytes);
    if (!text) continue;
    newest = sequence;
    origins->set_catalog(name, token, *text);
    if (hang_catalog) {
      if (co_await derive_hang_catalog(*text, broadcast, *hang_catalog, hang_sequence, origins,
                                       name, token)) {
        ++hang_sequence;
      }
    }
  }
}

// Publisher: registers the broadcast under `name` for as long as the session
// lives (locally, and in moq-api when clustered). The session's subscriber
// half fills it on demand.
asio::awaitable<Error> run_publisher(session::ServerHandshake& handshake, std::string name,
                                     std::shared_ptr<Worker> w) {
  auto [writer, reader] = cache::make_broadcast();
  auto token = w->origins->add(name, w->index, reader);
  if (!token) {
    const Error duplicate = Error::duplicate();
    handshake.reject(duplicate);
    co_return duplicate;
  }
  std::unique_ptr<Registration> registration;
  if (w->cluster) {
    std::optional<Registered> found = co_await asio::co_spawn(
        (*w->executors)[0], register_on_worker0(w->cluster, name), asio::use_awaitable);
    Registered& registered = *found;
    if (!registered) {
      // 409: live on another relay. Anything else means moq-api can't tell
      // (unreachable, Redis down): refused as 504 rather than risking two
      // origins of one name.
      const Error refused = registered.error().code == code::kDuplicate
                                ? Error::duplicate()
                                : Error{code::kUpstream, "moq-api unreachable"};
      spdlog::warn("publisher of '{}' refused: moq-api: {} (code {})", name,
                   registered.error().reason, registered.error().code);
      w->origins->remove(name, *token);
      handshake.reject(refused);
      co_return refused;
    }
    registration = std::move(registered.value());
  }
  // A publisher that goes away (reset, closed, timed out) ends its tracks
  // like one that said goodbye: viewers see every track end with 0, and
  // their sessions go on (issue 9).
  session::Config config = w->config.session;
  config.peer_gone_ends_cleanly = true;
  auto accepted = handshake.accept(wire::Role::kSubscriber, config);
  if (!accepted) {
    w->origins->remove(name, *token);
    release_on_worker0(*w, std::move(registration));
    co_return accepted.error();
  }
  std::shared_ptr<session::Session> session = accepted.value();
  LiveSessionGuard registered(*w, wire::Role::kPublisher, session);
  // catalog.json exists from the start, so that a viewer asking for it
  // early waits for it rather than reaching the publisher (which has none).
  std::optional<cache::TrackWriter> hang_catalog;
  if (auto created = writer.create_track(std::string(media::kHangCatalogTrack))) {
    hang_catalog = std::move(*created);
  }
  (void)session->subscribe(std::move(writer));
  asio::co_spawn(w->executor,
                 watch_catalog(reader, w->origins, name, *token, std::move(hang_catalog)),
                 asio::detached);
  Error end = co_await session->run();
  // run() closed the broadcast: every subscriber's tracks are reset with its
  // end code. Free the name for the next publisher.
  w->origins->remove(name, *token);
  release_on_worker0(*w, std::move(registration));  // DELETE from moq-api
  co_return end;
}

// Subscriber: serves the broadcast live at connection time, local or (in a
// cluster) fetched from its origin relay, from this worker or (mirrored) from
// the worker that owns it; with none, the session has nothing to publish and
// answers every SUBSCRIBE with 404. When that broadcast ends, its tracks end
// (SUBSCRIBE_RESET) and the session stays until the viewer leaves.
asio::awaitable<Error> run_subscriber(session::ServerHandshake& handshake, std::string name,
                                      std::shared_ptr<Worker> w) {
  auto accepted = handshake.accept(wire::Role::kPublisher, w->config.session);
  if (!accepted) co_return accepted.error();
  std::shared_ptr<session::Session> session = accepted.value();
  LiveSessionGuard registered(*w, wire::Role::kSubscriber, session);
  std::shared_ptr<Upstream> upstream;         // held while this session lives
  std::shared_ptr<Mirror> mirror;             // ditto
  std::shared_ptr<WaitingBroadcast> waiting;  // ditto
  auto serve_from = [&](unsigned owner, uint64_t key, const cache::BroadcastReader& broadcast) {
    if (owner == w->index) {
      (void)session->publish(broadcast);
      return;
    }
    mirror = w->mirrors.get(key, (*w->executors)[owner], broadcast);
    (void)session->publish(mirror->broadcast());
  };
  // Counted as a viewer of the broadcast it is served (for the index page).
  std::optional<uint64_t> viewing;
  auto live = w->origins->find(name);
  // Clustered, with a publisher wait: a name moq-api does not know (yet) goes
  // to the waiting room, which keeps asking; anything else (registered, or
  // moq-api unreachable: 504 from the upstream as before) to the upstream.
  bool wait_for_cluster = false;
  if (!live && w->cluster && w->config.publisher_wait.count() > 0) {
    Result<bool> elsewhere = co_await origin_elsewhere(w->cluster, (*w->executors)[0], name);
    wait_for_cluster = elsewhere && !*elsewhere;
  }
  if (live) {
    serve_from(live->owner, live->token, live->broadcast);
    viewing = live->token;
    w->origins->add_viewers(name, live->token, 1);
  } else if (w->cluster && !wait_for_cluster) {
    upstream = co_await asio::co_spawn((*w->executors)[0], upstream_on_worker0(w->cluster, name),
                                       asio::use_awaitable);
    // Upstream ids and origin tokens are apart: the top bit tells them.
    serve_from(0, upstream->id() | (uint64_t{1} << 63), upstream->broadcast());
  } else if (w->config.publisher_wait.count() > 0) {
    waiting = w->waiting.get(name, w->origins, w->cluster, w->executors, w->config.publisher_wait);
    waiting->join();
    (void)session->publish(waiting->broadcast());
  }
  Error end = co_await session->run();
  if (viewing) w->origins->add_viewers(name, *viewing, -1);
  if (waiting) waiting->leave();
  waiting.reset();
  mirror.reset();
  release_on_worker0(*w, std::move(upstream));
  co_return end;
}

// What a moq-lite session of this worker serves: every broadcast live on
// the relay (from its owner worker, mirrored when that is another one),
// under its name and, for the hang convention, under `name.hang` as well.
class LiteOrigin final : public lite::Origin {
 public:
  LiteOrigin(std::shared_ptr<Worker> w, std::optional<auth::Grant> grant)
      : w_(std::move(w)), grant_(std::move(grant)) {}

  ~LiteOrigin() override {
    for (auto& [name, upstream] : upstreams_)
      release_on_worker0(*w_, std::move(upstream));
    for (auto& [name, waiting] : waiting_)
      waiting->leave();
  }

  asio::awaitable<Result<cache::BroadcastReader>> find(std::string path) override {
    if (grant_ && !grant_->may_subscribe(path)) {
      co_return Error{code::kUnauthorized, "the token does not grant '" + path + "'"};
    }
    std::string name = path;
    auto live = w_->origins->find(name);
    if (!live && path.ends_with(kHangSuffix)) {
      name = path.substr(0, path.size() - kHangSuffix.size());
      live = w_->origins->find(name);
    }
    if (live) co_return serve_from(live->owner, live->token, live->broadcast);
    if (path.empty()) co_return Error::not_found();
    // Nobody publishes it (here, nor per moq-api elsewhere): held for
    // --publisher-wait like a KIXEL_00 viewer's SUBSCRIBEs (waiting.h), so a
    // viewer may come first. A name moq-api cannot tell about goes to the
    // upstream, which answers 504 as before.
    bool wait_here = w_->config.publisher_wait.count() > 0;
    if (wait_here && w_->cluster) {
      Result<bool> elsewhere = co_await origin_elsewhere(w_->cluster, (*w_->executors)[0], path);
      wait_here = elsewhere && !*elsewhere;
    }
    if (wait_here) {
      auto& waiting = waiting_[path];
      if (!waiting) {
        waiting = w_->waiting.get(path, w_->origins, w_->cluster, w_->executors,
                                  w_->config.publisher_wait);
        waiting->join();
      }
      co_return waiting->broadcast();
    }
    if (!w_->cluster) co_return Error::not_found();
    // Clustered: the name's origin relay, through the Upstream KIXEL_00
    // viewers of it share (one session per name, one SUBSCRIBE per track).
    auto& upstream = upstreams_[path];
    if (!upstream) {
      upstream = co_await asio::co_spawn(
          (*w_->executors)[0], upstream_on_worker0(w_->cluster, path), asio::use_awaitable);
    }
    co_return serve_from(0, upstream->id() | (uint64_t{1} << 63), upstream->broadcast());
  }
  std::vector<std::string> live() override {
    std::vector<std::string> names;
    for (const auto& listing : w_->origins->list()) {
      names.push_back(listing.name);
      if (!listing.name.ends_with(kHangSuffix))
        names.push_back(listing.name + std::string(kHangSuffix));
    }
    return names;
  }
  uint64_t generation() override { return w_->origins->generation(); }
  uint32_t timescale(const std::string& path, const std::string& track) override {
    if (uint32_t t = w_->origins->timescale(path, track)) return t;
    if (!path.ends_with(kHangSuffix)) return 0;
    return w_->origins->timescale(path.substr(0, path.size() - kHangSuffix.size()), track);
  }

 private:
  cache::BroadcastReader serve_from(unsigned owner, uint64_t key,
                                    const cache::BroadcastReader& broadcast) {
    if (owner == w_->index) return broadcast;
    auto& mirror = mirrors_[key];
    if (!mirror) mirror = w_->mirrors.get(key, (*w_->executors)[owner], broadcast);
    return mirror->broadcast();
  }

  static constexpr std::string_view kHangSuffix = ".hang";
  std::shared_ptr<Worker> w_;
  std::optional<auth::Grant> grant_;  // with --auth-key: what may be read
  std::unordered_map<uint64_t, std::shared_ptr<Mirror>> mirrors_;               // by origin token
  std::unordered_map<std::string, std::shared_ptr<Upstream>> upstreams_;        // by name
  std::unordered_map<std::string, std::shared_ptr<WaitingBroadcast>> waiting_;  // by name
};

// Whether a broadcast published over moq-lite needs the relay's KIXEL view:
// a hang broadcast (its catalog.json, waited for a few seconds at most) with
// raw (legacy container) frames, or with CMAF renditions whose names are not
// KIXEL track names (moq-cli's `0.m4s`, `1.m4s`: it publishes no `.catalog`).
// moq-pub speaking moq-lite publishes its own `.catalog` and names its CMAF
// renditions by their KIXEL data tracks ("1", "2"): served as they are.
asio::awaitable<bool> needs_kixel_view(cache::BroadcastReader reader) {
  auto catalog = reader.request_track(std::string(media::kHangCatalogTrack));
  if (!catalog) co_return false;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::optional<cache::SegmentReader> first;
  // Polled: a bounded wait without cancelling the track's own.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!first && std::chrono::steady_clock::now() < deadline) {
    auto next = catalog->try_next_segment();
    if (!next) co_return false;
    if (*next) {
      first = std::move(**next);
      break;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!first) co_return false;
  std::string text;
  for (;;) {
    auto chunk = co_await first->next_chunk();
    if (!chunk || text.size() > 64 * 1024) break;
    text.append(chunk->view());
  }
  auto parsed = media::kixel_from_hang_catalog(text);
  if (!parsed) co_return false;
  bool kixel_named = false;
  for (const auto& r : parsed->renditions) {
    if (r.container == media::HangContainer::kLegacy) co_return true;
    if (HangView::kixel_name(r.name)) kixel_named = true;
  }
  co_return !parsed->renditions.empty() && !kixel_named;
}

// The track requests of a broadcast a moq-lite client publishes: each goes
// to the client as a SUBSCRIBE (from its oldest group: the relay caches
// what the publisher still has, as a KIXEL_00 SUBSCRIBE does), except the
// KIXEL names of a legacy hang broadcast, which its HangView makes.
struct LiteRouting {
  std::optional<bool> legacy;  // decided at the first KIXEL name
  bool deciding = false;
  std::vector<cache::TrackWriter> waiting;  // KIXEL names asked meanwhile
};

void route_one(const std::shared_ptr<session::TrackSource>& session, const std::string& path,
               LiteRouting& routing, const std::shared_ptr<HangView>& view,
               cache::TrackWriter request) {
  if (HangView::kixel_name(request.name()) && routing.legacy.value_or(false)) {
    view->request(std::move(request));
    return;
  }
  session->subscribe(path, std::move(request), /*from_start=*/true);
}

asio::awaitable<void> decide_lite_routing(std::weak_ptr<session::TrackSource> weak_session,
                                          std::string path, cache::BroadcastReader reader,
                                          std::shared_ptr<LiteRouting> routing,
                                          std::shared_ptr<HangView> view) {
  const bool legacy = co_await needs_kixel_view(reader);
  routing->legacy = legacy;
  auto waiting = std::move(routing->waiting);
  routing->waiting.clear();
  auto session = weak_session.lock();
  for (auto& request : waiting) {
    if (session) {
      route_one(session, path, *routing, view, std::move(request));
    } else {
      (void)request.close(Error::closed());
    }
  }
}

// The track requests of a broadcast a moq-lite client publishes: each goes
// to the client as a SUBSCRIBE (from its oldest group: the relay caches
// what the publisher still has, as a KIXEL_00 SUBSCRIBE does), except the
// KIXEL names of a legacy hang broadcast, which its HangView makes (decided
// from catalog.json at the first such name, without holding up the rest).
asio::awaitable<void> route_lite_requests(std::weak_ptr<session::TrackSource> weak_session,
                                          std::string path, cache::BroadcastWriter writer,
                                          cache::BroadcastReader reader,
                                          std::shared_ptr<HangView> view) {
  auto routing = std::make_shared<LiteRouting>();
  for (;;) {
    auto request = co_await writer.next_request();
    if (!request) co_return;
    auto session = weak_session.lock();
    if (!session) co_return;
    if (HangView::kixel_name(request->name()) && !routing->legacy) {
      routing->waiting.push_back(std::move(*request));
      if (!routing->deciding) {
        routing->deciding = true;
        asio::co_spawn(co_await asio::this_coro::executor,
                       decide_lite_routing(weak_session, path, reader, routing, view),
                       asio::detached);
      }
      continue;
    }
    route_one(session, path, *routing, view, std::move(*request));
  }
}

// The broadcasts a moq-lite client publishes (what it announces): each is
// a broadcast of this relay, registered in Origins and, clustered, in
// moq-api like a KIXEL_00 publisher's (a name live elsewhere is refused),
// filled on demand by SUBSCRIBEs to the client, until it is unannounced or
// the session ends.
class LitePublications : public std::enable_shared_from_this<LitePublications> {
 public:
  LitePublications(std::shared_ptr<Worker> w, std::string root, std::optional<auth::Grant> grant)
      : w_(std::move(w)), root_(std::move(root)), grant_(std::move(grant)) {}

  void on_announce(const std::shared_ptr<session::TrackSource>& s, const std::string& path,
                   bool active) {
    if (!active) {
      end(path, "ended");
      return;
    }
    const std::string name = lite::join_path(root_, path);
    if (grant_ && !grant_->may_publish(name)) {
      spdlog::info("broadcast '{}' from {} refused: its token does not grant it", name,
                   s->transport()->peer());
      return;
    }
    auto [writer, reader] = cache::make_broadcast();
    auto token = w_->origins->add(name, w_->index, reader);
    if (!token) {
      spdlog::info("broadcast '{}' from moq-lite publisher {} refused: already live", name,
                   s->transport()->peer());
      return;
    }
    spdlog::info("broadcast '{}' published by {} ({})", name, s->transport()->peer(),
                 s->transport()->protocol());
    auto view = std::make_shared<HangView>(w_->executor, writer, reader, name);
    // The index lists it with its tracks like a KIXEL_00 publisher's: its
    // `.catalog` (its own, or the KIXEL view's of a hang broadcast).
    asio::co_spawn(w_->executor, watch_catalog(reader, w_->origins, name, *token, std::nullopt),
                   asio::detached);
    asio::co_spawn(w_->executor, route_lite_requests(s, path, writer, reader, view),
                   asio::detached);
    entries_.insert_or_assign(path, Entry{std::move(writer), *token, name, view, nullptr});
    if (w_->cluster) {
      asio::co_spawn(w_->executor, register_in_cluster(shared_from_this(), path, name, *token),
                     asio::detached);
    }
  }

  void end_all() {
    std::vector<std::string> paths;
    for (const auto& [path, entry] : entries_)
      paths.push_back(path);
    for (const auto& path : paths)
      end(path, "ended with its session");
  }

 private:
  struct Entry {
    cache::BroadcastWriter writer;
    uint64_t token = 0;
    std::string name;
    std::shared_ptr<HangView> view;
    std::unique_ptr<Registration> registration;  // clustered: in moq-api
  };

  void end(const std::string& path, const char* why) {
    auto it = entries_.find(path);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    e.view->stop();
    (void)e.writer.close(Error::closed());
    w_->origins->remove(e.name, e.token);
    release_on_worker0(*w_, std::move(e.registration));  // DELETE from moq-api
    spdlog::info("broadcast '{}' {} (moq-lite publisher)", e.name, why);
    entries_.erase(it);
  }

  static asio::awaitable<void> register_in_cluster(std::shared_ptr<LitePublications> self,
                                                   std::string path, std::string name,
                                                   uint64_t token) {
    std::optional<Registered> found =
        co_await asio::co_spawn((*self->w_->executors)[0],
                                register_on_worker0(self->w_->cluster, name), asio::use_awaitable);
    Registered& registered = *found;
    auto it = self->entries_.find(path);
    const bool current = it != self->entries_.end() && it->second.token == token;
    if (!registered) {
      spdlog::warn("moq-lite broadcast '{}' refused: moq-api: {} (code {})", name,
                   registered.error().reason, registered.error().code);
      if (current) self->end(path, "refused by the cluster");
      co_return;
    }
    if (current) {
      it->second.registration = std::move(registered.value());
    } else {
      release_on_worker0(*self->w_, std::move(registered.value()));
    }
  }

  std::shared_ptr<Worker> w_;
  const std::string root_;
  const std::optional<auth::Grant> grant_;  // with --auth-key: what may be published
  std::map<std::string, Entry> entries_;    // by path relative to the root
};

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// Runs a session of today's dialects (moq-lite, IETF draft-14) made by the
// caller: it serves every live broadcast, by paths relative to the URL
// path, and what the client publishes is asked at once (as moq-relay does
// of every session); each announced path becomes a broadcast of this
// relay, filled on demand by SUBSCRIBEs to the client, until it is
// unannounced or the session ends.
template <class DialectSession>
asio::awaitable<Error> run_dialect(std::shared_ptr<wt::WtSession> transport,
                                   std::shared_ptr<DialectSession> session,
                                   std::shared_ptr<Worker> w, std::optional<auth::Grant> grant) {
  auto published =
      std::make_shared<LitePublications>(w, broadcast_name(transport->path()), std::move(grant));
  std::weak_ptr<DialectSession> weak_session = session;
  session->watch_announcements("", [published, weak_session](const std::string& path, bool active) {
    if (auto s = weak_session.lock()) published->on_announce(s, path, active);
  });
  ++w->ended.sessions_started;
  ++w->shared->live_sessions;
  struct Live {
    Worker& w;
    ~Live() { --w.shared->live_sessions; }
  } live{*w};
  Error end = co_await session->run();
  published->end_all();
  const auto& stats = session->stats();
  w->ended.subscriptions += stats.subscriptions;
  w->ended.objects_out += stats.groups_started;
  w->ended.objects_dropped += stats.groups_dropped;
  w->ended.bytes_out += stats.payload_bytes_sent;
  co_return end;
}

// A moq-lite session (the dialect was negotiated in the CONNECT).
asio::awaitable<Error> run_lite(std::shared_ptr<wt::WtSession> transport, lite::Version version,
                                std::shared_ptr<Worker> w, std::optional<auth::Grant> grant) {
  lite::SessionConfig config;
  config.origin_id = w->lite_origin_id;
  config.peer_gone_ends_cleanly = true;
  auto session = lite::Session::create(w->executor, transport, version, transport->path(),
                                       std::make_shared<LiteOrigin>(w, grant), config);
  co_return co_await run_dialect(transport, session, w, grant);
}

// An IETF draft-14 session (`moq-00`/`moql` in the CONNECT): the same
// broadcasts as moq-lite sessions, and the same publications.
asio::awaitable<Error> run_ietf(std::shared_ptr<wt::WtSession> transport, std::shared_ptr<Worker> w,
                                std::optional<auth::Grant> grant) {
  ietf::SessionConfig config;
  config.peer_gone_ends_cleanly = true;
  config.setup_timeout = w->config.setup_timeout;
  auto session = ietf::Session::create(w->executor, transport, transport->path(),
                                       std::make_shared<LiteOrigin>(w, grant), config);
  co_return co_await run_dialect(transport, session, w, grant);
}

bool offers_kixel00(const wire::ClientSetup& setup) {
  return std::find(setup.versions.begin(), setup.versions.end(), wire::kKixel00) !=
         setup.versions.end();
}

// The dialect of a new session: the client's first offer that we speak
// (moq-lite-05/04/03, or `moq-00`/`moql` for IETF draft-14), as moq-relay
// 0.17.10 chooses; none (KIXEL_00, negotiated in SETUP) when it offers
// nothing or nothing we speak.
std::string choose_protocol(const std::vector<std::string>& offered) {
  for (const auto& p : offered) {
    if (lite::version_from_protocol(p) || ietf::is_ietf_protocol(p)) return p;
  }
  return {};
}

asio::awaitable<void> serve(std::shared_ptr<wt::WtSession> transport, std::shared_ptr<Worker> w) {
  const RelayConfig& config = w->config;
  SessionLog log{transport->peer(), transport->path()};
  // With --auth-key the CONNECT was refused without a valid token; what it
  // grants is read again here, for this session's checks.
  std::optional<auth::Grant> grant;
  if (config.auth_key) {
    auto token = auth::query_param(transport->query(), "jwt");
    auto verified = token ? auth::verify(*token, *config.auth_key, unix_now())
                          : Result<auth::Grant>(Error{code::kUnauthorized, "no ?jwt= token"});
    if (!verified) {
      transport->close(session::app_code(code::kUnauthorized), verified.error().reason);
      log_end(log, verified.error());
      co_return;
    }
    grant = std::move(*verified);
  }
  if (auto version = lite::version_from_protocol(transport->protocol())) {
    log.role = transport->protocol();
    spdlog::info("session start: peer {} path '{}' protocol {} worker {}", log.peer, log.path,
                 log.role, w->index);
    Error end = co_await run_lite(transport, *version, w, grant);
    log_end(log, end);
    co_return;
  }
  if (ietf::is_ietf_protocol(transport->protocol())) {
    log.role = "moq-transport-14";
    spdlog::info("session start: peer {} path '{}' protocol {} (moq-transport-14) worker {}",
                 log.peer, log.path, transport->protocol(), w->index);
    Error end = co_await run_ietf(transport, w, grant);
    log_end(log, end);
    co_return;
  }
  const std::string name = broadcast_name(log.path);
  if (name.empty()) {
    // The path names the broadcast: "/" names none.
    const Error refused{code::kBadRequest,
                        "empty broadcast name: the URL path names the broadcast"};
    transport->close(session::app_code(refused.code), refused.reason);
    log_end(log, refused);
    co_return;
  }

  // A peer that never sends its SETUP is dropped rather than kept forever.
  asio::steady_timer setup_timer(co_await asio::this_coro::executor);
  setup_timer.expires_after(config.setup_timeout);
  std::weak_ptr<wt::WtSession> weak = transport;
  setup_timer.async_wait([weak](std::error_code ec) {
    if (ec) return;
    if (auto t = weak.lock()) t->close(code::kSession, "setup timeout");
  });
  auto handshake = co_await session::accept(transport);
  setup_timer.cancel();
  if (!handshake) {
    log_end(log, handshake.error());
    co_return;
  }
  const wire::Role role = handshake->client().role;
  log.role = std::string(wire::role_name(role));
  spdlog::info("session start: peer {} path '{}' role {} broadcast '{}' worker {}", log.peer,
               log.path, log.role, name, w->index);

  Error end = Error::closed();
  if (!offers_kixel00(handshake->client())) {
    end = Error{code::kUnsupported, "unsupported version"};
    handshake->reject(end);
  } else if (role == wire::Role::kBoth) {
    end = Error{code::kRoleBoth, "role both not supported"};
    handshake->reject(end);
  } else if (grant && !(role == wire::Role::kPublisher ? grant->may_publish(name)
                                                       : grant->may_subscribe(name))) {
    end = Error{code::kUnauthorized, "the token does not grant '" + name + "'"};
    handshake->reject(end);
  } else if (role == wire::Role::kPublisher) {
    end = co_await run_publisher(*handshake, name, w);
  } else {
    end = co_await run_subscriber(*handshake, name, w);
  }
  log_end(log, end);
}

}  // namespace

Result<std::unique_ptr<Relay>> Relay::start(asio::io_context& io, const RelayConfig& config,
                                            const quic::TlsServerContext& tls) {
  const unsigned n =
      config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  if (n == 1) {
    auto endpoint = quic::Endpoint::bind(io, config.listen, config.quic, &tls);
    if (!endpoint) return endpoint.error();
    return start(io, config, std::move(endpoint.value()));
  }
  std::unique_ptr<Relay> relay(new Relay());
  relay->origins_ = std::make_shared<Origins>();
  relay->executors_ = std::make_shared<std::vector<asio::any_io_executor>>();
  relay->board_ = std::make_shared<MetricsBoard>(n);
  if (config.cluster) {
    auto cluster = Cluster::create(io, *config.cluster, config.quic);
    if (!cluster) return cluster.error();
    relay->cluster_ = std::move(cluster.value());
  }
  for (unsigned i = 1; i < n; ++i)
    relay->own_io_.push_back(std::make_unique<asio::io_context>(1));
  relay->executors_->push_back(io.get_executor());
  for (auto& own : relay->own_io_)
    relay->executors_->push_back(own->get_executor());
  // Worker 0 first: with port 0 it picks the port the others share.
  asio::ip::udp::endpoint listen = config.listen;
  for (unsigned i = 0; i < n; ++i) {
    asio::io_context& worker_io = i == 0 ? io : *relay->own_io_[i - 1];
    auto endpoint = quic::Endpoint::bind_worker(worker_io, listen, config.quic, &tls, i, n);
    if (!endpoint) return endpoint.error();
    if (i == 0) {
      relay->local_ = endpoint.value()->local_endpoint();
      listen.port(relay->local_.port());
    }
    if (auto added = relay->add_worker(worker_io, std::move(endpoint.value()), config); !added) {
      return added.error();
    }
  }
  for (auto& own : relay->own_io_) {
    relay->threads_.emplace_back([io = own.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  return relay;
}

Result<std::unique_ptr<Relay>> Relay::start(asio::io_context& io, const RelayConfig& config,
                                            std::shared_ptr<quic::Endpoint> endpoint) {
  std::unique_ptr<Relay> relay(new Relay());
  relay->origins_ = std::make_shared<Origins>();
  relay->executors_ = std::make_shared<std::vector<asio::any_io_executor>>();
  relay->board_ = std::make_shared<MetricsBoard>(1);
  relay->executors_->push_back(io.get_executor());
  if (config.cluster) {
    auto cluster = Cluster::create(io, *config.cluster, config.quic);
    if (!cluster) return cluster.error();
    relay->cluster_ = std::move(cluster.value());
  }
  relay->local_ = endpoint->local_endpoint();
  if (auto added = relay->add_worker(io, std::move(endpoint), config); !added) {
    return added.error();
  }
  return relay;
}

Result<void> Relay::add_worker(asio::io_context& io, std::shared_ptr<quic::Endpoint> endpoint,
                               const RelayConfig& config) {
  auto w = std::make_shared<Worker>(static_cast<unsigned>(workers_.size()), io.get_executor());
  w->origins = origins_;
  w->cluster = cluster_;
  w->executors = executors_;
  w->shared = shared_;
  w->board = board_;
  w->config = config;
  w->lite_origin_id = shared_->lite_origin_id;
  std::weak_ptr<Worker> weak = w;
  w->server = wt::Server::serve(
      std::move(endpoint),
      // Every path is a broadcast name; the SETUP role decides the rest.
      // A draining relay takes no new session.
      [shared = shared_,
       key = config.auth_key](const wt::SessionRequested& request) -> wt::WtConnection::Answer {
        if (shared->draining.load(std::memory_order_relaxed)) return 503u;
        if (key) {
          // Refused at the CONNECT, as moq-relay does: 401 without a valid
          // token, 403 for a path outside the token's root.
          auto [path, query] = auth::split_path_query(request.path);
          auto token = auth::query_param(query, "jwt");
          if (!token) return 401u;
          auto grant = auth::verify(*token, *key, unix_now());
          if (!grant) return 401u;
          if (!lite::has_prefix(lite::normalize_path(path).value_or(""), grant->root)) return 403u;
        }
        return {200u, choose_protocol(request.protocols)};
      },
      [&io, weak](std::shared_ptr<wt::WtSession> session) {
        if (auto worker = weak.lock()) {
          asio::co_spawn(io, serve(std::move(session), worker), asio::detached);
        }
      });
  w->sample_every_second();
  workers_.push_back(std::move(w));
  return {};
}

Relay::~Relay() {
  for (auto& own : own_io_)
    own->stop();
  for (auto& t : threads_)
    t.join();
  // The workers' threads are gone: their endpoints and sessions can be torn
  // down from here, worker 0's on its own thread (this one).
  workers_.clear();
}

void Relay::drain(std::string goaway_url) {
  shared_->draining = true;
  for (auto& w : workers_) {
    asio::post(w->executor, [w, goaway_url] { w->drain(goaway_url); });
  }
}

size_t Relay::live_sessions() const {
  return shared_->live_sessions.load();
}

bool Relay::draining() const {
  return shared_->draining.load();
}

std::string Relay::metrics() const {
  // This is worker 0's thread: its figures can be fresh, the others' are at
  // most a second old.
  if (!workers_.empty()) workers_[0]->sample();
  RelayFigures figures;
  figures.workers = board_->get();
  figures.broadcasts = origins_->size();
  figures.draining = draining();
  return render_prometheus(figures);
}

void Relay::shutdown() {
  if (cluster_) cluster_->shutdown();
  for (auto& w : workers_) {
    asio::post(w->executor, [w] {
      w->stopped = true;
      w->sample_timer.cancel();
      if (!w->server) return;
      const auto& udp = w->server->endpoint().udp_stats();
      spdlog::info(
          "worker {}: {} datagrams sent in {} send calls ({} GSO trains, GSO {}), {} received in "
          "{} recvmmsg, {} dropped by the kernel on send",
          w->index, udp.datagrams_sent, udp.send_calls, udp.gso_sends,
          w->server->endpoint().gso() ? "on" : "off", udp.datagrams_received, udp.recv_calls,
          udp.send_errors);
      w->server->shutdown();
    });
  }
}

}  // namespace moq::relay
