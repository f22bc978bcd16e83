#include "kernel_stats.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moq::bench {
namespace {

std::string read_all(const char* path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<uint64_t> udp_socket_drops(uint16_t port) {
  std::optional<uint64_t> total;
  for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::istringstream in(read_all(path));
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local;
      if (!(fields >> slot >> local)) continue;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port) continue;
      std::string field, last;
      while (fields >> field)
        last = field;
      total = total.value_or(0) + std::strtoull(last.c_str(), nullptr, 10);
    }
  }
  return total;
}

uint64_t udp_receive_drops_total() {
  uint64_t total = 0;
  {
    std::istringstream in(read_all("/proc/net/snmp"));
    std::string header, values;
    while (std::getline(in, header)) {
      if (header.rfind("Udp: ", 0) != 0 || !std::getline(in, values)) continue;
      std::istringstream h(header), v(values);
      std::string name, value;
      while (h >> name && v >> value) {
        if (name == "RcvbufErrors") total += std::strtoull(value.c_str(), nullptr, 10);
      }
      break;
    }
  }
  std::istringstream in(read_all("/proc/net/snmp6"));
  std::string name, value;
  while (in >> name >> value) {
    if (name == "Udp6RcvbufErrors") total += std::strtoull(value.c_str(), nullptr, 10);
  }
  return total;
}

std::optional<int> raise_receive_buffer(uint16_t port, int bytes) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  std::vector<int> fds;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') fds.push_back(std::atoi(entry->d_name));
  }
  ::closedir(dir);
  for (int fd : fds) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) continue;
    sockaddr_storage addr{};
    len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    uint16_t bound = 0;
    if (addr.ss_family == AF_INET6) {
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    } else if (addr.ss_family == AF_INET) {
      bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    }
    if (bound != port) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    int granted = 0;
    len = sizeof granted;
    ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    return granted;
  }
  return std::nullopt;
}

int max_receive_buffer() {
  const std::string text = read_all("/proc/sys/net/core/rmem_max");
  const int value = std::atoi(text.c_str());
  return value > 0 ? value : 212992;
}

namespace {

SchedStat read_schedstat(const std::string& path) {
  std::istringstream in(read_all(path.c_str()));
  SchedStat s;
  in >> s.run_ns >> s.wait_ns;
  return s;
}

}  // namespace

SchedStat thread_schedstat() {
  return read_schedstat("/proc/thread-self/schedstat");
}

SchedStat process_schedstat(pid_t pid) {
  SchedStat total;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (!dir) return total;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const SchedStat s = read_schedstat(tasks + "/" + entry->d_name + "/schedstat");
    total.run_ns += s.run_ns;
    total.wait_ns += s.wait_ns;
  }
  ::closedir(dir);
  return total;
}

}  // namespace moq::bench
