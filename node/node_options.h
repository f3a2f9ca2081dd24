// NodeOptions: what one node is configured with (from trolleyd's TOML file
// or the simulator's seed). Plain values; validated by Node::Create.
// See docs/design.md, 'The node core'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trolley {

struct NamespaceOptions {
  std::string name;
  uint32_t n = 3;
  uint32_t r = 2;
  uint32_t w = 2;
  uint64_t ttl_ms = 0;  // default expiry of writes; 0 = never
  // How clients resolve siblings ("union-max" | "or-set"). Opaque to the
  // node, which stores values as bytes; reported to clients in RingInfo.
  std::string merge = "union-max";
};

struct NodeOptions {
  std::string node_id;
  std::vector<NamespaceOptions> namespaces;
  // node id -> "host:port", for RingInfo replies (clients route with it).
  std::vector<std::pair<std::string, std::string>> member_addresses;
  uint64_t request_timeout_ms = 2000;  // default client request deadline
  uint64_t replica_timeout_ms = 500;   // silent replica -> suspected, replaced
  uint64_t ping_interval_ms = 500;     // probe suspected peers
  uint64_t hint_delivery_interval_ms = 200;
  uint64_t hint_backoff_max_ms = 10'000;
  size_t hint_batch_max = 64;      // hints in flight per target
  uint64_t hints_max = 1'000'000;  // stored hints; more are refused and logged
  uint64_t hint_age_max_ms = 7ull * 24 * 3600 * 1000;
  // Active anti-entropy (node/anti_entropy.h): one exchange at a time,
  // started every aae_interval_ms (jittered by +-50%), within the budgets.
  bool aae_enabled = true;
  uint64_t aae_interval_ms = 1000;
  uint64_t aae_keys_per_second = 2000;         // keys repaired
  uint64_t aae_bytes_per_second = 8ull << 20;  // key lists and repaired values
  size_t aae_segments_per_exchange = 1024;     // differing segments listed per exchange
  uint64_t aae_exchange_timeout_ms = 60'000;   // an exchange running longer is abandoned
  // A client request answered after this long is logged (request.slow)
  // with its phases; 0 = never.
  uint64_t slow_request_ms = 1000;
};

}  // namespace trolley
