#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "async/notify.h"
#include "cache/broadcast.h"
#include "coding/error.h"
#include "ietf/message.h"
#include "lite/session.h"
#include "session/task_group.h"
#include "session/track_source.h"
#include "transport/transport.h"

namespace moq::ietf {

struct SessionConfig {
  // Which end we are: the server waits for the peer's control stream and
  // CLIENT_SETUP; the client opens the control stream and sends it (moq-pub,
  // moq-sub). Request ids: the client's are even, the server's odd.
  bool client = false;
  // Requests (SUBSCRIBE, SUBSCRIBE_NAMESPACE, ...) the peer may hold at once.
  size_t max_requests = 1024;
  // Request ids granted ahead of the peer's last one (MAX_REQUEST_ID).
  uint64_t request_window = 256;
  // A peer that has not sent CLIENT_SETUP by then is closed.
  std::chrono::milliseconds setup_timeout{10'000};
  // How often a SUBSCRIBE_NAMESPACE looks for broadcasts that came or went.
  std::chrono::milliseconds announce_poll{100};
  // Subgroup streams one subscription may have open at once; one the peer
  // has not taken for `stall_timeout` gives way to a newer group.
  size_t max_groups_per_subscription = 16;
  std::chrono::milliseconds stall_timeout{1000};
  uint64_t stream_high_water = 256 * 1024;
  // How long the groups we receive stay cached (`*.json` tracks stay).
  std::chrono::milliseconds group_expiry{10'000};
  // Tracks we consume end cleanly (not with an error) when the peer goes.
  bool peer_gone_ends_cleanly = false;
  // How long a subgroup stream may wait for the SUBSCRIBE_OK naming its
  // track alias (the two travel on different streams).
  std::chrono::milliseconds alias_wait{2000};
};

struct SessionStats {
  uint64_t subscriptions = 0;
  uint64_t groups_started = 0;
  uint64_t groups_dropped = 0;
  uint64_t objects_sent = 0;
  uint64_t payload_bytes_sent = 0;
  uint64_t tracks_ended = 0;
};

// An IETF moq-transport draft-14 session (server or client side, see
// SessionConfig::client), over the same cache as every other dialect:
// - serving `origin`'s broadcasts: SUBSCRIBE_NAMESPACE is answered with a
//   PUBLISH_NAMESPACE per live broadcast under the prefix (and _DONE when
//   it ends); SUBSCRIBE with SUBSCRIBE_OK and a subgroup stream per group,
//   one object per frame (fMP4 fragments of KIXEL_00 segments, the frames
//   of moq-lite/IETF groups: slices of the cached chunks, never copies);
// - consuming what the peer publishes: watch_announcements() sends
//   SUBSCRIBE_NAMESPACE and reads PUBLISH_NAMESPACE; subscribe() sends
//   SUBSCRIBE and stores the subgroups it gets as segments with their
//   object boundaries as frames.
// FETCH, PUBLISH and TRACK_STATUS are refused. Paths are relative to
// `root` (the URL path); a namespace tuple is the path's parts. A broken
// control message closes this session (protocol violation); a broken data
// stream ends that stream only.
class Session : public session::TrackSource, public std::enable_shared_from_this<Session> {
 public:
  static std::shared_ptr<Session> create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         std::string root, std::shared_ptr<lite::Origin> origin,
                                         SessionConfig config = {});
  ~Session() override;

  // Runs until the transport session ends; returns how it ended.
  asio::awaitable<Error> run();
  void close(uint32_t code, std::string_view reason) { transport_->close(code, reason); }

  void subscribe(std::string path, cache::TrackWriter track, bool from_start = false) override;
  // Asks the peer what it publishes under `prefix` (SUBSCRIBE_NAMESPACE),
  // and takes its PUBLISH_NAMESPACEs: `on_change` gets each path (relative
  // to the root) as it becomes active or ends; all end with the session.
  using AnnounceHandler = std::function<void(const std::string& path, bool active)>;
  void watch_announcements(std::string prefix, AnnounceHandler on_change);
  // Fills `broadcast`'s track requests by subscribing to the peer's
  // broadcast at `path` (relative), one SUBSCRIBE per track.
  void consume(std::string path, cache::BroadcastWriter broadcast, bool from_start = false);

  const std::shared_ptr<transport::Session>& transport() const override { return transport_; }
  const SessionStats& stats() const { return stats_; }
  size_t active_subscriptions() const { return serving_.size(); }

 private:
  struct Serving;
  struct Incoming;
  Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
          std::string root, std::shared_ptr<lite::Origin> origin, SessionConfig config);

  asio::awaitable<void> control_loop();
  asio::awaitable<void> read_control(std::shared_ptr<transport::RecvStream> recv);
  asio::awaitable<void> serve_requests(std::string path, cache::BroadcastWriter broadcast,
                                       bool from_start);
  asio::awaitable<void> refuse_bidi();
  asio::awaitable<void> accept_uni();
  asio::awaitable<void> setup_deadline();
  // One message from the peer; false when it broke the protocol (the
  // session is then closed).
  bool on_message(Control message);
  bool on_setup(const ClientSetup& setup);
  bool on_server_setup(const ServerSetup& setup);
  bool take_request_id(uint64_t id);
  void send(const Control& message);

  asio::awaitable<void> serve_subscribe(Subscribe request);
  asio::awaitable<void> serve_namespace(SubscribeNamespace request);
  asio::awaitable<bool> wait_for_slot(std::shared_ptr<Serving> sub);
  asio::awaitable<void> send_group(std::shared_ptr<Serving> sub, cache::SegmentReader segment);
  void end_serving(uint64_t request_id);

  asio::awaitable<uint64_t> our_request_id();
  asio::awaitable<void> subscribe_track(std::string path, cache::TrackWriter track,
                                        bool from_start);
  asio::awaitable<void> ask_namespaces(std::string prefix);
  asio::awaitable<void> read_subgroup(std::shared_ptr<transport::RecvStream> recv);

  std::string absolute(const std::string& relative) const;
  std::string relative(const std::string& absolute) const;
  void violation(uint32_t code, const std::string& why);

  std::shared_ptr<transport::Session> transport_;
  const std::string root_;
  std::shared_ptr<lite::Origin> origin_;
  const SessionConfig config_;
  session::TaskGroup tasks_;
  SessionStats stats_;
  const std::string peer_;

  std::shared_ptr<transport::SendStream> control_;
  bool setup_done_ = false;
  // Request ids: the peer's are below `granted_`, ours below
  // `peer_max_request_id_` (the client's even from 0, the server's odd from 1).
  uint64_t granted_ = 0;
  uint64_t peer_max_request_id_ = 0;
  uint64_t next_request_id_ = 1;
  async::Notify credit_changed_;
  size_t requests_ = 0;

  std::map<uint64_t, std::shared_ptr<Serving>> serving_;  // by the peer's request id
  // The peer's SUBSCRIBE_NAMESPACEs, by request id: the task answering it
  // and its prefix (relative).
  struct ServedNamespace {
    uint64_t task = 0;
    std::string prefix;
  };
  std::map<uint64_t, ServedNamespace> namespaces_;
  std::unordered_map<uint64_t, std::shared_ptr<Incoming>> incoming_;  // by our request id
  std::unordered_map<uint64_t, std::shared_ptr<Incoming>> by_alias_;
  async::Notify aliases_changed_;
  AnnounceHandler on_announce_;
  std::set<std::string> announced_by_peer_;  // relative paths
};

}  // namespace moq::ietf
