#include "pubsub/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace moq::pubsub_test {

Process::Process(const std::vector<std::string>& argv, const Options& options) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int pipe_fds[2] = {-1, -1};
  if (options.stdin_pipe) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, options.stdin_path.c_str(), O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 1, options.stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (options.stdin_pipe) {
    ::close(pipe_fds[0]);
    stdin_fd_ = pipe_fds[1];
  }
  if (rc != 0) {
    close_stdin();
    throw std::runtime_error("can't start " + argv[0]);
  }
  pid_ = pid;
}

Process::~Process() {
  close_stdin();
  kill_and_reap();
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), stdin_fd_(other.stdin_fd_), status_(other.status_) {
  other.pid_ = -1;
  other.stdin_fd_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    close_stdin();
    kill_and_reap();
    pid_ = other.pid_;
    stdin_fd_ = other.stdin_fd_;
    status_ = other.status_;
    other.pid_ = -1;
    other.stdin_fd_ = -1;
  }
  return *this;
}

bool Process::write_stdin(const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0 && stdin_fd_ >= 0) {
    const ssize_t n = ::write(stdin_fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE (SIGPIPE is ignored by the tests)
    p += n;
    size -= static_cast<size_t>(n);
  }
  return size == 0;
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

namespace {
int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}
}  // namespace

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = decode(status);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Process::running() {
  return pid_ > 0 && !wait(std::chrono::milliseconds(0));
}

std::optional<int> Process::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ > 0) ::kill(pid_, sig);
  auto status = wait(grace);
  if (!status) kill_and_reap();
  return status;
}

void Process::kill_and_reap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int free_port() {
  // Free for UDP (QUIC) and TCP (the relay's --dev HTTPS) alike.
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int udp = ::socket(AF_INET6, SOCK_DGRAM, 0);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    if (::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(udp);
      continue;
    }
    socklen_t len = sizeof addr;
    ::getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len);
    const int tcp = ::socket(AF_INET6, SOCK_STREAM, 0);
    const bool tcp_free = ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(tcp);
    ::close(udp);
    if (tcp_free) return ntohs(addr.sin6_port);
  }
  throw std::runtime_error("no free port");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    result.out.append(buf, n);
  const int status = ::pclose(p);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace moq::pubsub_test
