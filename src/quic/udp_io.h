#pragma once

// Batched UDP I/O for the QUIC endpoint: datagrams leave in one sendmmsg per
// event-loop pass (a train of equal-sized packets to one peer as one UDP GSO
// send) and arrive through recvmmsg (with UDP GRO, a coalesced run of
// datagrams counts as one message). A syscall per datagram was a third of the
// relay's CPU (issue 10's profile).

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace moq::quic {

// Counters of the UDP layer (read by benchmarks and /metrics).
struct UdpStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t send_calls = 0;   // sendmmsg / sendmsg syscalls
  uint64_t recv_calls = 0;   // recvmmsg syscalls that returned datagrams
  uint64_t gso_sends = 0;    // messages that carried more than one datagram
  uint64_t send_errors = 0;  // datagrams dropped by the kernel (loss recovery resends)
};

// A peer's address in the form the syscalls take.
struct UdpAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// Outgoing datagrams of one event-loop pass. Connections write packets
// straight into reserve()d room and commit() them as one train (datagrams of
// `segment` bytes, the last one possibly shorter); send() hands everything to
// the kernel.
class TxQueue {
 public:
  // Kernel limits of one GSO send: 64 segments, 64 KiB of payload.
  static constexpr size_t kMaxSegments = 64;
  static constexpr size_t kMaxTrainBytes = 65000;
  static constexpr size_t kMaxMessages = 128;

  TxQueue();

  // Room at the end of the queue for a train: at least `min` bytes, at most
  // kMaxTrainBytes. Empty when the queue is full (send() first).
  std::span<uint8_t> reserve(size_t min);
  // The first `len` bytes of the last reserve() are a train to `to`.
  void commit(const UdpAddress& to, size_t len, size_t segment);

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  bool gso() const { return gso_; }
  void set_gso(bool on) { gso_ = on; }

  // Sends what is queued on `fd`. Returns 0 when everything left (or was
  // dropped for good), or EAGAIN/EWOULDBLOCK when the socket is full: the
  // rest stays queued for the next call.
  int send(int fd, UdpStats& stats);
  // Without a socket (tests, fuzzing): every datagram to `sink`.
  void drain_to(const std::function<void(const UdpAddress&, std::span<const uint8_t>)>& sink,
                UdpStats& stats);

 private:
  struct Message {
    UdpAddress to;
    uint32_t offset = 0;
    uint32_t length = 0;
    uint16_t segment = 0;  // GSO segment size; == length for a single datagram
  };
  void drop_front(size_t n);
  void split_trains();  // the kernel refused GSO: one message per datagram

  std::vector<uint8_t> buffer_;
  std::array<Message, kMaxMessages> messages_{};
  size_t first_ = 0;  // messages before it were sent
  size_t count_ = 0;  // messages_[first_, first_ + count_) wait
  size_t used_ = 0;   // bytes of buffer_ taken
  bool gso_ = true;
};

// Receives up to kBatch messages per syscall; GRO-coalesced datagrams are
// split before they reach `on_datagram`.
class RxBatch {
 public:
  static constexpr size_t kBatch = 32;
  static constexpr size_t kBufferSize = 65536;

  RxBatch();
  using Handler = std::function<void(std::span<const uint8_t> datagram, const sockaddr* from,
                                     socklen_t from_length)>;
  // One recvmmsg: the datagrams it returned (0 when none was waiting).
  size_t receive(int fd, const Handler& on_datagram, UdpStats& stats);

 private:
  std::vector<uint8_t> buffers_;
  std::array<sockaddr_storage, kBatch> from_{};
  std::array<std::array<uint8_t, 64>, kBatch> control_{};
};

// Socket options, best effort: each returns whether the kernel took it.
bool enable_gro(int fd);
bool gso_supported(int fd);
// Don't-fragment on outgoing datagrams (needed by Path MTU Discovery).
bool set_dont_fragment(int fd);
bool enable_reuseport(int fd);
// Steers datagrams among the SO_REUSEPORT group of `fd` (`workers` sockets,
// in bind order) by the first byte of the destination connection ID modulo
// `workers`: a classic BPF program, so every packet of a connection reaches
// the worker whose connection IDs start with its index.
bool attach_cid_steering(int fd, unsigned workers);

}  // namespace moq::quic
