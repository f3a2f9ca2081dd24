// RequestPlan: what a client request needs before anyone handles it: its
// namespace, its key's preference list (from the membership's ring), the
// quorum to wait for (R or W) and its timeout. Node plans each client
// request once and routes it, by the plan, to the forwarder or to a
// coordinator. Pure. See docs/design.md, 'The node core'.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "node/node_context.h"
#include "ring/preference_list.h"

namespace trolley {

struct RequestPlan {
  const NamespaceOptions* ns = nullptr;
  PreferenceList pref;
  uint32_t quorum = 0;
  uint64_t timeout_ms = 0;
  bool self_primary = false;  // this node is one of the key's primaries
};

// InvalidArgument (to reply with) for an unknown namespace or a quorum
// larger than the namespace's N. quorum_asked/timeout_ms 0 = the default.
Result<RequestPlan> PlanRequest(const NodeContext& ctx, const std::string& ns,
                                const std::string& key, std::string_view quorum_name,
                                uint32_t quorum_asked, uint32_t timeout_ms);

}  // namespace trolley
