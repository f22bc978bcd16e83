#include "support/memory_transport.h"

#include <deque>
#include <optional>

#include "async/notify.h"

namespace moq::test {
namespace detail {

// The state both ends share. Every change anywhere wakes every waiter, who
// re-checks its own condition: simple and plenty fast for tests.
struct Link {
  struct Side {
    MemoryOptions options;
    std::deque<transport::BidiStream> incoming_bidi;
    std::deque<std::shared_ptr<transport::RecvStream>> incoming_uni;
    size_t open_uni = 0;    // uni streams opened by this side holding credit
    uint64_t buffered = 0;  // written by this side, unread by the other
    bool stalled = false;
    bool record = false;
    std::vector<Bytes> reads;
  };

  Side sides[2];
  std::optional<Error> close_error;
  std::string path;
  async::Notify changed;

  void notify() { changed.notify_all(); }
  Error session_error() const {
    return {code::kSession,
            "session closed: " + (close_error ? close_error->reason : std::string())};
  }
};

// One direction of a stream: `writer` side sends, the other side reads.
struct Pipe {
  Pipe(std::shared_ptr<Link> l, int w, bool u) : link(std::move(l)), writer(w), uni(u) {}

  std::shared_ptr<Link> link;
  const int writer;
  const bool uni;
  std::deque<Bytes> queue;
  uint64_t unread = 0;
  bool fin = false;
  bool fin_read = false;
  std::optional<uint32_t> reset;
  std::optional<uint32_t> stopped;
  bool credit_returned = false;
  int32_t priority = 0;

  Link::Side& sender() { return link->sides[writer]; }
  Link::Side& receiver() { return link->sides[1 - writer]; }

  // Data not yet read is thrown away (reset / stop).
  void discard() {
    sender().buffered -= unread;
    unread = 0;
    queue.clear();
  }
  // The receiver is done with the stream: the opener may open another.
  void return_credit() {
    if (!uni || credit_returned) return;
    credit_returned = true;
    --sender().open_uni;
  }
};

class SendHalf final : public transport::SendStream {
 public:
  explicit SendHalf(std::shared_ptr<Pipe> pipe) : p_(std::move(pipe)) {}

  Result<void> write(Bytes data) override {
    if (auto usable = check(); !usable) return usable;
    if (p_->fin) return Error::internal("write after finish");
    p_->unread += data.size();
    p_->sender().buffered += data.size();
    p_->queue.push_back(std::move(data));
    p_->link->notify();
    return {};
  }
  Result<void> finish() override {
    if (auto usable = check(); !usable) return usable;
    p_->fin = true;
    p_->link->notify();
    return {};
  }
  void reset(uint32_t code) override {
    if (p_->reset || p_->stopped || p_->fin_read) return;
    p_->reset = code;
    p_->discard();
    p_->return_credit();
    p_->link->notify();
  }
  void set_priority(int32_t priority) override { p_->priority = priority; }
  uint64_t buffered() const override { return p_->unread; }
  asio::awaitable<Result<void>> drained() override {
    for (;;) {
      if (auto usable = check(); !usable) co_return usable;
      if (p_->unread <= p_->sender().options.drain_threshold) co_return Result<void>();
      const bool woke = co_await p_->link->changed.wait();
      if (!woke) co_return Error{code::kStop, "cancelled"};
    }
  }

 private:
  Result<void> check() const {
    if (p_->link->close_error) return p_->link->session_error();
    if (p_->stopped) return Error{*p_->stopped, "stopped by peer"};
    if (p_->reset) return Error{*p_->reset, "reset"};
    return {};
  }
  std::shared_ptr<Pipe> p_;
};

class RecvHalf final : public transport::RecvStream {
 public:
  explicit RecvHalf(std::shared_ptr<Pipe> pipe) : p_(std::move(pipe)) {}

  asio::awaitable<Result<std::optional<Bytes>>> read() override {
    for (;;) {
      if (p_->link->close_error) co_return p_->link->session_error();
      if (p_->reset) {
        p_->return_credit();
        co_return Error{*p_->reset, "reset by peer"};
      }
      if (p_->stopped) co_return Error{*p_->stopped, "stopped"};
      auto& me = p_->receiver();
      if (!me.stalled) {
        if (!p_->queue.empty()) {
          Bytes chunk = std::move(p_->queue.front());
          p_->queue.pop_front();
          p_->unread -= chunk.size();
          p_->sender().buffered -= chunk.size();
          if (me.record) me.reads.push_back(chunk);
          p_->link->notify();
          co_return std::optional<Bytes>(std::move(chunk));
        }
        if (p_->fin) {
          p_->fin_read = true;
          p_->return_credit();
          p_->link->notify();
          co_return std::optional<Bytes>();
        }
      }
      const bool woke = co_await p_->link->changed.wait();
      if (!woke) co_return Error{code::kStop, "cancelled"};
    }
  }
  void stop(uint32_t code) override {
    if (p_->stopped || p_->reset || p_->fin_read) return;
    p_->stopped = code;
    p_->discard();
    p_->return_credit();
    p_->link->notify();
  }

 private:
  std::shared_ptr<Pipe> p_;
};

}  // namespace detail

using detail::Link;
using detail::Pipe;
using detail::RecvHalf;
using detail::SendHalf;

MemorySession::MemorySession(std::shared_ptr<Link> link, int side)
    : link_(std::move(link)), side_(side) {}

MemorySession::~MemorySession() {
  close(code::kSession, "session dropped");
}

asio::awaitable<Result<transport::BidiStream>> MemorySession::open_bidi() {
  if (link_->close_error) co_return link_->session_error();
  auto out = std::make_shared<Pipe>(link_, side_, false);
  auto in = std::make_shared<Pipe>(link_, 1 - side_, false);
  link_->sides[1 - side_].incoming_bidi.push_back(
      {std::make_shared<SendHalf>(in), std::make_shared<RecvHalf>(out)});
  link_->notify();
  co_return transport::BidiStream{std::make_shared<SendHalf>(out), std::make_shared<RecvHalf>(in)};
}

asio::awaitable<Result<std::shared_ptr<transport::SendStream>>> MemorySession::open_uni() {
  for (;;) {
    if (link_->close_error) co_return link_->session_error();
    auto& me = link_->sides[side_];
    if (me.open_uni < link_->sides[1 - side_].options.max_incoming_uni) {
      ++me.open_uni;
      auto pipe = std::make_shared<Pipe>(link_, side_, true);
      link_->sides[1 - side_].incoming_uni.push_back(std::make_shared<RecvHalf>(pipe));
      link_->notify();
      co_return std::shared_ptr<transport::SendStream>(std::make_shared<SendHalf>(pipe));
    }
    const bool woke = co_await link_->changed.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

asio::awaitable<Result<transport::BidiStream>> MemorySession::accept_bidi() {
  for (;;) {
    if (link_->close_error) co_return link_->session_error();
    auto& queue = link_->sides[side_].incoming_bidi;
    if (!queue.empty()) {
      auto stream = std::move(queue.front());
      queue.pop_front();
      co_return stream;
    }
    const bool woke = co_await link_->changed.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

asio::awaitable<Result<std::shared_ptr<transport::RecvStream>>> MemorySession::accept_uni() {
  for (;;) {
    if (link_->close_error) co_return link_->session_error();
    auto& queue = link_->sides[side_].incoming_uni;
    if (!queue.empty()) {
      auto stream = std::move(queue.front());
      queue.pop_front();
      co_return stream;
    }
    const bool woke = co_await link_->changed.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

void MemorySession::close(uint32_t code, std::string_view reason) {
  if (link_->close_error) return;
  link_->close_error = code == code::kClosed ? Error::closed() : Error{code, std::string(reason)};
  for (auto& side : link_->sides) {
    side.incoming_bidi.clear();
    side.incoming_uni.clear();
  }
  link_->notify();
}

asio::awaitable<Error> MemorySession::closed() {
  for (;;) {
    if (link_->close_error) co_return *link_->close_error;
    const bool woke = co_await link_->changed.wait();
    if (!woke) co_return Error{code::kStop, "cancelled"};
  }
}

bool MemorySession::is_closed() const {
  return link_->close_error.has_value();
}

std::string MemorySession::path() const {
  return link_->path;
}

std::string MemorySession::peer() const {
  return side_ == 0 ? "memory-server" : "memory-client";
}

void MemorySession::set_stalled(bool stalled) {
  link_->sides[side_].stalled = stalled;
  link_->notify();
}

uint64_t MemorySession::buffered() const {
  return link_->sides[side_].buffered;
}

size_t MemorySession::open_uni_streams() const {
  return link_->sides[side_].open_uni;
}

void MemorySession::record_reads(bool on) {
  link_->sides[side_].record = on;
}

const std::vector<Bytes>& MemorySession::reads() const {
  return link_->sides[side_].reads;
}

std::pair<std::shared_ptr<MemorySession>, std::shared_ptr<MemorySession>> make_memory_pair(
    MemoryOptions client, MemoryOptions server, std::string path) {
  auto link = std::make_shared<Link>();
  link->sides[0].options = client;
  link->sides[1].options = server;
  link->path = std::move(path);
  return {std::make_shared<MemorySession>(link, 0), std::make_shared<MemorySession>(link, 1)};
}

}  // namespace moq::test
