// ReportRequestDone: the end of one client request at its coordinator. A
// request answered after options.slow_request_ms is counted
// (slow_requests) and logged as one line with its phases:
//
//   request.slow op=put key=carts/u1 code=OK total_ms=1204.1 queue_ms=0.3
//       local_commit_ms=6.2 replica_acks_ms=1203.8 detail="acks=2 w=2"
//
// Each coordinator names its own phases (put: queue, local_commit,
// replica_acks; get: local_read, replica_replies); a phase the request never
// reached before its answer is written "pending".
//
// Pure: durations come from the caller, measured with the node's Clock
// (NodeContext::Now), and the line goes to the Env's Logger. Threading: the
// node's driver thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "node/node_context.h"

namespace trolley {

struct RequestPhase {
  std::string_view name;       // "queue", "local_commit", ...
  std::optional<uint64_t> ns;  // nullopt: not reached when answered
};

struct RequestSummary {
  std::string_view op;  // "put", "get"
  const ObjectKey* key = nullptr;
  StatusCode code = StatusCode::kOk;
  uint64_t total_ns = 0;
  std::vector<RequestPhase> phases;
  std::string detail;  // free text, e.g. "acks=2 w=2"
};

// Counts and logs `summary` if it is slow. Returns whether it was.
bool ReportRequestDone(NodeContext& ctx, const RequestSummary& summary);

// The log line for a slow request (exposed for tests).
std::string SlowRequestLine(const RequestSummary& summary);

}  // namespace trolley
