#include "quic/udp_io.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace moq::quic {

// ---------------------------------------------------------------- TxQueue

TxQueue::TxQueue() : buffer_(1 << 20) {}

std::span<uint8_t> TxQueue::reserve(size_t min) {
  if (first_ + count_ >= kMaxMessages) return {};
  const size_t room = std::min(buffer_.size() - used_, kMaxTrainBytes);
  if (room < min) return {};
  return {buffer_.data() + used_, room};
}

void TxQueue::commit(const UdpAddress& to, size_t len, size_t segment) {
  if (len == 0 || first_ + count_ >= kMaxMessages) return;
  Message& m = messages_[first_ + count_];
  m.to = to;
  m.offset = static_cast<uint32_t>(used_);
  m.length = static_cast<uint32_t>(len);
  m.segment = static_cast<uint16_t>(std::min(segment, len));
  used_ += len;
  ++count_;
}

void TxQueue::drop_front(size_t n) {
  first_ += n;
  count_ -= n;
  if (count_ == 0) {
    first_ = 0;
    used_ = 0;
  }
}

namespace {

size_t datagrams_of(size_t length, size_t segment) {
  return segment == 0 ? 1 : (length + segment - 1) / segment;
}

// One datagram (or GSO train) with sendmsg; -1 and errno on failure.
ssize_t send_one(int fd, const UdpAddress& to, const uint8_t* data, size_t len, size_t segment,
                 bool gso) {
  iovec iov{const_cast<uint8_t*>(data), len};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&to.storage);
  msg.msg_namelen = to.length;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {};
  if (gso && segment < len) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const auto seg = static_cast<uint16_t>(segment);
    std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
  }
  return ::sendmsg(fd, &msg, 0);
}

}  // namespace

int TxQueue::send(int fd, UdpStats& stats) {
  while (count_ > 0) {
    if (!gso_) {
      // No GSO: datagram by datagram (only after the kernel refused it).
      Message& m = messages_[first_];
      const size_t seg = m.segment ? m.segment : m.length;
      while (m.length > 0) {
        const size_t len = std::min<size_t>(seg, m.length);
        const ssize_t r = send_one(fd, m.to, buffer_.data() + m.offset, len, len, false);
        ++stats.send_calls;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return EAGAIN;
        if (r < 0) {
          ++stats.send_errors;
        } else {
          ++stats.datagrams_sent;
        }
        m.offset += static_cast<uint32_t>(len);
        m.length -= static_cast<uint32_t>(len);
      }
      drop_front(1);
      continue;
    }
    std::array<mmsghdr, kMaxMessages> msgs{};
    std::array<iovec, kMaxMessages> iovs{};
    alignas(cmsghdr) std::array<std::array<uint8_t, CMSG_SPACE(sizeof(uint16_t))>, kMaxMessages>
        controls{};
    const size_t n = count_;
    for (size_t i = 0; i < n; ++i) {
      Message& m = messages_[first_ + i];
      iovs[i] = {buffer_.data() + m.offset, m.length};
      msghdr& h = msgs[i].msg_hdr;
      h.msg_name = &m.to.storage;
      h.msg_namelen = m.to.length;
      h.msg_iov = &iovs[i];
      h.msg_iovlen = 1;
      if (m.segment < m.length) {
        h.msg_control = controls[i].data();
        h.msg_controllen = controls[i].size();
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        std::memcpy(CMSG_DATA(c), &m.segment, sizeof m.segment);
      }
    }
    const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    ++stats.send_calls;
    if (r > 0) {
      for (int i = 0; i < r; ++i) {
        const Message& m = messages_[first_ + static_cast<size_t>(i)];
        stats.datagrams_sent += datagrams_of(m.length, m.segment);
        if (m.segment < m.length) ++stats.gso_sends;
      }
      drop_front(static_cast<size_t>(r));
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return EAGAIN;
    const Message& m = messages_[first_];
    if (m.segment < m.length && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
      // The kernel or the device refuses GSO: from now on one datagram per
      // send (nothing is lost, this message goes again).
      gso_ = false;
      continue;
    }
    // This message can't go (no route, too large...): QUIC's loss recovery
    // copes; the others still go.
    stats.send_errors += datagrams_of(m.length, m.segment);
    drop_front(1);
  }
  return 0;
}

void TxQueue::drain_to(const std::function<void(const UdpAddress&, std::span<const uint8_t>)>& sink,
                       UdpStats& stats) {
  while (count_ > 0) {
    const Message& m = messages_[first_];
    const size_t seg = m.segment ? m.segment : m.length;
    for (size_t off = 0; off < m.length; off += seg) {
      const size_t len = std::min<size_t>(seg, m.length - off);
      sink(m.to, std::span<const uint8_t>(buffer_.data() + m.offset + off, len));
      ++stats.datagrams_sent;
    }
    drop_front(1);
  }
}

// ---------------------------------------------------------------- RxBatch

RxBatch::RxBatch() : buffers_(kBatch * kBufferSize) {}

size_t RxBatch::receive(int fd, const Handler& on_datagram, UdpStats& stats) {
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  for (size_t i = 0; i < kBatch; ++i) {
    iovs[i] = {buffers_.data() + i * kBufferSize, kBufferSize};
    msghdr& h = msgs[i].msg_hdr;
    h.msg_name = &from_[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &iovs[i];
    h.msg_iovlen = 1;
    h.msg_control = control_[i].data();
    h.msg_controllen = control_[i].size();
  }
  const int r = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (r <= 0) return 0;
  ++stats.recv_calls;
  size_t datagrams = 0;
  for (int i = 0; i < r; ++i) {
    const msghdr& h = msgs[static_cast<size_t>(i)].msg_hdr;
    const size_t len = msgs[static_cast<size_t>(i)].msg_len;
    size_t segment = len;
    for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&h)); c;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int gso_size = 0;
        std::memcpy(&gso_size, CMSG_DATA(c), sizeof gso_size);
        if (gso_size > 0) segment = static_cast<size_t>(gso_size);
      }
    }
    const uint8_t* base = buffers_.data() + static_cast<size_t>(i) * kBufferSize;
    for (size_t off = 0; off < len; off += segment) {
      const size_t n = std::min(segment, len - off);
      ++datagrams;
      on_datagram(std::span<const uint8_t>(base + off, n),
                  reinterpret_cast<const sockaddr*>(&from_[static_cast<size_t>(i)]), h.msg_namelen);
    }
  }
  stats.datagrams_received += datagrams;
  return datagrams;
}

// ---------------------------------------------------------------- socket options

bool enable_gro(int fd) {
  const int on = 1;
  return ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
}

bool set_dont_fragment(int fd) {
  // PROBE: the DF bit on every datagram, and the kernel's own path MTU
  // cache ignored, so that a Path MTU Discovery probe larger than the path
  // is lost (and QUIC keeps the smaller size) instead of fragmented.
  // Without DF a fragmented probe "succeeds" and every later packet is
  // fragmented. The IPv4 option also covers IPv4-mapped peers of a
  // dual-stack socket.
  const int v4 = IP_PMTUDISC_PROBE;
  const int v6 = IPV6_PMTUDISC_PROBE;
  const bool ok4 = ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof v4) == 0;
  const bool ok6 = ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof v6) == 0;
  return ok4 || ok6;
}

bool gso_supported(int fd) {
  int value = 0;
  socklen_t len = sizeof value;
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
}

bool enable_reuseport(int fd) {
  const int on = 1;
  return ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0;
}

bool attach_cid_steering(int fd, unsigned workers) {
  if (workers < 2) return true;
  // The payload starts at the QUIC packet. Long header (bit 0x80 of the
  // first byte): the DCID's first byte is at offset 6 (flags, version, DCID
  // length); short header: at offset 1.
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 0, 2),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6), BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1), BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, workers),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0;
}

}  // namespace moq::quic
