#include "ietf/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <deque>
#include <utility>

#include "coding/reader.h"
#include "lite/frame_reader.h"
#include "lite/group_window.h"
#include "lite/stream_reader.h"
#include "media/hang_mux.h"

namespace moq::ietf {

namespace {

// At trace level every control message and subgroup header is logged as
// the peer's bytes (how docs/captures.md got its draft-14 vectors).
void trace_bytes(const char* what, std::span<const uint8_t> bytes) {
  if (!spdlog::should_log(spdlog::level::trace)) return;
  spdlog::trace("moq-transport-14 received {}: {}{}", what,
                media::hex_encode(bytes.subspan(0, std::min<size_t>(bytes.size(), 512))),
                bytes.size() > 512 ? " ..." : "");
}

// lite::StreamReader reads whole messages with any decoder of this shape.
lite::Decoded<Control> control_decoder(std::span<const uint8_t> in, lite::Version) {
  DecodedControl d = decode_control(in);
  if (d.status == DecodeStatus::kOk) {
    trace_bytes(std::string(control_name(d.message)).c_str(), in.subspan(0, d.consumed));
  }
  return {d.status, std::move(d.message), d.consumed, std::move(d.error)};
}

lite::Decoded<SubgroupHeader> subgroup_decoder(std::span<const uint8_t> in, lite::Version) {
  DecodedSubgroupHeader d = decode_subgroup_header(in);
  if (d.status == DecodeStatus::kOk) trace_bytes("subgroup header", in.subspan(0, d.consumed));
  return {d.status, d.header, d.consumed, std::move(d.error)};
}

// IETF priorities: lower is more urgent. The transport's: higher is. The
// subscriber's priority first, then the newer group.
int32_t group_priority(uint8_t subscriber_priority, uint64_t sequence) {
  return static_cast<int32_t>((uint32_t{uint8_t(255 - subscriber_priority)} << 23) |
                              (sequence & 0x7fffff));
}

}  // namespace

// One SUBSCRIBE the peer holds.
struct Session::Serving : lite::GroupWindow {
  uint64_t request_id = 0;
  uint8_t priority = 128;
  uint32_t timescale = 0;
  std::optional<uint64_t> end_group;  // inclusive (AbsoluteRange)
  uint64_t streams = 0;
};

// One SUBSCRIBE of ours: where its subgroups go.
struct Session::Incoming {
  explicit Incoming(cache::TrackWriter t) : track(std::move(t)) {}
  cache::TrackWriter track;
  std::optional<uint64_t> alias;
  bool live_edge = false;                 // subscribed with LargestObject
  std::optional<uint64_t> partial_group;  // "largest" of SUBSCRIBE_OK: comes cut
  bool done = false;                      // SUBSCRIBE_ERROR or PUBLISH_DONE came
  Error end = Error::closed();
  size_t groups_in_flight = 0;
  async::Notify changed;
};

std::shared_ptr<Session> Session::create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         std::string root, std::shared_ptr<lite::Origin> origin,
                                         SessionConfig config) {
  if (!origin) origin = std::make_shared<lite::NoBroadcasts>();
  std::shared_ptr<Session> s(new Session(std::move(executor), std::move(transport), std::move(root),
                                         std::move(origin), config));
  s->tasks_.set_owner(s);
  return s;
}

Session::Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
                 std::string root, std::shared_ptr<lite::Origin> origin, SessionConfig config)
    : transport_(std::move(transport)),
      root_(lite::normalize_path(root).value_or("")),
      origin_(std::move(origin)),
      config_(config),
      tasks_(std::move(executor)),
      peer_(transport_->peer()),
      next_request_id_(config.client ? 0 : 1) {}

Session::~Session() = default;

std::string Session::absolute(const std::string& relative) const {
  return lite::join_path(root_, relative);
}

std::string Session::relative(const std::string& absolute) const {
  return lite::strip_prefix(absolute, root_);
}

void Session::violation(uint32_t code, const std::string& why) {
  spdlog::info("moq-transport-14 {}: closing: {}", peer_, why);
  transport_->close(code, why);
}

asio::awaitable<Error> Session::run() {
  tasks_.spawn(control_loop());
  tasks_.spawn(accept_uni());
  tasks_.spawn(setup_deadline());
  Error end = co_await transport_->closed();
  tasks_.cancel_all();
  if (on_announce_) {
    auto active = std::move(announced_by_peer_);
    announced_by_peer_.clear();
    for (const auto& path : active)
      on_announce_(path, false);
  }
  for (auto& [id, incoming] : incoming_) {
    if (!incoming->done) {
      Error why =
          config_.peer_gone_ends_cleanly ? Error::closed() : Error{code::kSession, end.reason};
      (void)incoming->track.close(why);
    }
  }
  co_return end;
}

asio::awaitable<void> Session::setup_deadline() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(config_.setup_timeout);
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && !setup_done_) {
    violation(close_code::kControlMessageTimeout,
              config_.client ? "no SERVER_SETUP" : "no CLIENT_SETUP");
  }
}

void Session::send(const Control& message) {
  std::vector<uint8_t> out;
  if (!encode(message, out)) {
    spdlog::warn("moq-transport-14 {}: {} does not fit a control message", peer_,
                 control_name(message));
    return;
  }
  if (control_) (void)control_->write(Bytes(std::move(out)));
}

asio::awaitable<void> Session::control_loop() {
  if (config_.client) {
    // We open the control stream and speak first.
    auto stream = co_await transport_->open_bidi();
    if (!stream) co_return;
    control_ = stream->send;
    tasks_.spawn(refuse_bidi());
    ClientSetup setup;
    setup.versions = {kDraft14};
    granted_ = config_.request_window;
    setup.params.push_back(Param{setup_param::kMaxRequestId, granted_, {}});
    send(setup);
    co_await read_control(stream->recv);
    co_return;
  }
  // The peer's first bidirectional stream is the control stream; draft-14
  // has no other.
  auto stream = co_await transport_->accept_bidi();
  if (!stream) co_return;
  control_ = stream->send;
  tasks_.spawn(refuse_bidi());
  co_await read_control(stream->recv);
}

asio::awaitable<void> Session::read_control(std::shared_ptr<transport::RecvStream> recv) {
  lite::StreamReader reader(recv);
  for (;;) {
    auto message = co_await reader.next<Control>(&control_decoder, lite::Version::kLite05);
    if (!message) {
      if (!transport_->is_closed()) {
        const bool reset = message.error().code != close_code::kProtocolViolation;
        violation(close_code::kProtocolViolation,
                  reset ? "control stream reset" : "control message: " + message.error().reason);
      }
      co_return;
    }
    if (!*message) {
      violation(close_code::kProtocolViolation, "control stream ended");
      co_return;
    }
    spdlog::trace("moq-transport-14 {}: {}", peer_, control_name(**message));
    if (!on_message(std::move(**message))) co_return;
  }
}

asio::awaitable<void> Session::refuse_bidi() {
  for (;;) {
    auto stream = co_await transport_->accept_bidi();
    if (!stream) co_return;
    stream->send->reset(reset_code::kCancelled);
    stream->recv->stop(reset_code::kCancelled);
  }
}

bool Session::on_setup(const ClientSetup& setup) {
  if (std::find(setup.versions.begin(), setup.versions.end(), kDraft14) == setup.versions.end()) {
    violation(close_code::kVersionNegotiationFailed, "CLIENT_SETUP without draft-14 (0xff00000e)");
    return false;
  }
  peer_max_request_id_ = find_param(setup.params, setup_param::kMaxRequestId).value_or(0);
  granted_ = config_.request_window;
  ServerSetup reply;
  reply.version = kDraft14;
  reply.params.push_back(Param{setup_param::kMaxRequestId, granted_, {}});
  send(reply);
  setup_done_ = true;
  credit_changed_.notify_all();
  return true;
}

bool Session::on_server_setup(const ServerSetup& setup) {
  if (setup.version != kDraft14) {
    violation(close_code::kVersionNegotiationFailed,
              "SERVER_SETUP chose version " + std::to_string(setup.version));
    return false;
  }
  peer_max_request_id_ = find_param(setup.params, setup_param::kMaxRequestId).value_or(0);
  setup_done_ = true;
  credit_changed_.notify_all();
  return true;
}

bool Session::take_request_id(uint64_t id) {
  if (id >= granted_) {
    violation(close_code::kTooManyRequests,
              "request id " + std::to_string(id) + " not below " + std::to_string(granted_));
    return false;
  }
  // Keep a window of ids ahead of the peer.
  if (granted_ - id < config_.request_window / 2) {
    granted_ = id + config_.request_window;
    send(MaxRequestId{granted_});
  }
  return true;
}

bool Session::on_message(Control message) {
  if (!setup_done_) {
    if (auto* setup = std::get_if<ClientSetup>(&message); setup && !config_.client) {
      return on_setup(*setup);
    }
    if (auto* setup = std::get_if<ServerSetup>(&message); setup && config_.client) {
      return on_server_setup(*setup);
    }
    violation(close_code::kProtocolViolation,
              std::string(control_name(message)) + " before " +
                  (config_.client ? "SERVER_SETUP" : "CLIENT_SETUP"));
    return false;
  }
  if (auto* m = std::get_if<Subscribe>(&message)) {
    if (!take_request_id(m->request_id)) return false;
    if (requests_ >= config_.max_requests) {
      send(SubscribeError{m->request_id, request_error::kInternal, "too many requests"});
      return true;
    }
    tasks_.spawn(serve_subscribe(std::move(*m)));
    return true;
  }
  if (auto* m = std::get_if<Unsubscribe>(&message)) {
    end_serving(m->request_id);
    return true;
  }
  if (auto* m = std::get_if<SubscribeUpdate>(&message)) {
    if (auto it = serving_.find(m->subscription_request_id); it != serving_.end()) {
      it->second->priority = m->subscriber_priority;
    }
    return true;
  }
  if (auto* m = std::get_if<SubscribeNamespace>(&message)) {
    if (!take_request_id(m->request_id)) return false;
    const uint64_t id = m->request_id;
    std::string prefix = path_of(m->prefix);
    namespaces_[id] = {tasks_.spawn(serve_namespace(std::move(*m))), std::move(prefix)};
    return true;
  }
  if (auto* m = std::get_if<UnsubscribeNamespace>(&message)) {
    std::erase_if(namespaces_, [&](const auto& entry) {
      const auto& [id, served] = entry;
      // A lone 0x00 is request id 0 or the empty prefix: either matches.
      const bool match =
          m->request_id ? id == *m->request_id || (*m->request_id == 0 && served.prefix.empty())
                        : served.prefix == path_of(m->prefix);
      if (match) tasks_.cancel(served.task);
      return match;
    });
    return true;
  }
  if (auto* m = std::get_if<PublishNamespace>(&message)) {
    if (!take_request_id(m->request_id)) return false;
    const std::string path = path_of(m->track_namespace);
    if (!on_announce_) {
      send(PublishNamespaceError{m->request_id, request_error::kNotSupported, "not accepted here"});
      return true;
    }
    send(PublishNamespaceOk{m->request_id});
    if (announced_by_peer_.insert(path).second) on_announce_(path, true);
    return true;
  }
  if (auto* m = std::get_if<PublishNamespaceDone>(&message)) {
    const std::string path = path_of(m->track_namespace);
    if (announced_by_peer_.erase(path) > 0 && on_announce_) on_announce_(path, false);
    return true;
  }
  if (auto* m = std::get_if<SubscribeOk>(&message)) {
    auto it = incoming_.find(m->request_id);
    if (it == incoming_.end() || it->second->alias) return true;  // ended meanwhile
    if (by_alias_.contains(m->track_alias)) {
      violation(0x5, "duplicate track alias " + std::to_string(m->track_alias));
      return false;
    }
    it->second->alias = m->track_alias;
    if (m->largest && it->second->live_edge) it->second->partial_group = m->largest->group;
    by_alias_[m->track_alias] = it->second;
    aliases_changed_.notify_all();
    return true;
  }
  if (auto* m = std::get_if<SubscribeError>(&message)) {
    if (auto it = incoming_.find(m->request_id); it != incoming_.end()) {
      it->second->done = true;
      it->second->end = m->error_code == request_error::kDoesNotExist || m->error_code == 404
                            ? Error::not_found()
                            : Error{code::kNotFound, m->reason};
      it->second->changed.notify_all();
    }
    return true;
  }
  if (auto* m = std::get_if<PublishDone>(&message)) {
    if (auto it = incoming_.find(m->request_id); it != incoming_.end()) {
      it->second->done = true;
      const bool clean = m->status_code == publish_done::kTrackEnded ||
                         m->status_code == publish_done::kSubscriptionEnded ||
                         m->status_code == 200;
      it->second->end = clean ? Error::closed() : Error{code::kInternal, m->reason};
      it->second->changed.notify_all();
    }
    return true;
  }
  if (auto* m = std::get_if<MaxRequestId>(&message)) {
    peer_max_request_id_ = std::max(peer_max_request_id_, m->request_id);
    credit_changed_.notify_all();
    return true;
  }
  if (std::get_if<RequestsBlocked>(&message)) {
    granted_ += config_.request_window;
    send(MaxRequestId{granted_});
    return true;
  }
  if (auto* m = std::get_if<Goaway>(&message)) {
    spdlog::info("moq-transport-14 {}: GOAWAY '{}'", peer_, m->new_session_uri);
    return true;
  }
  if (auto* m = std::get_if<Refusable>(&message)) {
    if (m->type == message_type::kFetchCancel) return true;
    if (!take_request_id(m->request_id)) return false;
    if (m->type == message_type::kFetch) {
      send(RequestError{message_type::kFetchError, m->request_id, request_error::kNotSupported,
                        "FETCH is not supported"});
      return true;
    }
    if (m->type == message_type::kPublish) {
      send(RequestError{message_type::kPublishError, m->request_id, request_error::kNotSupported,
                        "PUBLISH is not supported: use PUBLISH_NAMESPACE"});
    } else if (m->type == message_type::kTrackStatusRequest) {
      send(RequestError{message_type::kTrackStatusError, m->request_id,
                        request_error::kNotSupported, "TRACK_STATUS is not supported"});
    }
    return true;
  }
  if (std::get_if<ClientSetup>(&message) || std::get_if<ServerSetup>(&message)) {
    violation(close_code::kProtocolViolation, "a second SETUP");
    return false;
  }
  // PUBLISH_NAMESPACE_OK/_ERROR/_CANCEL, SUBSCRIBE_NAMESPACE_OK/_ERROR,
  // FETCH_ERROR, PUBLISH_ERROR: nothing to do.
  return true;
}

// ---- serving ----

void Session::end_serving(uint64_t request_id) {
  auto it = serving_.find(request_id);
  if (it == serving_.end()) return;
  auto sub = it->second;
  serving_.erase(it);
  if (sub->ended) return;
  sub->ended = true;
  for (auto& g : sub->groups) {
    g->done = true;
    if (g->stream) g->stream->reset(reset_code::kCancelled);
    tasks_.cancel(g->task);
  }
  sub->groups.clear();
  sub->changed.notify_all();
  send(PublishDone{request_id, publish_done::kSubscriptionEnded, sub->streams, "unsubscribed"});
}

asio::awaitable<void> Session::serve_subscribe(Subscribe request) {
  const std::string path = absolute(path_of(request.track_namespace));
  const uint64_t id = request.request_id;
  if (serving_.contains(id)) {
    violation(close_code::kInvalidRequestId, "request id " + std::to_string(id) + " reused");
    co_return;
  }
  auto refuse = [&](uint64_t code, const std::string& why) {
    spdlog::debug("moq-transport-14 {}: SUBSCRIBE {} '{}' '{}' refused: {}", peer_, id, path,
                  request.track_name, why);
    send(SubscribeError{id, code, why});
  };
  ++requests_;
  struct Release {
    size_t& n;
    ~Release() { --n; }
  } release{requests_};
  Result<cache::BroadcastReader> broadcast = co_await origin_->find(path);
  if (!broadcast) {
    refuse(request_error::kDoesNotExist, "no such broadcast");
    co_return;
  }
  auto track = broadcast->request_track(request.track_name);
  if (!track) {
    refuse(request_error::kDoesNotExist, track.error().reason);
    co_return;
  }
  ++stats_.subscriptions;
  auto sub = std::make_shared<Serving>();
  sub->request_id = id;
  sub->priority = request.subscriber_priority;
  sub->timescale = origin_->timescale(path, request.track_name);
  sub->end_group = request.end_group;
  serving_[id] = sub;
  spdlog::debug("moq-transport-14 {}: SUBSCRIBE {} '{}' '{}' filter {}", peer_, id, path,
                request.track_name, request.filter_type);
  // No "largest": what is sent starts at a group's first object, so the
  // subscriber has nothing to join with a FETCH (moq-relay does the same).
  SubscribeOk ok;
  ok.request_id = id;
  ok.track_alias = id;
  ok.group_order = request.group_order == 0 ? 2 : request.group_order;
  send(ok);

  std::vector<cache::SegmentReader> initial;
  for (;;) {
    auto next = track->try_next_segment();
    if (!next || !*next) break;
    initial.push_back(std::move(**next));
  }
  std::sort(initial.begin(), initial.end(),
            [](const auto& a, const auto& b) { return a.sequence() < b.sequence(); });
  // Where delivery starts: the newest cached group (LargestObject: the
  // current group from its start), the one after it (NextGroupStart), or
  // the asked group (AbsoluteStart/Range).
  std::optional<uint64_t> start;
  if (request.start) {
    start = request.start->group;
  } else if (!initial.empty()) {
    start = initial.back().sequence();
    if (request.filter_type == filter::kNextGroupStart) *start += 1;
  }
  auto deliver = [&](cache::SegmentReader segment) {
    if (!start) start = segment.sequence();
    if (segment.sequence() < *start) return;
    if (sub->end_group && segment.sequence() > *sub->end_group) return;
    auto group = std::make_shared<lite::GroupWindow::Group>();
    group->started = std::chrono::steady_clock::now();
    group->sequence = segment.sequence();
    sub->groups.push_back(group);
    ++sub->streams;
    ++stats_.groups_started;
    group->task = tasks_.spawn(send_group(sub, std::move(segment)));
  };
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
  while (!sub->groups.empty() && !sub->ended) {
    if (!co_await sub->changed.wait()) co_return;
  }
  if (sub->ended) co_return;
  sub->ended = true;
  serving_.erase(id);
  if (end.is_closed()) {
    send(PublishDone{id, publish_done::kTrackEnded, sub->streams, ""});
  } else {
    send(PublishDone{id, publish_done::kInternal, sub->streams, end.reason});
  }
}

asio::awaitable<bool> Session::wait_for_slot(std::shared_ptr<Serving> sub) {
  return lite::wait_for_slot(
      sub,
      {config_.max_groups_per_subscription, config_.stall_timeout, reset_code::kDeliveryTimeout},
      tasks_, stats_.groups_dropped);
}

asio::awaitable<void> Session::send_group(std::shared_ptr<Serving> sub,
                                          cache::SegmentReader segment) {
  auto group = sub->find(segment.sequence());
  auto finished = [&] { sub->finished(group); };

  auto opened = co_await transport_->open_uni();
  if (!opened || !group || group->done) {
    if (opened) (*opened)->reset(reset_code::kCancelled);
    finished();
    co_return;
  }
  auto stream = std::move(*opened);
  group->stream = stream;
  stream->set_priority(group_priority(sub->priority, segment.sequence()));
  std::vector<uint8_t> header;
  // 0x18: subgroup 0, no extensions, this subgroup ends the group.
  encode(SubgroupHeader{0x18, sub->request_id, segment.sequence(), 0, 128}, header);
  if (!stream->write(Bytes(std::move(header)))) {
    finished();
    co_return;
  }
  lite::FrameReader frames(std::move(segment), sub->timescale);
  for (;;) {
    auto frame = co_await frames.next();
    if (group->done) co_return;
    if (!frame) {
      spdlog::debug("moq-transport-14 {}: group {} cut short: {}", peer_, group->sequence,
                    frame.error().reason);
      stream->reset(reset_code::kInternal);
      finished();
      co_return;
    }
    if (!*frame) break;
    ++stats_.objects_sent;
    stats_.payload_bytes_sent += (*frame)->size;
    // Object ids 0, 1, 2 ...: each a delta of 0 from the one before.
    std::vector<uint8_t> object_header;
    encode(ObjectHeader{0, {}, (*frame)->size, object_status::kNormal}, false, object_header);
    bool ok = static_cast<bool>(stream->write(Bytes(std::move(object_header))));
    for (const auto& part : (*frame)->parts) {
      if (ok) ok = static_cast<bool>(stream->write(part));
    }
    if (!ok) {
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

asio::awaitable<void> Session::serve_namespace(SubscribeNamespace request) {
  const uint64_t id = request.request_id;
  const std::string prefix = absolute(path_of(request.prefix));
  send(SubscribeNamespaceOk{id});
  spdlog::debug("moq-transport-14 {}: SUBSCRIBE_NAMESPACE {} '{}'", peer_, id, prefix);
  // Each live broadcast under the prefix is a PUBLISH_NAMESPACE of its own
  // (draft-14 has no namespace entries), with its whole namespace.
  std::set<std::string> announced;
  uint64_t seen = 0;
  bool first = true;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!transport_->is_closed()) {
    const uint64_t generation = origin_->generation();
    if (first || generation != seen) {
      first = false;
      seen = generation;
      std::set<std::string> now;
      for (const auto& path : origin_->live()) {
        if (lite::has_prefix(path, prefix) && lite::has_prefix(path, root_))
          now.insert(relative(path));
      }
      for (const auto& path : announced) {
        if (!now.contains(path)) send(PublishNamespaceDone{namespace_of(path)});
      }
      for (const auto& path : now) {
        if (announced.contains(path)) continue;
        const uint64_t ours = co_await our_request_id();
        send(PublishNamespace{ours, namespace_of(path), {}});
      }
      announced = std::move(now);
    }
    timer.expires_after(config_.announce_poll);
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

// ---- consuming ----

asio::awaitable<uint64_t> Session::our_request_id() {
  while (!setup_done_ || next_request_id_ >= peer_max_request_id_) {
    if (setup_done_) send(RequestsBlocked{peer_max_request_id_});
    if (!co_await credit_changed_.wait()) co_return next_request_id_;
  }
  const uint64_t id = next_request_id_;
  next_request_id_ += 2;
  co_return id;
}

void Session::subscribe(std::string path, cache::TrackWriter track, bool from_start) {
  tasks_.spawn(subscribe_track(std::move(path), std::move(track), from_start));
}

void Session::consume(std::string path, cache::BroadcastWriter broadcast, bool from_start) {
  tasks_.spawn(serve_requests(std::move(path), std::move(broadcast), from_start));
}

asio::awaitable<void> Session::serve_requests(std::string path, cache::BroadcastWriter broadcast,
                                              bool from_start) {
  for (;;) {
    auto request = co_await broadcast.next_request();
    if (!request) co_return;
    tasks_.spawn(subscribe_track(path, std::move(*request), from_start));
  }
}

void Session::watch_announcements(std::string prefix, AnnounceHandler on_change) {
  on_announce_ = std::move(on_change);
  tasks_.spawn(ask_namespaces(std::move(prefix)));
}

asio::awaitable<void> Session::ask_namespaces(std::string prefix) {
  const uint64_t id = co_await our_request_id();
  if (transport_->is_closed()) co_return;
  send(SubscribeNamespace{id, namespace_of(prefix), {}});
}

asio::awaitable<void> Session::subscribe_track(std::string path, cache::TrackWriter track,
                                               bool from_start) {
  const uint64_t id = co_await our_request_id();
  if (transport_->is_closed()) {
    (void)track.close(Error::closed());
    co_return;
  }
  auto incoming = std::make_shared<Incoming>(track);
  incoming_[id] = incoming;
  Subscribe subscribe;
  subscribe.request_id = id;
  subscribe.track_namespace = namespace_of(path);
  subscribe.track_name = track.name();
  subscribe.group_order = 1;
  // Catalogs and init segments are wanted whole whenever they were
  // published: from the start. Media from the live edge: LargestObject,
  // whose first group a relay (moq-relay) may send without the objects up
  // to "largest" (those are for a joining FETCH): such a group is dropped,
  // the next one starts at its keyframe.
  const std::string& name = track.name();
  const bool whole =
      name.ends_with(".json") || name.ends_with(".catalog") || name.ends_with(".mp4");
  if (from_start || whole) {
    subscribe.filter_type = filter::kAbsoluteStart;
    subscribe.start = Location{0, 0};
  }
  incoming->live_edge = subscribe.filter_type == filter::kLargestObject;
  send(subscribe);
  spdlog::debug("moq-transport-14 {}: SUBSCRIBE {} '{}' '{}' to the peer", peer_, id, path,
                track.name());
  while (!incoming->done) {
    if (!co_await incoming->changed.wait()) co_return;
  }
  // Its groups in flight finish first.
  while (incoming->end.is_closed() && incoming->groups_in_flight > 0) {
    if (!co_await incoming->changed.wait()) break;
  }
  incoming_.erase(id);
  if (incoming->alias) by_alias_.erase(*incoming->alias);
  if (incoming->end.is_closed()) ++stats_.tracks_ended;
  (void)incoming->track.close(incoming->end);
}

asio::awaitable<void> Session::accept_uni() {
  for (;;) {
    auto stream = co_await transport_->accept_uni();
    if (!stream) co_return;
    tasks_.spawn(read_subgroup(std::move(*stream)));
  }
}

asio::awaitable<void> Session::read_subgroup(std::shared_ptr<transport::RecvStream> recv) {
  lite::StreamReader reader(recv);
  auto header = co_await reader.next<SubgroupHeader>(&subgroup_decoder, lite::Version::kLite05);
  if (!header || !*header) {
    if (!header) {
      spdlog::debug("moq-transport-14 {}: data stream refused: {}", peer_, header.error().reason);
      recv->stop(reset_code::kCancelled);
    }
    co_return;
  }
  const SubgroupHeader h = **header;
  // Its SUBSCRIBE_OK may still be on the way (another stream).
  auto deadline = std::chrono::steady_clock::now() + config_.alias_wait;
  while (!by_alias_.contains(h.track_alias) && std::chrono::steady_clock::now() < deadline) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(deadline);
    timer.async_wait([this](std::error_code ec) {
      if (!ec) aliases_changed_.notify_all();
    });
    if (!co_await aliases_changed_.wait()) co_return;
  }
  auto it = by_alias_.find(h.track_alias);
  if (it == by_alias_.end() || it->second->done) {
    recv->stop(reset_code::kCancelled);
    co_return;
  }
  auto incoming = it->second;
  if (incoming->partial_group == h.group_id) {
    recv->stop(reset_code::kCancelled);
    co_return;
  }
  cache::SegmentInfo info;
  info.sequence = h.group_id;
  info.priority = static_cast<int32_t>(h.group_id & 0x7fffffff);  // newest first
  if (!incoming->track.name().ends_with(".json")) info.expires = config_.group_expiry;
  auto segment = incoming->track.create_segment(info);
  if (!segment) {
    // A second subgroup of a group, or a group that is no longer wanted.
    recv->stop(reset_code::kCancelled);
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

  // Object headers are parsed from a small buffer; payloads are written as
  // slices of the chunks the transport gave (no copy).
  Bytes chunk = Bytes(reader.take_buffer());
  std::vector<uint8_t> head;
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
      // Header bytes are copied in growing steps: a header is a few bytes
      // unless it carries a large extension block.
      const size_t before = head.size();
      const size_t copy = std::min(std::max<size_t>(64, before), chunk.size() - pos);
      head.insert(head.end(), chunk.data() + pos, chunk.data() + pos + copy);
      DecodedObjectHeader d = decode_object_header(head, h.has_extensions());
      if (d.status == DecodeStatus::kNeedMore) {
        if (head.size() > 64 * 1024 + 64) {
          d.status = DecodeStatus::kError;
          d.error = {close_code::kProtocolViolation, "object header too long"};
        } else {
          pos += copy;
          continue;
        }
      }
      if (d.status == DecodeStatus::kError) {
        spdlog::debug("moq-transport-14 {}: group {}: {}", peer_, h.group_id, d.error.reason);
        recv->stop(reset_code::kCancelled);
        (void)segment->close(Error{code::kInternal, d.error.reason});
        co_return;
      }
      pos += d.consumed - before;
      head.clear();
      const ObjectHeader& object = d.header;
      if (object.payload_length == 0 && object.status != object_status::kNormal) continue;
      (void)segment->start_frame(cache::FrameStart{object.payload_length, std::nullopt});
      remaining = object.payload_length;
      in_payload = remaining > 0;
    }
    if (fin) break;
    auto next = co_await recv->read();
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
    (void)segment->close(Error{code::kInternal, "subgroup ended inside an object"});
    co_return;
  }
  (void)segment->finish();
}

}  // namespace moq::ietf
