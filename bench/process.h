#pragma once

// Child processes for the benchmarks (relays, moq-api, redis-server, ffmpeg,
// moq-pub, moq-sub): started with posix_spawn, their memory read from /proc,
// stopped and reaped by the destructor.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace moq::bench {

class Process {
 public:
  struct Options {
    int stdin_fd = -1;   // default: /dev/null
    int stdout_fd = -1;  // default: stdout_path
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
  };

  Process() = default;
  Process(const std::vector<std::string>& argv, const Options& options);
  ~Process() { stop(); }
  Process(Process&& other) noexcept : pid_(other.pid_), name_(std::move(other.name_)) {
    other.pid_ = -1;
  }
  Process& operator=(Process&& other) noexcept;

  bool started() const { return pid_ > 0; }
  bool running() const;
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // Resident set size in KiB (VmRSS), nullopt once gone.
  std::optional<long> rss_kib() const;
  // CPU time (user + system) in seconds, from /proc/PID/stat.
  std::optional<double> cpu_seconds() const;
  // SIGTERM, then SIGKILL after `grace`; the exit status (wait(2) form).
  std::optional<int> stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  std::string name_;
};

// A UDP and TCP port on the loopback that was free a moment ago.
int free_port();
std::string read_text(const std::string& path);

}  // namespace moq::bench
