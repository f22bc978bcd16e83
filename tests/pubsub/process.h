#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace moq::pubsub_test {

// A child process (moq-relay, moq-pub, moq-sub, ffmpeg) started with
// posix_spawn; killed and reaped by the destructor so a failing test never
// leaks one. stdin is a file, /dev/null, or a pipe the test writes to.
class Process {
 public:
  struct Options {
    std::string stdin_path = "/dev/null";
    bool stdin_pipe = false;  // stdin_path ignored; write with write_stdin()
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
  };

  Process() = default;
  Process(const std::vector<std::string>& argv, const Options& options);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  // Writes everything to the child's stdin pipe; false if the child closed it.
  bool write_stdin(const void* data, size_t size);
  void close_stdin();

  // The exit status (WEXITSTATUS, or 128 + signal) once it exited within
  // `timeout`; nullopt when it is still running then.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Sends `sig`, then waits up to `grace`; SIGKILL after that.
  std::optional<int> stop(int sig, std::chrono::milliseconds grace);
  bool running();
  pid_t pid() const { return pid_; }

 private:
  void kill_and_reap();
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> status_;
};

// A UDP (and TCP) port on the loopback that was free a moment ago.
int free_port();
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
// Runs `command` with /bin/sh; its stdout and exit status.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult run_command(const std::string& command);

}  // namespace moq::pubsub_test
