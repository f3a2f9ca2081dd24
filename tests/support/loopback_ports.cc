#include "tests/support/loopback_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>

namespace trolley::test_support {

uint16_t EphemeralPortMin() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned lo = 0, hi = 0;
  if (in >> lo >> hi && lo > 2048 && lo <= 65535) return static_cast<uint16_t>(lo);
  return 32768;
}

bool PortIsFree(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

uint16_t FreeLoopbackPorts(int count) {
  const int hi = EphemeralPortMin();  // exclusive
  const int lo = std::max(1024, hi - 12000);
  if (count < 1 || hi - count < lo) return 0;
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(lo, hi - count);
  for (int tries = 0; tries < 1000; ++tries) {
    const int first = dist(rng);
    bool all_free = true;
    for (int p = first; p < first + count && all_free; ++p) {
      all_free = PortIsFree(static_cast<uint16_t>(p));
    }
    if (all_free) return static_cast<uint16_t>(first);
  }
  return 0;
}

}  // namespace trolley::test_support
