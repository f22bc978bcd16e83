#include "metrics.h"

#include <cstdio>
#include <functional>
#include <sstream>

namespace moq::relay {

void RttHistogram::observe(double seconds) {
  for (size_t i = 0; i < kRttBuckets.size(); ++i) {
    if (seconds <= kRttBuckets[i]) ++buckets[i];
  }
  ++count;
  sum_seconds += seconds;
}

void MetricsBoard::put(const WorkerFigures& figures) {
  std::lock_guard lock(mutex_);
  if (figures.worker < figures_.size()) figures_[figures.worker] = figures;
}

std::vector<WorkerFigures> MetricsBoard::get() const {
  std::lock_guard lock(mutex_);
  return figures_;
}

namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class Writer {
 public:
  explicit Writer(const RelayFigures& f) : f_(f) {}

  void head(const char* name, const char* type, const char* help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  // One series per worker.
  void per_worker(const char* name, const char* type, const char* help,
                  const std::function<double(const WorkerFigures&)>& value) {
    head(name, type, help);
    for (const auto& w : f_.workers)
      out_ << name << "{worker=\"" << w.worker << "\"} " << number(value(w)) << '\n';
  }
  void single(const char* name, const char* type, const char* help, double value) {
    head(name, type, help);
    out_ << name << ' ' << number(value) << '\n';
  }
  std::ostringstream& out() { return out_; }

 private:
  const RelayFigures& f_;
  std::ostringstream out_;
};

}  // namespace

std::string render_prometheus(const RelayFigures& f) {
  Writer w(f);
  using F = const WorkerFigures&;
  w.single("moq_relay_draining", "gauge", "1 while the relay drains (SIGTERM): no new sessions",
           f.draining ? 1 : 0);
  w.single("moq_relay_workers", "gauge", "Worker threads, each with its own event loop and socket",
           static_cast<double>(f.workers.size()));
  w.single("moq_relay_broadcasts", "gauge", "Broadcasts published to this relay and live",
           static_cast<double>(f.broadcasts));
  w.per_worker("moq_relay_connections", "gauge", "QUIC connections held (open or closing)",
               [](F x) { return double(x.connections); });
  w.head("moq_relay_sessions", "gauge", "Live MoQ sessions by role (the peer's role)");
  for (const auto& x : f.workers) {
    w.out() << "moq_relay_sessions{worker=\"" << x.worker << "\",role=\"publisher\"} "
            << x.publishers << '\n'
            << "moq_relay_sessions{worker=\"" << x.worker << "\",role=\"subscriber\"} "
            << x.subscribers << '\n';
  }
  w.per_worker("moq_relay_sessions_started_total", "counter", "MoQ sessions that got past SETUP",
               [](F x) { return double(x.sessions_started); });
  w.per_worker("moq_relay_subscriptions_total", "counter", "SUBSCRIBEs accepted from viewers",
               [](F x) { return double(x.subscriptions); });
  w.per_worker("moq_relay_objects_received_total", "counter",
               "Object streams received from publishers", [](F x) { return double(x.objects_in); });
  w.per_worker("moq_relay_object_bytes_received_total", "counter",
               "Object payload bytes received from publishers",
               [](F x) { return double(x.bytes_in); });
  w.per_worker("moq_relay_objects_sent_total", "counter", "Object streams started to viewers",
               [](F x) { return double(x.objects_out); });
  w.per_worker("moq_relay_object_bytes_sent_total", "counter",
               "Object payload bytes handed to viewers' streams",
               [](F x) { return double(x.bytes_out); });
  w.per_worker("moq_relay_objects_dropped_total", "counter",
               "Objects dropped for slow viewers (stream reset or skipped)",
               [](F x) { return double(x.objects_dropped); });
  w.per_worker("moq_relay_mirrors", "gauge", "Other workers' broadcasts mirrored on this worker",
               [](F x) { return double(x.mirrors); });
  w.per_worker("moq_relay_datagrams_sent_total", "counter", "UDP datagrams sent",
               [](F x) { return double(x.udp.datagrams_sent); });
  w.per_worker("moq_relay_datagrams_received_total", "counter", "UDP datagrams received",
               [](F x) { return double(x.udp.datagrams_received); });
  w.per_worker("moq_relay_send_syscalls_total", "counter", "sendmmsg/sendmsg calls",
               [](F x) { return double(x.udp.send_calls); });
  w.per_worker("moq_relay_recv_syscalls_total", "counter", "recvmmsg calls that returned data",
               [](F x) { return double(x.udp.recv_calls); });
  w.per_worker("moq_relay_gso_sends_total", "counter",
               "Send messages carrying several datagrams (UDP GSO)",
               [](F x) { return double(x.udp.gso_sends); });
  w.per_worker("moq_relay_datagrams_send_failed_total", "counter",
               "Datagrams the kernel refused to send (recovered by QUIC loss recovery)",
               [](F x) { return double(x.udp.send_errors); });
  w.per_worker("moq_relay_datagrams_unroutable_total", "counter",
               "Datagrams dropped: unparsable, or for no connection",
               [](F x) { return double(x.datagrams_unroutable); });
  w.per_worker("moq_relay_stream_packets_lost_total", "counter",
               "Packets with stream data declared lost by QUIC loss recovery, counted per "
               "stream when it closes (a packet of several streams counts for each; "
               "spurious losses included)",
               [](F x) { return double(x.stream_packets_lost); });
  w.head("moq_relay_rtt_seconds", "histogram",
         "Smoothed RTT of every connection, observed once per sampling second");
  for (const auto& x : f.workers) {
    for (size_t i = 0; i < kRttBuckets.size(); ++i) {
      w.out() << "moq_relay_rtt_seconds_bucket{worker=\"" << x.worker << "\",le=\""
              << number(kRttBuckets[i]) << "\"} " << x.rtt.buckets[i] << '\n';
    }
    w.out() << "moq_relay_rtt_seconds_bucket{worker=\"" << x.worker << "\",le=\"+Inf\"} "
            << x.rtt.count << '\n'
            << "moq_relay_rtt_seconds_sum{worker=\"" << x.worker << "\"} "
            << number(x.rtt.sum_seconds) << '\n'
            << "moq_relay_rtt_seconds_count{worker=\"" << x.worker << "\"} " << x.rtt.count << '\n';
  }
  w.per_worker("moq_relay_worker_cpu_seconds_total", "counter", "CPU time of the worker thread",
               [](F x) { return x.cpu_seconds; });
  return w.out().str();
}

}  // namespace moq::relay
