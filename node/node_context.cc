#include "node/node_context.h"

#include <utility>

#include "common/assert.h"

namespace trolley {

NodeContext::NodeContext(NodeOptions options, NodeEnv env, Membership membership, ActorId actor)
    : options_(std::move(options)),
      env_(env),
      membership_(std::move(membership)),
      actor_(actor),
      // Request ids start at a random point in every life of the node: a
      // peer may answer a request of the previous life after a restart (its
      // link redials the new process), and that answer must not match a
      // request of this life with the same id (found by the simulator,
      // seed 29490).
      last_id_(env_.random->Next() >> 1) {
  TROLLEY_ASSERT(membership_.Contains(options_.node_id));
}

const NamespaceOptions* NodeContext::FindNamespace(const std::string& ns) const {
  for (const NamespaceOptions& n : options_.namespaces) {
    if (n.name == ns) return &n;
  }
  return nullptr;
}

}  // namespace trolley
