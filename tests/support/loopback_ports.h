// Loopback ports for tests that start servers (trolleyd, redis-server,
// postgres) on 127.0.0.1.
//
// Ports are drawn at random from the 12,000 ports just below the kernel's
// ephemeral range, so an outgoing connection (whose local port the kernel
// takes from that range) never holds one, and checked free by binding.
// Another process can still bind a port between the check and the server's
// own bind: a caller whose server then fails to start picks again.
#pragma once

#include <cstdint>

namespace trolley::test_support {

// The first port of /proc/sys/net/ipv4/ip_local_port_range (32768 if it
// cannot be read).
uint16_t EphemeralPortMin();

// True if nothing is bound to 127.0.0.1:port right now.
bool PortIsFree(uint16_t port);

// The first of `count` consecutive ports, all free now, below the ephemeral
// range; 0 if 1,000 random tries found none.
uint16_t FreeLoopbackPorts(int count);

}  // namespace trolley::test_support
