#pragma once

// A load generator for the HTTP servers (moq-api, the relay's --dev
// listener): one thread, non-blocking sockets and epoll, so thousands of
// requests really are in flight at once. Plain HTTP/1.1 or HTTPS (GnuTLS, no
// certificate check: the tests pin nothing here, curl checks the certificate).
//
// Every request gets its own connection ("Connection: close"), all opened
// at the same moment; a request counts as answered when a complete response
// (status line, headers and Content-Length bytes of body) came back before
// the deadline.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace moq::test {

struct LoadTarget {
  std::string host = "127.0.0.1";  // numeric IPv4 or IPv6 address
  int port = 0;
  bool tls = false;
  std::string server_name = "localhost";  // SNI, with tls
};

struct LoadRequest {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::string content_type = "application/json";
};

struct LoadOutcome {
  int status = 0;                        // 0: no complete response
  std::string error;                     // why not ("reset", "timed out", ...), empty when answered
  std::string body;                      // the response body
  std::chrono::microseconds latency{0};  // connect to complete response
};

struct LoadReport {
  std::vector<LoadOutcome> outcomes;                    // in request order
  size_t answered = 0;                                  // complete responses
  size_t failed = 0;                                    // reset, refused, closed early, TLS failure
  size_t timed_out = 0;                                 // still waiting at the deadline
  std::map<int, size_t> statuses;                       // status -> count
  std::map<std::string, size_t> errors;                 // error -> count
  std::chrono::microseconds median{0}, p99{0}, max{0};  // latency of the answered ones
  std::chrono::milliseconds wall{0};                    // whole run

  // "answered 2000/2000 (failed 0, timed out 0), 200 x1000 409 x0, latency
  // median 12.3 ms p99 40.1 ms max 41.0 ms, 1.2 s"
  std::string summary() const;
};

// Sends every request at once, each on its own new connection, and waits for
// all the responses until `deadline` has passed.
LoadReport run_load(const LoadTarget& target, const std::vector<LoadRequest>& requests,
                    std::chrono::milliseconds deadline);

// N TCP connections that connect and then say nothing (a browser's
// preconnects, or an attacker holding sockets).
class IdleConnections {
 public:
  IdleConnections() = default;
  ~IdleConnections() { close_all(); }
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  // Opens `count` connections at once; returns how many completed the TCP
  // handshake before `deadline`. The others are dropped.
  size_t open(const LoadTarget& target, size_t count, std::chrono::milliseconds deadline);
  size_t size() const { return fds_.size(); }
  // How many the server has closed (EOF or reset) so far.
  size_t closed_by_peer() const;
  // Waits until the server closed all of them or `deadline` passed; returns
  // closed_by_peer().
  size_t wait_closed(std::chrono::milliseconds deadline) const;
  void close_all();

 private:
  std::vector<int> fds_;
};

// Lifts this process's open-file soft limit to its hard limit (the tests open
// thousands of sockets); returns the new soft limit.
size_t raise_open_file_limit();

}  // namespace moq::test
