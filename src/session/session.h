#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "cache/broadcast.h"
#include "coding/error.h"
#include "coding/result.h"
#include "session/config.h"
#include "session/core.h"
#include "session/publisher.h"
#include "session/subscriber.h"
#include "transport/transport.h"
#include "wire/control_decoder.h"
#include "wire/message.h"
#include "wire/setup.h"

namespace moq::session {

// One MoQ session over one transport session, after the handshake (made by
// connect() or ServerHandshake::accept(), see handshake.h).
//
// The peer's role decides which halves run: a publisher half that serves a
// BroadcastReader given to publish(), a subscriber half that fills a
// BroadcastWriter given to subscribe(). run() drives both and the control
// stream until the session ends; everything a peer sends that is wrong
// closes this session with a wire code, never anything more.
class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Setup {
    wire::Role role;       // ours
    wire::Role peer_role;  // the peer's, from its SETUP
    bool is_server;
  };

  // `decoder` holds what the handshake read past the SETUP message.
  static std::shared_ptr<Session> create(asio::any_io_executor executor,
                                         std::shared_ptr<transport::Session> transport,
                                         transport::BidiStream control,
                                         wire::ControlDecoder decoder, Setup setup,
                                         Config config = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Serve `broadcast` to the peer (needs our role to publish). Before run().
  Result<void> publish(cache::BroadcastReader broadcast);
  // Fill `broadcast` from the peer (needs our role to subscribe); its
  // pending track requests become SUBSCRIBEs. Before run().
  Result<void> subscribe(cache::BroadcastWriter broadcast);

  // Runs the session until it ends; returns how it ended (code 0 "closed"
  // for a clean end by either side). Call once.
  asio::awaitable<Error> run();

  // Ends the session with `error`'s code and reason.
  void close(const Error& error) { core_.close(error); }
  // Server side: tells the client to reconnect elsewhere.
  void goaway(std::string url);
  // Publisher side: announces a namespace (the ecosystem mostly ignores it).
  void announce(std::string ns);

  const Setup& setup() const { return setup_; }
  // The URL of a GOAWAY the peer sent, if any.
  const std::optional<std::string>& goaway_url() const { return goaway_url_; }
  const std::shared_ptr<transport::Session>& transport() const { return core_.transport; }
  const PublisherStats& publisher_stats() const { return publisher_.stats(); }
  // Subscriptions the peer holds on our broadcast; a publisher that ends
  // waits for this to drop to 0 (every object delivered) before closing.
  size_t active_subscriptions() const { return publisher_.active_subscriptions(); }
  const SubscriberStats& subscriber_stats() const { return subscriber_.stats(); }

 private:
  Session(asio::any_io_executor executor, std::shared_ptr<transport::Session> transport,
          transport::BidiStream control, wire::ControlDecoder decoder, Setup setup, Config config);

  asio::awaitable<void> read_control();
  asio::awaitable<void> write_control();
  // Handles one message; an Error closes the session.
  Result<void> dispatch(const wire::Message& message);
  void shutdown(const Error& error);

  Core core_;
  wire::ControlDecoder decoder_;
  const Setup setup_;
  Publisher publisher_;
  Subscriber subscriber_;
  std::optional<std::string> goaway_url_;
  bool running_ = false;
};

}  // namespace moq::session
