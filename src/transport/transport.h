#pragma once

// The transport a MoQ session runs over: a WebTransport session, seen as
// streams of shared Bytes. The session layer depends only on this interface,
// never on QUIC, so it is tested over an in-memory pair as well as over real
// WebTransport (src/webtransport implements it).
//
// Threading: everything runs on the one io_context thread of the connection;
// no method may be called from another thread. Awaiting methods are resumed by
// the event loop, never inline from a peer's call.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "coding/bytes.h"
#include "coding/result.h"

namespace moq::transport {

// The receiving half of a stream.
class RecvStream {
 public:
  virtual ~RecvStream() = default;
  // The next chunk, in order. std::nullopt: the peer finished the stream
  // (FIN) and every byte was read. Error: the peer reset the stream (code =
  // its application code) or the session ended.
  virtual asio::awaitable<Result<std::optional<Bytes>>> read() = 0;
  // Asks the peer to stop sending (STOP_SENDING with an application code).
  virtual void stop(uint32_t code) = 0;
};

// The sending half of a stream.
class SendStream {
 public:
  virtual ~SendStream() = default;
  // Queues bytes; never blocks, never copies (the Bytes are shared). Fails
  // once the stream was reset, stopped by the peer or the session ended.
  virtual Result<void> write(Bytes data) = 0;
  // Ends the stream cleanly (FIN) after the queued bytes.
  virtual Result<void> finish() = 0;
  // Abandons the stream (RESET_STREAM with an application code).
  virtual void reset(uint32_t code) = 0;
  // Larger goes first when congestion or flow control limit sending.
  virtual void set_priority(int32_t priority) = 0;
  // Bytes queued but not yet acknowledged by the peer (for backpressure).
  virtual uint64_t buffered() const = 0;
  // Waits until buffered() is small again (or the stream failed).
  virtual asio::awaitable<Result<void>> drained() = 0;
};

struct BidiStream {
  std::shared_ptr<SendStream> send;
  std::shared_ptr<RecvStream> recv;
};

// One WebTransport session.
class Session {
 public:
  virtual ~Session() = default;

  virtual asio::awaitable<Result<BidiStream>> open_bidi() = 0;
  // Waits for stream credit when the peer's limit is reached.
  virtual asio::awaitable<Result<std::shared_ptr<SendStream>>> open_uni() = 0;
  virtual asio::awaitable<Result<BidiStream>> accept_bidi() = 0;
  virtual asio::awaitable<Result<std::shared_ptr<RecvStream>>> accept_uni() = 0;

  // Ends the session with an application code and reason; every stream
  // fails afterwards. Idempotent.
  virtual void close(uint32_t code, std::string_view reason) = 0;
  // Waits until the session is over; returns how it ended (code + reason;
  // code 0 and reason "closed" for a clean end by either side).
  virtual asio::awaitable<Error> closed() = 0;
  virtual bool is_closed() const = 0;

  // The request path of the session ("/name"), and the peer for logs.
  virtual std::string path() const = 0;
  virtual std::string peer() const = 0;
  // The application protocol negotiated at session setup (WebTransport's
  // wt-protocol: "moq-lite-05", ...); empty when none was (KIXEL_00).
  virtual std::string protocol() const { return {}; }
};

}  // namespace moq::transport
