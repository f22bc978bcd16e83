#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace moq::test {

// A child process for tests (redis-server, moq-api): started with
// posix_spawn, killed and reaped by the destructor, so a failing test never
// leaks a server.
class Child {
 public:
  struct Options {
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
    std::vector<std::string> env;  // extra NAME=VALUE entries
  };

  Child() = default;
  Child(const std::vector<std::string>& argv, const Options& options);
  ~Child() { kill_and_wait(); }
  Child(Child&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  Child& operator=(Child&& other) noexcept;

  bool running() const;
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits (bounded) for the exit; the wait(2) status, or
  // nullopt when it did not exit in time (it is then SIGKILLed).
  std::optional<int> stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(5));
  void kill_and_wait();

 private:
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
// Polls until 127.0.0.1:port accepts a TCP connection; false on timeout.
bool wait_for_port(int port, std::chrono::milliseconds timeout);
// Runs a shell command, returns its stdout (trimmed) and exit status.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult run_command(const std::string& command);
std::string read_file(const std::string& path);

}  // namespace moq::test
