#pragma once

// Helpers shared by the session tests: driving the io_context until a
// condition holds, connecting a client and a server session over an
// in-memory transport pair, and a "raw" peer that speaks the wire by hand
// (for inputs a well-behaved session never sends).

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/broadcast.h"
#include "session/handshake.h"
#include "session/session.h"
#include "support/memory_transport.h"
#include "wire/control_decoder.h"
#include "wire/message.h"

namespace moq::test {

inline void spawn(asio::io_context& io, asio::awaitable<void> coroutine) {
  asio::co_spawn(io, std::move(coroutine), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

// Runs handlers until `done()`. Ready handlers run first; only when none is
// ready does it wait (for a timer, e.g. a stall timeout), at most until the
// deadline. Bounded: a stuck test fails after `limit`, it never hangs.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    io.restart();
    if (io.poll() > 0) continue;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    io.restart();
    io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                 std::chrono::milliseconds(5)));
  }
  return true;
}

// Runs ready handlers until none is left (timers are not waited for).
inline void settle(asio::io_context& io) {
  for (int idle = 0; idle < 3;) {
    io.restart();
    idle = io.poll() == 0 ? idle + 1 : 0;
  }
}

struct SessionPair {
  std::shared_ptr<MemorySession> client_transport, server_transport;
  std::optional<Result<std::shared_ptr<session::Session>>> client, server;
  std::optional<Error> client_end, server_end;  // what run() returned

  session::Session& c() { return *client->value(); }
  session::Session& s() { return *server->value(); }
};

// Handshakes a client with `client_role` and a server answering with
// `server_role` over a fresh in-memory pair.
inline std::unique_ptr<SessionPair> handshake(asio::io_context& io, wire::Role client_role,
                                              wire::Role server_role, session::Config config = {},
                                              MemoryOptions client_options = {},
                                              MemoryOptions server_options = {}) {
  auto pair = std::make_unique<SessionPair>();
  std::tie(pair->client_transport, pair->server_transport) =
      make_memory_pair(client_options, server_options);
  auto* p = pair.get();
  spawn(io, [](SessionPair* out, wire::Role role, session::Config cfg) -> asio::awaitable<void> {
    out->client = co_await session::connect(out->client_transport, role, cfg);
  }(p, client_role, config));
  spawn(io, [](SessionPair* out, wire::Role role, session::Config cfg) -> asio::awaitable<void> {
    auto accepted = co_await session::accept(out->server_transport);
    if (!accepted) {
      out->server = accepted.error();
      co_return;
    }
    out->server = accepted->accept(role, cfg);
  }(p, server_role, config));
  run_until(io, [p] { return p->client && p->server; });
  return pair;
}

// Starts run() on both sessions of a successful handshake.
inline void run_both(asio::io_context& io, SessionPair& pair) {
  spawn(io, [](SessionPair* p) -> asio::awaitable<void> {
    auto session = p->client->value();
    p->client_end = co_await session->run();
  }(&pair));
  spawn(io, [](SessionPair* p) -> asio::awaitable<void> {
    auto session = p->server->value();
    p->server_end = co_await session->run();
  }(&pair));
}

// Everything a track reader got: segments in arrival order, then the end.
struct ReceivedSegment {
  uint64_t sequence = 0;
  int32_t priority = 0;
  std::optional<async::Clock::duration> expires;
  std::string payload;
  std::vector<Bytes> chunks;
  std::optional<Error> end;  // how the segment ended
};
struct ReceivedTrack {
  std::vector<ReceivedSegment> segments;
  std::optional<Error> end;
  size_t complete() const {
    size_t n = 0;
    for (auto& s : segments)
      n += s.end && s.end->is_closed();
    return n;
  }
};

// Reads a track to its end, segment by segment (one at a time, in the order
// the cache hands them out).
inline asio::awaitable<void> read_track(cache::TrackReader reader, ReceivedTrack* out) {
  for (;;) {
    auto segment = co_await reader.next_segment();
    if (!segment) {
      out->end = segment.error();
      co_return;
    }
    ReceivedSegment got;
    got.sequence = segment->sequence();
    got.priority = segment->priority();
    got.expires = segment->info().expires;
    out->segments.push_back(got);
    auto& seg = out->segments.back();
    for (;;) {
      auto chunk = co_await segment->next_chunk();
      if (!chunk) {
        seg.end = chunk.error();
        break;
      }
      seg.payload += chunk->view();
      seg.chunks.push_back(*chunk);
    }
  }
}

// Built outside coroutines: GCC 12 mis-compiles braced vectors inside them.
inline wire::ClientSetup client_setup(std::vector<uint64_t> versions, wire::Role role) {
  return wire::ClientSetup{std::move(versions), role};
}

// A peer that speaks KIXEL_00 by hand over the control stream.
struct RawPeer {
  std::shared_ptr<MemorySession> transport;
  transport::BidiStream control;
  wire::ControlDecoder decoder;
  std::optional<Error> failed;

  void send_bytes(std::vector<uint8_t> bytes) {
    (void)control.send->write(Bytes(std::move(bytes)));
  }
  void send(const wire::Message& message) {
    std::vector<uint8_t> bytes;
    (void)wire::encode(message, bytes);
    send_bytes(std::move(bytes));
  }

  // The next control message, or the error that ended the stream.
  asio::awaitable<Result<wire::Message>> next() {
    for (;;) {
      wire::Message message;
      auto status = decoder.next(message);
      if (status == DecodeStatus::kOk) co_return message;
      if (status == DecodeStatus::kError) co_return decoder.error();
      auto chunk = co_await control.recv->read();
      if (!chunk) co_return chunk.error();
      if (!*chunk) co_return Error{code::kRead, "fin"};
      decoder.feed((*chunk)->span());
    }
  }

  // Client side: open the control stream and do the handshake.
  asio::awaitable<void> connect(wire::Role role) {
    auto bidi = co_await transport->open_bidi();
    if (!bidi) co_return;
    control = *bidi;
    send(client_setup(std::vector<uint64_t>(1, wire::kKixel00), role));
    auto reply = co_await next();
    if (!reply) failed = reply.error();
  }
  // Server side: accept the control stream and answer the handshake.
  asio::awaitable<void> accept(wire::Role role) {
    auto bidi = co_await transport->accept_bidi();
    if (!bidi) co_return;
    control = *bidi;
    auto hello = co_await next();
    if (!hello) {
      failed = hello.error();
      co_return;
    }
    send(wire::ServerSetup{wire::kKixel00, role});
  }
};

}  // namespace moq::test
