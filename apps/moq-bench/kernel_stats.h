#pragma once

// What the benchmark reads from the kernel: UDP socket drops, and how long
// threads ran and waited for a CPU.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace moq::bench {

// Datagrams the kernel dropped on the UDP socket(s) bound to local `port`
// (IPv4 and IPv6) because the receive buffer was full: the `drops` column of
// /proc/net/udp{,6}. nullopt when no such socket is open.
std::optional<uint64_t> udp_socket_drops(uint16_t port);

// System-wide UDP receive-buffer drops (RcvbufErrors, IPv4 + IPv6).
uint64_t udp_receive_drops_total();

// Sets SO_RCVBUF of this process's UDP socket bound to local `port` (the
// library does not expose its socket). Returns the size the kernel granted
// (it doubles the request and caps it at net.core.rmem_max), or nullopt
// when no such socket was found.
std::optional<int> raise_receive_buffer(uint16_t port, int bytes);

// net.core.rmem_max: the largest SO_RCVBUF an unprivileged request gets.
int max_receive_buffer();

// Time on a CPU and time runnable but waiting for one (the run queue), in
// ns, from schedstat. A thread that waits a lot shares its core with other
// work: its figures are not those of a quiet machine.
struct SchedStat {
  int64_t run_ns = 0;
  int64_t wait_ns = 0;
};
// The calling thread.
SchedStat thread_schedstat();
// Every thread of process `pid`, summed.
SchedStat process_schedstat(pid_t pid);

}  // namespace moq::bench
