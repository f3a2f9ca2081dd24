#include "node/request_plan.h"

namespace trolley {

Result<RequestPlan> PlanRequest(const NodeContext& ctx, const std::string& ns_name,
                                const std::string& key, std::string_view quorum_name,
                                uint32_t quorum_asked, uint32_t timeout_ms) {
  const NamespaceOptions* ns = ctx.FindNamespace(ns_name);
  if (ns == nullptr) return Status::InvalidArgument("unknown namespace '" + ns_name + "'");
  RequestPlan plan;
  plan.ns = ns;
  plan.pref = PreferenceListForKey(ctx.membership().ring(), ns_name, key, ns->n);
  plan.quorum = quorum_asked != 0 ? quorum_asked : (quorum_name == "w" ? ns->w : ns->r);
  if (plan.quorum > plan.pref.primaries.size()) {
    return Status::InvalidArgument(std::string(quorum_name) + "=" + std::to_string(plan.quorum) +
                                   " exceeds the " + std::to_string(plan.pref.primaries.size()) +
                                   " replicas of namespace '" + ns_name + "'");
  }
  plan.timeout_ms = timeout_ms != 0 ? timeout_ms : ctx.options().request_timeout_ms;
  plan.self_primary = ContainsNode(plan.pref.primaries, ctx.self());
  return plan;
}

}  // namespace trolley
