#include "lite/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <deque>
#include <random>
#include <set>
#include <utility>

#include "coding/reader.h"
#include "lite/frame_reader.h"
#include "lite/framer.h"
#include "lite/group_window.h"
#include "lite/stream_reader.h"

namespace moq::lite {

namespace {

Bytes bytes_of(std::vector<uint8_t> v) {
  return Bytes(std::move(v));
}

// A 62-bit varint-able stream priority: the subscription's priority first,
// then the newer group (moq-lite: newest first within a subscription).
int32_t group_priority(uint8_t subscriber_priority, uint64_t sequence) {
  return static_cast<int32_t>((uint32_t{subscriber_priority} << 23) | (sequence & 0x7fffff));
}

}  // namespace

// One SUBSCRIBE the peer holds.
// One SUBSCRIBE the peer holds, and its group streams in flight.
struct Session::Subscription : GroupWindow {
  uint64_t id = 0;
  uint8_t priority = 0;
  uint32_t timescale = 0;             // of the fMP4 track, for frame timestamps
  std::optional<uint64_t> end_group;  // exclusive
  transport::BidiStream stream;
  uint64_t task = 0;
};

uint64_t random_origin_id() {
  std::random_device random;
  const uint64_t id = ((uint64_t{random()} << 32) | random()) & ((uint64_t{1} << 53) - 1);
  return id == 0 ? 1 : id;
}

std::shared_ptr<Session> Session::create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         Version version, std::string root,
                                         std::shared_ptr<Origin> origin, SessionConfig config) {
  if (!origin) origin = std::make_shared<NoBroadcasts>();
  std::shared_ptr<Session> s(new Session(std::move(executor), std::move(transport), version,
                                         std::move(root), std::move(origin), config));
  s->tasks_.set_owner(s);
  return s;
}

Session::Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
                 Version version, std::string root, std::shared_ptr<Origin> origin,
                 SessionConfig config)
    : transport_(std::move(transport)),
      version_(version),
      root_(normalize_path(root).value_or("")),
      origin_(std::move(origin)),
      config_(config),
      tasks_(std::move(executor)),
      peer_(transport_->peer()) {}

Session::~Session() = default;

asio::awaitable<Error> Session::run() {
  if (has_setup_stream(version_)) tasks_.spawn(send_setup());
  tasks_.spawn(accept_bidi());
  tasks_.spawn(accept_uni());
  Error end = co_await transport_->closed();
  tasks_.cancel_all();
  co_return end;
}

void Session::violation(const std::string& why) {
  spdlog::info("moq-lite {}: protocol violation: {}", peer_, why);
  transport_->close(close_code::kProtocolViolation, why);
}

void Session::goaway(std::string uri) {
  if (version_ < Version::kLite04) return;
  auto self = shared_from_this();
  struct Send {
    static asio::awaitable<void> run(std::shared_ptr<Session> s, std::string uri) {
      auto opened = co_await s->transport_->open_bidi();
      if (!opened) co_return;
      std::vector<uint8_t> out;
      encode_varint(static_cast<uint64_t>(BidiType::kGoaway), out);
      encode(Goaway{std::move(uri)}, s->version_, out);
      (void)opened->send->write(bytes_of(std::move(out)));
      (void)opened->send->finish();
    }
  };
  tasks_.spawn(Send::run(self, std::move(uri)));
}

asio::awaitable<void> Session::send_setup() {
  auto opened = co_await transport_->open_uni();
  if (!opened) co_return;
  std::vector<uint8_t> out;
  encode_varint(static_cast<uint64_t>(UniType::kSetup), out);
  // Our origin id; no PROBE level (we do not estimate bandwidth), so the
  // peer opens no PROBE stream.
  std::vector<uint8_t> origin;
  encode_varint(config_.origin_id, origin);
  encode(Setup{{SetupParam{setup_param::kOrigin, std::move(origin)}}}, version_, out);
  (void)(*opened)->write(bytes_of(std::move(out)));
  (void)(*opened)->finish();
}

asio::awaitable<void> Session::accept_bidi() {
  for (;;) {
    auto stream = co_await transport_->accept_bidi();
    if (!stream) co_return;
    tasks_.spawn(on_bidi(std::move(*stream)));
  }
}

asio::awaitable<void> Session::accept_uni() {
  for (;;) {
    auto stream = co_await transport_->accept_uni();
    if (!stream) co_return;
    tasks_.spawn(on_uni(std::move(*stream)));
  }
}

asio::awaitable<void> Session::on_uni(std::shared_ptr<transport::RecvStream> recv) {
  StreamReader reader(recv);
  auto type = co_await reader.next_varint();
  if (!type || !*type) co_return;
  if (**type == static_cast<uint64_t>(UniType::kSetup) && has_setup_stream(version_)) {
    // The peer's SETUP: checked, then nothing in it changes what we do.
    auto setup = co_await reader.next<Setup>(&decode_setup, version_);
    if (!setup) violation("SETUP: " + setup.error().reason);
    co_return;
  }
  if (**type == static_cast<uint64_t>(UniType::kGroup)) {
    co_await read_group(std::make_shared<StreamReader>(std::move(reader)));
    co_return;
  }
  recv->stop(reset_code::kCancel);
}

void Session::consume(std::string path, cache::BroadcastWriter broadcast, bool from_start) {
  tasks_.spawn(serve_requests(std::move(path), std::move(broadcast), from_start));
}

void Session::subscribe(std::string path, cache::TrackWriter track, bool from_start) {
  tasks_.spawn(subscribe_track(std::move(path), std::move(track), from_start));
}

void Session::watch_announcements(std::string prefix, AnnounceHandler on_change) {
  tasks_.spawn(read_announcements(std::move(prefix), std::move(on_change)));
}

asio::awaitable<void> Session::serve_requests(std::string path, cache::BroadcastWriter broadcast,
                                              bool from_start) {
  for (;;) {
    auto request = co_await broadcast.next_request();
    if (!request) co_return;
    tasks_.spawn(subscribe_track(path, std::move(*request), from_start));
  }
}

asio::awaitable<void> Session::subscribe_track(std::string path, cache::TrackWriter track,
                                               bool from_start) {
  auto incoming = std::make_shared<Incoming>(track);
  if (has_timestamps(version_)) {
    // Its timescale first: frame timestamps are in it.
    auto opened = co_await transport_->open_bidi();
    if (!opened) co_return;
    std::vector<uint8_t> out;
    encode_varint(static_cast<uint64_t>(BidiType::kTrack), out);
    encode(TrackRequest{path, track.name()}, version_, out);
    // Our side stays open until the answer: moq-net reads a FIN as "cancel".
    (void)opened->send->write(bytes_of(std::move(out)));
    StreamReader reader(opened->recv);
    auto info = co_await reader.next<TrackInfo>(&decode_track_info, version_);
    (void)opened->send->finish();
    if (!info || !*info) {
      (void)track.close(info ? Error::not_found() : Error{code::kNotFound, info.error().reason});
      co_return;
    }
    incoming->timescale = (*info)->timescale;
  }
  auto opened = co_await transport_->open_bidi();
  if (!opened) {
    (void)track.close(opened.error());
    co_return;
  }
  const uint64_t id = next_subscribe_id_++;
  incoming_[id] = incoming;
  std::vector<uint8_t> out;
  encode_varint(static_cast<uint64_t>(BidiType::kSubscribe), out);
  Subscribe subscribe;
  subscribe.id = id;
  subscribe.broadcast = path;
  subscribe.track = track.name();
  if (from_start) subscribe.start_group = 0;
  encode(subscribe, version_, out);
  (void)opened->send->write(bytes_of(std::move(out)));
  spdlog::debug("moq-lite {}: SUBSCRIBE {} '{}' '{}' to the peer", peer_, id, path, track.name());

  // Replies until the peer ends the stream: a FIN is the track's end (after
  // the groups in flight), a reset its failure.
  StreamReader reader(opened->recv);
  Error end = Error::closed();
  for (;;) {
    auto type = co_await reader.next_varint();
    if (!type) {
      const bool not_found = type.error().code == reset_code::kNotFound;
      end = not_found ? Error::not_found() : Error{code::kSession, type.error().reason};
      break;
    }
    if (!*type) break;
    Result<void> ok;
    if (has_subscribe_ok(version_) && **type == 0) {
      auto m = co_await reader.next<SubscribeOk>(&decode_subscribe_update, version_);
      if (!m) ok = m.error();
    } else if (!has_subscribe_ok(version_) && **type == 0) {
      auto m = co_await reader.next<SubscribeStart>(&decode_subscribe_start, version_);
      if (!m) ok = m.error();
    } else if (!has_subscribe_ok(version_) && **type == 1) {
      auto m = co_await reader.next<SubscribeEnd>(&decode_subscribe_end, version_);
      if (!m) ok = m.error();
    } else if (**type == (has_subscribe_ok(version_) ? 1u : 2u)) {
      auto m = co_await reader.next<SubscribeDrop>(&decode_subscribe_drop, version_);
      if (!m) ok = m.error();
    } else {
      ok = Error{close_code::kProtocolViolation,
                 "unknown SUBSCRIBE reply " + std::to_string(**type)};
    }
    if (!ok) {
      end = Error{code::kInternal, ok.error().reason};
      opened->send->reset(reset_code::kCancel);
      break;
    }
  }
  if (!end.is_closed() && transport_->is_closed() && config_.peer_gone_ends_cleanly) {
    end = Error::closed();
  }
  while (end.is_closed() && incoming->groups_in_flight > 0) {
    if (!co_await incoming->changed.wait()) break;
  }
  incoming_.erase(id);
  if (end.is_closed()) ++stats_.tracks_ended;
  (void)incoming->track.close(end);
}

asio::awaitable<void> Session::read_group(StreamReaderPtr reader) {
  auto header = co_await reader->next<GroupHeader>(&decode_group_header, version_);
  if (!header || !*header) co_return;
  auto it = incoming_.find((*header)->subscribe_id);
  if (it == incoming_.end()) {
    // Ended (or never ours): not worth the bytes.
    reader->recv()->stop(reset_code::kCancel);
    co_return;
  }
  auto incoming = it->second;
  const uint64_t sequence = (*header)->sequence;
  cache::SegmentInfo info;
  info.sequence = sequence;
  info.priority = static_cast<int32_t>(sequence & 0x7fffffff);  // newest first
  if (!incoming->track.name().ends_with(".json")) info.expires = config_.group_expiry;
  auto segment = incoming->track.create_segment(info);
  if (!segment) {
    reader->recv()->stop(reset_code::kCancel);
    co_return;
  }
  ++incoming->groups_in_flight;
  struct InFlight {
    Incoming& in;
    ~InFlight() {
      --in.groups_in_flight;
      in.changed.notify_all();
    }
  } in_flight{*incoming};

  // Frames: header varints from a small buffer, payloads as slices of the
  // chunks the transport gave (no copy).
  std::vector<uint8_t> pending = reader->take_buffer();
  Bytes chunk = Bytes(std::move(pending));
  uint64_t previous_ts = 0;
  std::vector<uint8_t> head;  // a frame header being read
  const uint64_t timescale = incoming->timescale;
  uint64_t remaining = 0;
  bool in_payload = false;
  bool fin = false;
  for (;;) {
    size_t pos = 0;
    while (pos < chunk.size()) {
      if (in_payload) {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, chunk.size() - pos));
        (void)segment->write(chunk.slice(pos, take));
        pos += take;
        remaining -= take;
        if (remaining == 0) in_payload = false;
        continue;
      }
      head.push_back(chunk[pos++]);
      Reader r(head);
      uint64_t delta = 0, size = 0;
      if (has_timestamps(version_)) r.varint(delta);
      r.varint(size);
      if (r.status() == DecodeStatus::kNeedMore) continue;
      head.clear();
      if (size > kMaxFrameSize) {
        reader->recv()->stop(reset_code::kCancel);
        (void)segment->close(Error{code::kInternal, "frame too large"});
        co_return;
      }
      const uint64_t ts = previous_ts + static_cast<uint64_t>(unzigzag(delta));
      previous_ts = ts;
      cache::FrameStart start{size, std::nullopt};
      if (has_timestamps(version_)) {
        // To µs; a long double keeps 64 bits of mantissa.
        start.timestamp = timescale == 1'000'000
                              ? ts
                              : static_cast<uint64_t>(static_cast<long double>(ts) * 1e6L /
                                                      static_cast<long double>(timescale));
      }
      (void)segment->start_frame(start);
      remaining = size;
      in_payload = size > 0;
    }
    if (fin) break;
    auto next = co_await reader->recv()->read();
    if (!next) {
      (void)segment->close(Error{code::kSession, next.error().reason});
      co_return;
    }
    if (!*next) {
      fin = true;
      chunk = Bytes();
      continue;
    }
    chunk = std::move(**next);
  }
  if (in_payload || !head.empty()) {
    (void)segment->close(Error{code::kInternal, "group ended inside a frame"});
    co_return;
  }
  (void)segment->finish();
}

asio::awaitable<void> Session::read_announcements(std::string prefix, AnnounceHandler on_change) {
  auto opened = co_await transport_->open_bidi();
  if (!opened) co_return;
  std::vector<uint8_t> out;
  encode_varint(static_cast<uint64_t>(BidiType::kAnnounce), out);
  encode(AnnounceRequest{prefix, config_.origin_id}, version_, out);
  (void)opened->send->write(bytes_of(std::move(out)));
  StreamReader reader(opened->recv);
  std::set<std::string> active;
  if (has_announce_ok(version_)) {
    auto ok = co_await reader.next<AnnounceOk>(&decode_announce_ok, version_);
    if (!ok || !*ok) co_return;
  }
  for (;;) {
    auto announce = co_await reader.next<Announce>(&decode_announce, version_);
    if (!announce || !*announce) break;
    const std::string path = join_path(prefix, (*announce)->suffix);
    if ((*announce)->active) {
      if (active.insert(path).second) on_change(path, true);
    } else if (active.erase(path) > 0) {
      on_change(path, false);
    }
  }
  for (const auto& path : active)
    on_change(path, false);
}

asio::awaitable<void> Session::on_bidi(transport::BidiStream stream) {
  StreamReader reader(stream.recv);
  auto type = co_await reader.next_varint();
  if (!type || !*type) co_return;
  std::vector<uint8_t> rest = reader.take_buffer();
  switch (static_cast<BidiType>(**type)) {
    case BidiType::kAnnounce:
      co_await serve_announce(std::move(stream), std::move(rest));
      co_return;
    case BidiType::kSubscribe:
      co_await serve_subscribe(std::move(stream), std::move(rest));
      co_return;
    case BidiType::kTrack:
      if (!has_timestamps(version_)) break;
      co_await serve_track(std::move(stream), std::move(rest));
      co_return;
    case BidiType::kFetch:
      if (!has_timestamps(version_)) break;
      co_await serve_fetch(std::move(stream), std::move(rest));
      co_return;
    case BidiType::kProbe:
      // We make no bandwidth estimates: the stream simply ends.
      (void)stream.send->finish();
      co_return;
    case BidiType::kGoaway:
      spdlog::info("moq-lite {}: GOAWAY from the peer", peer_);
      (void)stream.send->finish();
      co_return;
    case BidiType::kSession:
      break;
  }
  // Unknown (or not in this version): that stream only, as the JS client does.
  spdlog::debug("moq-lite {}: stream type {} refused", peer_, **type);
  stream.send->reset(reset_code::kCancel);
  stream.recv->stop(reset_code::kCancel);
}

asio::awaitable<void> Session::serve_announce(transport::BidiStream stream,
                                              std::vector<uint8_t> rest) {
  StreamReader reader(stream.recv, std::move(rest));
  auto request = co_await reader.next<AnnounceRequest>(&decode_announce_request, version_);
  if (!request || !*request) {
    stream.send->reset(reset_code::kCancel);
    co_return;
  }
  if (requests_ >= config_.max_requests) {
    stream.send->reset(reset_code::kInternal);
    co_return;
  }
  ++requests_;
  struct Release {
    size_t& n;
    ~Release() { --n; }
  } release{requests_};
  const std::string prefix = absolute((*request)->prefix);
  spdlog::debug("moq-lite {}: ANNOUNCE_REQUEST '{}'", peer_, prefix);

  // The peer ends its interest by finishing or resetting its side. (Shared:
  // the watcher may outlive this coroutine.)
  auto peer_done = std::make_shared<bool>(false);
  struct Watch {
    static asio::awaitable<void> run(std::shared_ptr<transport::RecvStream> recv,
                                     std::shared_ptr<bool> done,
                                     std::shared_ptr<transport::SendStream> send) {
      for (;;) {
        auto chunk = co_await recv->read();
        if (!chunk || !*chunk) break;
      }
      *done = true;
      (void)send->finish();
    }
  };
  tasks_.spawn(Watch::run(stream.recv, peer_done, stream.send));

  auto announce = [&](const std::string& suffix, bool active, std::vector<uint8_t>& out) {
    Announce a;
    a.active = active;
    a.suffix = suffix;
    if (!has_announce_ok(version_) && active) {
      // 03/04: the responder stamps itself as a hop.
      a.hop_count = 1;
      a.hops = {config_.origin_id};
    }
    if (!has_hop_ids(version_)) a.hops.clear();
    encode(a, version_, out);
  };
  std::set<std::string> announced;
  uint64_t seen = origin_->generation();
  auto current = [&] {
    std::set<std::string> now;
    for (const auto& path : origin_->live()) {
      if (has_prefix(path, prefix)) now.insert(strip_prefix(path, prefix));
    }
    return now;
  };
  {
    std::set<std::string> now = current();
    std::vector<uint8_t> out;
    if (has_announce_ok(version_)) encode(AnnounceOk{config_.origin_id, now.size()}, version_, out);
    for (const auto& s : now)
      announce(s, true, out);
    announced = std::move(now);
    if (!out.empty() && !stream.send->write(bytes_of(std::move(out)))) co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!*peer_done && !transport_->is_closed()) {
    timer.expires_after(config_.announce_poll);
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || *peer_done) co_return;
    const uint64_t generation = origin_->generation();
    if (generation == seen) continue;
    seen = generation;
    std::set<std::string> now = current();
    std::vector<uint8_t> out;
    for (const auto& s : announced) {
      if (!now.contains(s)) announce(s, false, out);
    }
    for (const auto& s : now) {
      if (!announced.contains(s)) announce(s, true, out);
    }
    announced = std::move(now);
    if (!out.empty() && !stream.send->write(bytes_of(std::move(out)))) co_return;
  }
}

asio::awaitable<void> Session::serve_track(transport::BidiStream stream,
                                           std::vector<uint8_t> rest) {
  StreamReader reader(stream.recv, std::move(rest));
  auto request = co_await reader.next<TrackRequest>(&decode_track_request, version_);
  if (!request || !*request) {
    stream.send->reset(reset_code::kCancel);
    co_return;
  }
  Result<cache::BroadcastReader> broadcast =
      co_await origin_->find(absolute((*request)->broadcast));
  if (!broadcast || !broadcast->request_track((*request)->track)) {
    stream.send->reset(reset_code::kNotFound);
    co_return;
  }
  // Timestamps we send are microseconds (fMP4 decode times, converted).
  std::vector<uint8_t> out;
  encode(TrackInfo{.priority = 0, .ordered = false, .latency_max_ms = 0, .timescale = 1'000'000},
         version_, out);
  (void)stream.send->write(bytes_of(std::move(out)));
  (void)stream.send->finish();
}

namespace {

// Writes a frame: its header then its parts (shared, not copied).
bool write_frame(transport::SendStream& stream, Version v, const Frame& frame,
                 uint64_t& previous_us) {
  const uint64_t ts = frame.timestamp_us.value_or(previous_us);
  std::vector<uint8_t> header;
  encode_frame_header(v, static_cast<int64_t>(ts) - static_cast<int64_t>(previous_us), frame.size,
                      header);
  previous_us = ts;
  if (!stream.write(Bytes(std::move(header)))) return false;
  for (const auto& part : frame.parts) {
    if (!stream.write(part)) return false;
  }
  return true;
}

}  // namespace

asio::awaitable<void> Session::serve_fetch(transport::BidiStream stream,
                                           std::vector<uint8_t> rest) {
  StreamReader reader(stream.recv, std::move(rest));
  auto request = co_await reader.next<Fetch>(&decode_fetch, version_);
  if (!request || !*request) {
    stream.send->reset(reset_code::kCancel);
    co_return;
  }
  const Fetch& fetch = **request;
  Result<cache::BroadcastReader> broadcast = co_await origin_->find(absolute(fetch.broadcast));
  if (!broadcast) {
    stream.send->reset(reset_code::kNotFound);
    co_return;
  }
  auto track = broadcast->request_track(fetch.track);
  if (!track) {
    stream.send->reset(reset_code::kNotFound);
    co_return;
  }
  // The group, if it is still cached: a fresh reader sees every cached one.
  std::optional<cache::SegmentReader> found;
  for (;;) {
    auto next = track->try_next_segment();
    if (!next || !*next) break;
    if ((*next)->sequence() == fetch.group) {
      found = std::move(**next);
      break;
    }
  }
  if (!found) {
    stream.send->reset(reset_code::kNotFound);
    co_return;
  }
  stream.send->set_priority(group_priority(fetch.priority, fetch.group));
  FrameReader frames(std::move(*found), origin_->timescale(absolute(fetch.broadcast), fetch.track));
  uint64_t previous = 0;
  for (;;) {
    auto frame = co_await frames.next();
    if (!frame) {
      stream.send->reset(reset_code::kInternal);
      co_return;
    }
    if (!*frame) break;
    if (!write_frame(*stream.send, version_, **frame, previous)) co_return;
  }
  (void)stream.send->finish();
}

asio::awaitable<void> Session::watch_subscriber(std::shared_ptr<Subscription> sub,
                                                std::shared_ptr<transport::RecvStream> recv,
                                                std::vector<uint8_t> rest) {
  // SUBSCRIBE_UPDATEs are read (the priority is taken) until the peer
  // finishes or resets its side, which ends the subscription.
  StreamReader reader(recv, std::move(rest));
  for (;;) {
    auto update = co_await reader.next<SubscribeUpdate>(&decode_subscribe_update, version_);
    if (!update || !*update) break;
    sub->priority = (*update)->priority;
    sub->end_group = (*update)->end_group;
  }
  if (sub->ended) co_return;
  sub->ended = true;
  tasks_.cancel(sub->task);
  for (auto& g : sub->groups) {
    g->done = true;
    if (g->stream) g->stream->reset(reset_code::kCancel);
    tasks_.cancel(g->task);
  }
  sub->groups.clear();
  (void)sub->stream.send->finish();
}

asio::awaitable<void> Session::serve_subscribe(transport::BidiStream stream,
                                               std::vector<uint8_t> rest) {
  StreamReader reader(stream.recv, std::move(rest));
  auto request = co_await reader.next<Subscribe>(&decode_subscribe, version_);
  if (!request || !*request) {
    stream.send->reset(reset_code::kCancel);
    co_return;
  }
  const Subscribe subscribe = std::move(**request);
  const std::string path = absolute(subscribe.broadcast);
  auto refuse = [&](uint32_t code, const std::string& why) {
    spdlog::debug("moq-lite {}: SUBSCRIBE {} '{}' '{}' refused: {}", peer_, subscribe.id, path,
                  subscribe.track, why);
    stream.send->reset(code);
    stream.recv->stop(code);
  };
  if (requests_ >= config_.max_requests) {
    refuse(reset_code::kInternal, "too many requests");
    co_return;
  }
  Result<cache::BroadcastReader> broadcast = co_await origin_->find(path);
  if (!broadcast) {
    refuse(reset_code::kNotFound, "no such broadcast");
    co_return;
  }
  auto track = broadcast->request_track(subscribe.track);
  if (!track) {
    refuse(reset_code::kNotFound, track.error().reason);
    co_return;
  }
  ++requests_;
  ++active_subscriptions_;
  ++stats_.subscriptions;
  struct Release {
    size_t& n;
    size_t& active;
    ~Release() {
      --n;
      --active;
    }
  } release{requests_, active_subscriptions_};
  spdlog::debug("moq-lite {}: SUBSCRIBE {} '{}' '{}' priority {}", peer_, subscribe.id, path,
                subscribe.track, subscribe.priority);

  auto sub = std::make_shared<Subscription>();
  sub->id = subscribe.id;
  sub->priority = subscribe.priority;
  sub->end_group = subscribe.end_group;
  sub->timescale = origin_->timescale(path, subscribe.track);
  sub->stream = stream;
  if (has_subscribe_ok(version_)) {
    std::vector<uint8_t> out;
    encode_varint(0, out);
    encode(SubscribeOk{subscribe.priority, subscribe.ordered, subscribe.max_latency_ms,
                       subscribe.start_group, subscribe.end_group},
           version_, out);
    if (!stream.send->write(bytes_of(std::move(out)))) co_return;
  }
  sub->task = 0;
  tasks_.spawn(watch_subscriber(sub, stream.recv, reader.take_buffer()));

  // "Latest" starts at the newest cached group, not at every cached one.
  std::optional<uint64_t> start = subscribe.start_group;
  std::vector<cache::SegmentReader> initial;
  for (;;) {
    auto next = track->try_next_segment();
    if (!next || !*next) break;
    initial.push_back(std::move(**next));
  }
  if (!start && !initial.empty()) {
    uint64_t newest = 0;
    for (const auto& s : initial)
      newest = std::max(newest, s.sequence());
    start = newest;
  }
  bool started = false;
  std::optional<uint64_t> last;
  auto deliver = [&](cache::SegmentReader segment) {
    // "Latest" with nothing cached yet: the first group the cache hands out
    // (the highest priority of those ready, i.e. the newest of a backlog
    // arriving from upstream) is where this subscription starts.
    if (!start) start = segment.sequence();
    if (segment.sequence() < *start) return;
    if (sub->end_group && segment.sequence() >= *sub->end_group) return;
    if (!started && !has_subscribe_ok(version_)) {
      std::vector<uint8_t> out;
      encode_varint(0, out);
      encode(SubscribeStart{segment.sequence()}, version_, out);
      (void)stream.send->write(bytes_of(std::move(out)));
    }
    started = true;
    last = last ? std::max(*last, segment.sequence()) : segment.sequence();
    auto group = std::make_shared<GroupWindow::Group>();
    group->started = std::chrono::steady_clock::now();
    group->sequence = segment.sequence();
    sub->groups.push_back(group);
    ++stats_.groups_started;
    group->task = tasks_.spawn(send_group(sub, std::move(segment)));
  };
  std::sort(initial.begin(), initial.end(),
            [](const auto& a, const auto& b) { return a.sequence() < b.sequence(); });
  for (auto& s : initial) {
    if (!co_await wait_for_slot(sub)) co_return;
    deliver(std::move(s));
  }

  Error end = Error::closed();
  for (;;) {
    auto segment = co_await track->next_segment();
    if (sub->ended) co_return;
    if (!segment) {
      end = segment.error();
      break;
    }
    if (!co_await wait_for_slot(sub)) co_return;
    deliver(std::move(*segment));
  }
  if (sub->ended) co_return;
  // The track is over: let the groups in flight finish, then say so.
  while (!sub->groups.empty() && !sub->ended) {
    if (!co_await sub->changed.wait()) co_return;
  }
  if (sub->ended) co_return;
  sub->ended = true;
  if (!end.is_closed()) {
    stream.send->reset(end.code == code::kNotFound ? reset_code::kNotFound : reset_code::kInternal);
    co_return;
  }
  if (!has_subscribe_ok(version_)) {
    std::vector<uint8_t> out;
    encode_varint(1, out);
    encode(SubscribeEnd{last ? *last + 1 : 0}, version_, out);
    (void)stream.send->write(bytes_of(std::move(out)));
  }
  (void)stream.send->finish();
}

asio::awaitable<bool> Session::wait_for_slot(std::shared_ptr<Subscription> sub) {
  return lite::wait_for_slot(
      sub, {config_.max_groups_per_subscription, config_.stall_timeout, reset_code::kTooFarBehind},
      tasks_, stats_.groups_dropped);
}

asio::awaitable<void> Session::send_group(std::shared_ptr<Subscription> sub,
                                          cache::SegmentReader segment) {
  auto group = sub->find(segment.sequence());
  auto finished = [&] { sub->finished(group); };
  auto opened = co_await transport_->open_uni();
  if (!opened || !group || group->done) {
    if (opened) (*opened)->reset(reset_code::kCancel);
    finished();
    co_return;
  }
  auto stream = std::move(*opened);
  group->stream = stream;
  stream->set_priority(group_priority(sub->priority, segment.sequence()));
  std::vector<uint8_t> header;
  encode_varint(static_cast<uint64_t>(UniType::kGroup), header);
  encode(GroupHeader{sub->id, segment.sequence()}, version_, header);
  if (!stream->write(Bytes(std::move(header)))) {
    finished();
    co_return;
  }
  FrameReader frames(std::move(segment), sub->timescale);
  uint64_t previous = 0;
  for (;;) {
    auto frame = co_await frames.next();
    if (group->done) co_return;
    if (!frame) {
      spdlog::debug("moq-lite {}: group {} cut short: {}", peer_, group->sequence,
                    frame.error().reason);
      stream->reset(reset_code::kInternal);
      finished();
      co_return;
    }
    if (!*frame) break;
    ++stats_.frames_sent;
    stats_.payload_bytes_sent += (*frame)->size;
    if (!write_frame(*stream, version_, **frame, previous)) {
      finished();
      co_return;
    }
    if (stream->buffered() > config_.stream_high_water) {
      auto drained = co_await stream->drained();
      if (!drained || group->done) {
        finished();
        co_return;
      }
    }
  }
  (void)stream->finish();
  finished();
}

}  // namespace moq::lite
