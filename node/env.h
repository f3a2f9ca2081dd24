// The world as the node core sees it: every way it acts or learns is one of
// these interfaces, so the same Node runs in trolleyd (Asio, LMDB, system
// clock) and in the deterministic simulator (docs/design.md, 'Shape: a sans-IO core').
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/logger.h"
#include "common/random.h"
#include "storage/engine.h"
#include "wire/messages.h"

namespace trolley {

// Where a message came from and where its reply goes: a peer node (by id)
// or one client connection (by a number the transport chose).
struct Endpoint {
  std::string node;         // non-empty: a peer node
  uint64_t connection = 0;  // a client connection, when node is empty
  bool IsNode() const { return !node.empty(); }
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Never blocks. May drop the message (peer down, queue full): the node
  // never relies on delivery, only on replies and timeouts.
  virtual void Send(const Endpoint& to, Message message) = 0;
};

// Not owned; all must outlive the Node. Engine callbacks must run on the
// thread that drives the Node (LmdbEngineOptions.completion_executor).
struct NodeEnv {
  Transport* transport = nullptr;
  Clock* clock = nullptr;
  Engine* engine = nullptr;
  Random* random = nullptr;
  Logger* log = nullptr;
};

}  // namespace trolley
