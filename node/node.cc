#include "node/node.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "common/key.h"

namespace trolley {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

constexpr uint64_t kNsPerMs = 1'000'000;

bool Contains(const std::vector<NodeId>& nodes, const std::string& id) {
  return std::any_of(nodes.begin(), nodes.end(), [&](const NodeId& n) { return n.name == id; });
}

std::string KeyName(const ObjectKey& key) { return key.ns + "/" + key.key; }

}  // namespace

ActorId ActorIdFor(const std::string& node_id, uint64_t incarnation) {
  return KeyHash("actor/" + node_id, std::to_string(incarnation));
}

Result<std::unique_ptr<Node>> Node::Create(NodeOptions options, NodeEnv env, Ring ring) {
  if (!env.transport || !env.clock || !env.engine || !env.random || !env.log) {
    return Status::InvalidArgument("NodeEnv is missing an interface");
  }
  if (!ring.Contains(NodeId{options.node_id})) {
    return Status::InvalidArgument("node id '" + options.node_id +
                                   "' is not a member of the ring: add it to cluster.members");
  }
  for (const NamespaceOptions& ns : options.namespaces) {
    if (ns.n < 1 || ns.r < 1 || ns.w < 1 || ns.r > ns.n || ns.w > ns.n) {
      return Status::InvalidArgument(
          "namespace '" + ns.name + "': need 1 <= r <= n and 1 <= w <= n, got n=" +
          std::to_string(ns.n) + " r=" + std::to_string(ns.r) + " w=" + std::to_string(ns.w));
    }
  }
  return std::unique_ptr<Node>(new Node(std::move(options), env, std::move(ring)));
}

Node::Node(NodeOptions options, NodeEnv env, Ring ring)
    : options_(std::move(options)), env_(env), ring_(std::move(ring)) {
  actor_ = ActorIdFor(options_.node_id, env_.engine->incarnation());
  // Request ids start at a random point in every life of the node: a peer
  // may answer a request of the previous life after a restart (its link
  // redials the new process), and that answer must not match a request of
  // this life with the same id (found by the simulator, seed 29490).
  last_id_ = env_.random->Next() >> 1;
  for (const NodeId& n : ring_.Nodes()) {
    if (n.name != options_.node_id) peers_[n.name] = PeerState{};
  }
  if (auto stats = env_.engine->hints().Stats(); stats.ok()) hint_count_ = stats->count;
}

const NamespaceOptions* Node::FindNamespace(const std::string& ns) const {
  for (const NamespaceOptions& n : options_.namespaces) {
    if (n.name == ns) return &n;
  }
  return nullptr;
}

bool Node::IsUp(const std::string& node) const {
  if (node == options_.node_id) return true;
  auto it = peers_.find(node);
  return it != peers_.end() && !it->second.suspected;
}

void Node::MarkHeard(const std::string& node) {
  auto it = peers_.find(node);
  if (it == peers_.end()) return;
  if (it->second.suspected) {
    it->second.suspected = false;
    it->second.hint_backoff_ms = 0;
    it->second.next_hint_round_ns = 0;
    Log(LogLevel::kInfo, "peer.up node=" + node);
  }
}

void Node::Suspect(const std::string& node, std::string_view why) {
  auto it = peers_.find(node);
  if (it == peers_.end() || it->second.suspected) return;
  it->second.suspected = true;
  it->second.last_ping_ns = Now();
  Log(LogLevel::kWarn, "peer.suspected node=" + node + " reason=" + std::string(why));
}

void Node::OnPeerUnreachable(const std::string& node) {
  Suspect(node, "unreachable");
  std::vector<ForwardOp> reroute;
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (it->second.to == node) {
      reroute.push_back(std::move(it->second));
      it = forwards_.erase(it);
    } else {
      ++it;
    }
  }
  for (ForwardOp& op : reroute) Reroute(std::move(op), Now());

  // Replica requests already sent to it will not be answered either: act
  // now, as a timeout would after replica_timeout_ms (a refused or reset
  // link is not a slow peer). A write may still have landed, as with a
  // timeout; the hint or the fallback covers it either way.
  std::vector<uint64_t> ids;
  for (const auto& [id, op] : puts_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = puts_.find(id);
    if (it == puts_.end() || !it->second.decided) continue;
    // Index loop: ReplaceSilentTarget appends to op.targets.
    for (size_t i = 0; i < it->second.targets.size(); ++i) {
      PutTarget& t = it->second.targets[i];
      if (t.answered || t.node != node) continue;
      PutTarget silent = t;
      t.answered = true;
      ReplaceSilentTarget(id, it->second, silent);
    }
    it = puts_.find(id);
    if (it != puts_.end() && SettlePut(it->second)) puts_.erase(it);
  }
  ids.clear();
  for (const auto& [id, op] : gets_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = gets_.find(id);
    if (it == gets_.end()) continue;
    bool failed = false;
    for (const std::string& t : it->second.quorum->Unanswered()) {
      if (t != node) continue;
      it->second.quorum->AddFailure(t);
      failed = true;
    }
    if (failed) FinishGetIfDecided(id, it->second);
  }
}

void Node::OnMessage(const Endpoint& from, Message message) {
  if (from.IsNode()) MarkHeard(from.node);
  std::visit(
      Overloaded{
          [&](ClientPut& m) { OnClientPut(from, std::move(m)); },
          [&](ClientGet& m) { OnClientGet(from, std::move(m)); },
          [&](ReplicaWrite& m) { OnReplicaWrite(from, std::move(m)); },
          [&](ReplicaWriteReply& m) { OnReplicaWriteReply(from, m); },
          [&](ReplicaGet& m) { OnReplicaGet(from, m); },
          [&](ReplicaGetReply& m) { OnReplicaGetReply(from, m); },
          [&](ClientPutReply& m) { OnForwardedReply(from, std::move(m)); },
          [&](ClientGetReply& m) { OnForwardedReply(from, std::move(m)); },
          [&](RingInfoRequest& m) { OnRingInfoRequest(from, m); },
          [&](StatusRequest& m) { OnStatusRequest(from, m); },
          [&](Ping& m) { env_.transport->Send(from, Pong{m.nonce}); },
          [&](Pong&) {},
          [&](ErrorReply& m) {
            Log(LogLevel::kWarn, "peer.error_reply from=" + from.node + " message=" + m.message);
          },
          [&](auto&) {
            Log(LogLevel::kWarn,
                "node.unexpected_message type=" + std::string(MessageName(Message(message))));
          },
      },
      message);
}

// ---- forwarding ----

bool Node::Forward(const Endpoint& from, RequestId client_id, const PreferenceList& pref,
                   Message request, uint64_t timeout_ms) {
  for (const NodeId& primary : pref.primaries) {
    if (primary.name == options_.node_id || !IsUp(primary.name)) continue;
    const RequestId id = NextId();
    Message original = request;  // kept to re-route if this primary turns out to be down
    std::visit(Overloaded{[&](ClientPut& m) { m.id = id, m.forwarded = true; },
                          [&](ClientGet& m) { m.id = id, m.forwarded = true; },
                          [](auto&) { TROLLEY_ASSERT(false); }},
               request);
    const uint64_t now = Now();
    forwards_[id.value] = ForwardOp{from,
                                    client_id,
                                    primary.name,
                                    std::holds_alternative<ClientPut>(request),
                                    now + timeout_ms * kNsPerMs,
                                    now,
                                    std::move(original)};
    env_.transport->Send(Endpoint{primary.name, 0}, std::move(request));
    m_.forwarded.Increment();
    return true;
  }
  return false;  // no primary reachable: coordinate here
}

void Node::Reroute(ForwardOp op, uint64_t now) {
  // The original request again, with what is left of its deadline: the
  // primary it went to is now suspected, so it goes to the next one or is
  // coordinated here.
  const uint64_t left_ms =
      op.deadline_ns > now ? std::max<uint64_t>(1, (op.deadline_ns - now) / kNsPerMs) : 1;
  std::visit(
      Overloaded{[&](ClientPut& m) {
                   m.timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(left_ms, UINT32_MAX));
                   OnClientPut(op.client, std::move(m));
                 },
                 [&](ClientGet& m) {
                   m.timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(left_ms, UINT32_MAX));
                   OnClientGet(op.client, std::move(m));
                 },
                 [](auto&) { TROLLEY_ASSERT(false); }},
      op.request);
}

void Node::OnForwardedReply(const Endpoint& from, Message reply) {
  const RequestId id = std::visit(
      Overloaded{[](ClientPutReply& m) { return m.id; }, [](ClientGetReply& m) { return m.id; },
                 [](auto&) { return RequestId{}; }},
      reply);
  auto it = forwards_.find(id.value);
  if (it == forwards_.end() || it->second.to != from.node) return;  // late or stray
  std::visit(Overloaded{[&](ClientPutReply& m) { m.id = it->second.client_id; },
                        [&](ClientGetReply& m) { m.id = it->second.client_id; }, [](auto&) {}},
             reply);
  env_.transport->Send(it->second.client, std::move(reply));
  forwards_.erase(it);
}

void Node::TickForwards(uint64_t now) {
  std::vector<ForwardOp> reroute;
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    ForwardOp& op = it->second;
    if (now < op.deadline_ns) {
      // A primary silent for replica_timeout_ms is suspected and the request
      // re-routed once, as a coordinator replaces a silent replica.
      if (!op.rerouted && now >= op.sent_ns + options_.replica_timeout_ms * kNsPerMs) {
        Suspect(op.to, "forwarded request timed out");
        op.rerouted = true;
        reroute.push_back(std::move(op));
        it = forwards_.erase(it);
        continue;
      }
      ++it;
      continue;
    }
    const std::string msg = "forwarded to " + op.to + " and got no answer in time";
    Suspect(op.to, "forwarded request timed out");
    if (op.is_put) {
      env_.transport->Send(op.client, ClientPutReply{op.client_id, StatusCode::kTimeout, msg, {}});
    } else {
      env_.transport->Send(op.client, ClientGetReply{op.client_id, StatusCode::kTimeout, msg, {}});
    }
    it = forwards_.erase(it);
  }
  for (ForwardOp& op : reroute) Reroute(std::move(op), now);
}

// ---- put, as coordinator ----

Result<Node::RequestPlan> Node::PlanRequest(const std::string& ns_name, const std::string& key,
                                            std::string_view quorum_name, uint32_t quorum_asked,
                                            uint32_t timeout_ms) const {
  const NamespaceOptions* ns = FindNamespace(ns_name);
  if (ns == nullptr) return Status::InvalidArgument("unknown namespace '" + ns_name + "'");
  RequestPlan plan;
  plan.ns = ns;
  plan.pref = PreferenceListForKey(ring_, ns_name, key, ns->n);
  plan.quorum = quorum_asked != 0 ? quorum_asked : (quorum_name == "w" ? ns->w : ns->r);
  if (plan.quorum > plan.pref.primaries.size()) {
    return Status::InvalidArgument(std::string(quorum_name) + "=" + std::to_string(plan.quorum) +
                                   " exceeds the " + std::to_string(plan.pref.primaries.size()) +
                                   " replicas of namespace '" + ns_name + "'");
  }
  plan.timeout_ms = timeout_ms != 0 ? timeout_ms : options_.request_timeout_ms;
  plan.self_primary = Contains(plan.pref.primaries, options_.node_id);
  return plan;
}

void Node::OnClientPut(const Endpoint& from, ClientPut m) {
  Result<RequestPlan> planned = PlanRequest(m.ns, m.key, "w", m.w, m.timeout_ms);
  if (!planned.ok()) {
    env_.transport->Send(
        from, ClientPutReply{m.id, planned.status().code(), planned.status().message(), {}});
    return;
  }
  RequestPlan& plan = *planned;
  if (!plan.self_primary && !m.forwarded && Forward(from, m.id, plan.pref, m, plan.timeout_ms)) {
    return;
  }
  const NamespaceOptions* ns = plan.ns;
  const uint32_t w = plan.quorum;
  const uint64_t timeout_ms = plan.timeout_ms;
  PreferenceList pref = std::move(plan.pref);
  const uint64_t op_id = NextId().value;
  PutOp& op = puts_[op_id];
  op.client = from;
  op.client_id = m.id;
  op.key = ObjectKey{m.ns, m.key};
  op.w = w;
  op.pref = std::move(pref);
  op.start_ns = Now();
  op.deadline_ns = op.start_ns + timeout_ms * kNsPerMs;

  WriteIntent intent;
  intent.context = std::move(m.context);
  intent.tombstone = m.tombstone;
  intent.value = std::move(m.value);
  intent.write_id = m.write_id;
  intent.timestamp_ms = env_.clock->NowWallMs();
  const uint64_t ttl_ms = m.ttl_ms != 0 ? m.ttl_ms : ns->ttl_ms;
  if (ttl_ms != 0 && !m.tombstone) intent.expiry_ms = intent.timestamp_ms + ttl_ms;
  // Replication starts once the new state is decided, in parallel with
  // the local commit (one commit latency on the write path, not two); this
  // node counts toward W only once its commit is done.
  env_.engine->Put(
      op.key, std::move(intent), actor_,
      [this, op_id](Result<SiblingSet> r) { LocalPutDecided(op_id, std::move(r).value()); },
      [this, op_id](Result<SiblingSet> r) { LocalPutDone(op_id, std::move(r)); });
}

void Node::LocalPutDecided(uint64_t op_id, SiblingSet state) {
  auto it = puts_.find(op_id);
  TROLLEY_ASSERT(it != puts_.end());  // ops live until their local write is done
  PutOp& op = it->second;
  TROLLEY_ASSERT(!op.decided && !op.local_done);
  op.state = std::move(state);
  Replicate(op_id, op);
  SettlePut(op);  // may reply (a quorum already impossible); never drops
}

void Node::LocalPutDone(uint64_t op_id, Result<SiblingSet> result) {
  auto it = puts_.find(op_id);
  TROLLEY_ASSERT(it != puts_.end());  // ops live until their local write is done
  PutOp& op = it->second;
  op.local_done = true;
  if (!result.ok()) {
    if (!op.decided) {
      ReplyPut(op, result.status().code(), "local write failed: " + result.status().message());
      m_.puts_failed.Increment();
      puts_.erase(it);
      return;
    }
    // Replicated but not stored here: the other replicas may still make W.
    if (op.self_replica) op.quorum->AddFailure(options_.node_id);
  } else {
    if (!op.decided) {  // an engine that decides at commit
      op.state = std::move(result).value();
      Replicate(op_id, op);
    }
    if (op.self_replica) op.quorum->AddAck(options_.node_id);
  }
  if (SettlePut(op)) puts_.erase(it);
}

void Node::Replicate(uint64_t op_id, PutOp& op) {
  op.decided = true;
  op.used.insert(options_.node_id);

  // One slot per primary: the primary itself, a fallback for it, or (when
  // none is left) a hint kept here.
  std::vector<std::string> counted;
  std::vector<PutTarget> remote;
  bool self_counted = Contains(op.pref.primaries, options_.node_id);
  if (self_counted) counted.push_back(options_.node_id);
  const auto selected =
      SelectQuorumTargets(op.pref, [this](const NodeId& n) { return IsUp(n.name); });
  std::set<std::string> covered;
  std::string self_hint_for;  // this coordinator is itself the fallback for it
  for (const QuorumTarget& t : selected) {
    const std::string owner = t.hint_for ? t.hint_for->name : t.target.name;
    covered.insert(owner);
    if (t.target.name == options_.node_id) {
      if (t.hint_for && !self_counted) {
        self_hint_for = owner;
        counted.push_back(options_.node_id);
        self_counted = true;
      }
      continue;
    }
    remote.push_back(PutTarget{t.target.name, t.hint_for ? owner : std::string(), 0, false});
    counted.push_back(t.target.name);
    op.used.insert(t.target.name);
  }
  for (const NodeId& primary : op.pref.primaries) {
    if (!covered.count(primary.name)) StoreHint(primary.name, op.key, op.state);
  }
  // With fewer slots than W the quorum has failed already, but every slot
  // still gets the write (and hints hold the rest).
  op.quorum.emplace(op.w, counted);
  op.self_replica = self_counted && self_hint_for.empty();
  if (!self_hint_for.empty()) {
    // As a fallback this node's ack counts once its hint is durable, like a
    // remote fallback's: the object just written here is no replica, and a
    // crash before the hint's commit would leave the acknowledged write
    // nowhere the owner can get it from (found by the simulator, seed 37627).
    StoreHint(self_hint_for, op.key, op.state, [this, op_id](Status s) {
      auto pending = puts_.find(op_id);
      if (pending == puts_.end()) return;  // decided and done without this ack
      if (s.ok()) {
        pending->second.quorum->AddAck(options_.node_id);
      } else {
        pending->second.quorum->AddFailure(options_.node_id);
      }
      if (SettlePut(pending->second)) puts_.erase(pending);
    });
  }
  for (PutTarget& t : remote) SendToTarget(op_id, op, std::move(t));
}

void Node::SendToTarget(uint64_t op_id, PutOp& op, PutTarget target) {
  target.sent_ns = Now();
  ReplicaWrite write{RequestId{op_id}, op.key.ns, op.key.key, op.state, target.hint_for};
  if (!target.hint_for.empty()) m_.fallback_writes.Increment();
  env_.transport->Send(Endpoint{target.node, 0}, std::move(write));
  op.targets.push_back(std::move(target));
}

void Node::ReplaceSilentTarget(uint64_t op_id, PutOp& op, PutTarget& target) {
  target.answered = true;
  op.quorum->AddFailure(target.node);
  const std::string owner = target.hint_for.empty() ? target.node : target.hint_for;
  for (const NodeId& fallback : op.pref.fallbacks) {
    if (op.used.count(fallback.name) || !IsUp(fallback.name)) continue;
    op.used.insert(fallback.name);
    op.quorum->AddTarget(fallback.name);
    SendToTarget(op_id, op, PutTarget{fallback.name, owner, 0, false});
    return;
  }
  StoreHint(owner, op.key, op.state);  // no fallback left: keep it here
}

bool Node::SettlePut(PutOp& op) {
  if (!op.replied) {
    switch (op.quorum->Decision()) {
      case QuorumDecision::kSucceeded:
        ReplyPut(op, StatusCode::kOk, "");
        m_.puts_ok.Increment();
        break;
      case QuorumDecision::kFailed:
        ReplyPut(op, StatusCode::kUnavailable,
                 "only " + std::to_string(op.quorum->acks()) + " of w=" + std::to_string(op.w) +
                     " replicas acknowledged; the write is kept as hints and may still appear");
        m_.puts_failed.Increment();
        break;
      case QuorumDecision::kPending:
        break;
    }
  }
  const bool all_answered = std::all_of(op.targets.begin(), op.targets.end(),
                                        [](const PutTarget& t) { return t.answered; });
  return op.replied && all_answered && op.local_done;
}

void Node::ReplyPut(PutOp& op, StatusCode code, std::string message) {
  if (op.replied) return;
  op.replied = true;
  m_.put_latency_us.Record((Now() - op.start_ns) / 1000);
  env_.transport->Send(op.client,
                       ClientPutReply{op.client_id, code, std::move(message),
                                      code == StatusCode::kOk ? op.state : SiblingSet()});
}

void Node::OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m) {
  if (auto d = deliveries_.find(m.id.value); d != deliveries_.end()) {
    if (d->second.target != from.node) return;
    HintDelivery delivery = std::move(d->second);
    deliveries_.erase(d);
    PeerState& peer = peers_[delivery.target];
    if (peer.hints_in_flight > 0) --peer.hints_in_flight;
    if (m.code != StatusCode::kOk) {
      HintDeliveryFailed(delivery.target);
      return;
    }
    peer.hint_backoff_ms = 0;
    m_.hints_delivered.Increment();
    env_.engine->hints().RemoveDelivered(delivery.target, delivery.key, delivery.state,
                                         [this](Status s) {
                                           if (s.ok() && hint_count_ > 0) --hint_count_;
                                         });
    return;
  }
  auto it = puts_.find(m.id.value);
  if (it == puts_.end()) return;  // read repair ack, or a late reply
  PutOp& op = it->second;
  for (PutTarget& t : op.targets) {
    if (t.node != from.node || t.answered) continue;
    t.answered = true;
    if (m.code == StatusCode::kOk) {
      op.quorum->AddAck(t.node);
    } else {
      op.quorum->AddFailure(t.node);
      StoreHint(t.hint_for.empty() ? t.node : t.hint_for, op.key, op.state);
    }
    break;
  }
  if (SettlePut(op)) puts_.erase(it);
}

void Node::TickPuts(uint64_t now) {
  std::vector<uint64_t> done;
  for (auto& [op_id, op] : puts_) {
    if (!op.decided) {
      // A stalled disk must not hold the client past its deadline. The op
      // stays until the local write calls back, and then still replicates.
      if (now >= op.deadline_ns) {
        ReplyPut(op, StatusCode::kTimeout,
                 "the coordinator's local write did not complete in time (storage stalled?); "
                 "the write may still appear");
      }
      continue;
    }
    // Index loop: ReplaceSilentTarget appends to op.targets.
    for (size_t i = 0; i < op.targets.size(); ++i) {
      if (op.targets[i].answered) continue;
      // sent_ns may be later than `now`: targets added during this tick.
      if (now < op.targets[i].sent_ns + options_.replica_timeout_ms * kNsPerMs) continue;
      Suspect(op.targets[i].node, "replica write timed out");
      PutTarget silent = op.targets[i];
      op.targets[i].answered = true;
      ReplaceSilentTarget(op_id, op, silent);
    }
    if (now >= op.deadline_ns) {
      ReplyPut(op, StatusCode::kTimeout,
               "w=" + std::to_string(op.w) + " acknowledgements did not arrive in time (" +
                   std::to_string(op.quorum->acks()) + " did); the write may still appear");
      for (PutTarget& t : op.targets) {
        if (t.answered) continue;
        t.answered = true;
        StoreHint(t.hint_for.empty() ? t.node : t.hint_for, op.key, op.state);
      }
      if (op.local_done) done.push_back(op_id);  // else when its commit calls back
      continue;
    }
    if (SettlePut(op)) done.push_back(op_id);
  }
  for (uint64_t id : done) puts_.erase(id);
}

// ---- hints ----

void Node::StoreHint(const std::string& target, const ObjectKey& key, const SiblingSet& state,
                     std::function<void(Status)> then) {
  if (target == options_.node_id) {
    if (then) then(Status::Ok());
    return;
  }
  if (hint_count_ >= options_.hints_max) {
    m_.hints_dropped.Increment();
    Log(LogLevel::kError, "hint.dropped target=" + target + " key=" + KeyName(key) +
                              " reason=store_full hints_max=" + std::to_string(options_.hints_max));
    if (then) then(Status::Busy("hint store full (hints_max)"));
    return;
  }
  ++hint_count_;
  m_.hints_stored.Increment();
  env_.engine->hints().Add(Hint{target, key, state, env_.clock->NowWallMs()},
                           [this, target, key, then = std::move(then)](Status s) {
                             if (!s.ok()) {
                               Log(LogLevel::kError, "hint.store_failed target=" + target +
                                                         " key=" + KeyName(key) +
                                                         " error=" + s.ToString());
                             }
                             if (then) then(s);
                           });
}

void Node::HintDeliveryFailed(const std::string& target) {
  PeerState& peer = peers_[target];
  const uint64_t base = std::max<uint64_t>(options_.hint_delivery_interval_ms, 1);
  peer.hint_backoff_ms =
      std::min(std::max(peer.hint_backoff_ms * 2, base), options_.hint_backoff_max_ms);
  const uint64_t jitter = env_.random->Uniform(peer.hint_backoff_ms / 2 + 1);
  peer.next_hint_round_ns = Now() + (peer.hint_backoff_ms + jitter) * kNsPerMs;
}

void Node::TickHints(uint64_t now) {
  for (auto it = deliveries_.begin(); it != deliveries_.end();) {
    if (now < it->second.sent_ns + options_.replica_timeout_ms * kNsPerMs) {
      ++it;
      continue;
    }
    const std::string target = it->second.target;
    PeerState& peer = peers_[target];
    if (peer.hints_in_flight > 0) --peer.hints_in_flight;
    it = deliveries_.erase(it);
    Suspect(target, "hint delivery timed out");
    HintDeliveryFailed(target);
  }
  if (now < next_hint_tick_ns_) return;
  next_hint_tick_ns_ = now + options_.hint_delivery_interval_ms * kNsPerMs;
  auto targets = env_.engine->hints().Targets();
  if (!targets.ok()) return;
  const uint64_t wall_ms = env_.clock->NowWallMs();
  for (const std::string& target : *targets) {
    auto peer_it = peers_.find(target);
    if (peer_it == peers_.end()) continue;  // not a member (left the ring)
    PeerState& peer = peer_it->second;
    if (peer.suspected || peer.hints_in_flight > 0 || now < peer.next_hint_round_ns) continue;
    auto hints = env_.engine->hints().List(target, options_.hint_batch_max);
    if (!hints.ok()) continue;
    for (Hint& hint : *hints) {
      if (wall_ms > hint.created_ms + options_.hint_age_max_ms) {
        m_.hints_dropped.Increment();
        Log(LogLevel::kError,
            "hint.dropped target=" + target + " key=" + KeyName(hint.key) +
                " reason=age hint_age_max_ms=" + std::to_string(options_.hint_age_max_ms));
        env_.engine->hints().Drop(target, hint.key, [this](Status s) {
          if (s.ok() && hint_count_ > 0) --hint_count_;
        });
        continue;
      }
      const RequestId id = NextId();
      // durable: the owner replies once the state is on its disk, not just
      // committed, because the reply deletes the hint (under `flush` a
      // power loss of the owner would otherwise lose what the hint held).
      env_.transport->Send(Endpoint{target, 0}, ReplicaWrite{id, hint.key.ns, hint.key.key,
                                                             hint.state, "", /*durable=*/true});
      deliveries_[id.value] = HintDelivery{target, std::move(hint.key), std::move(hint.state), now};
      ++peer.hints_in_flight;
    }
  }
}

// ---- get, as coordinator ----

void Node::OnClientGet(const Endpoint& from, ClientGet m) {
  Result<RequestPlan> planned = PlanRequest(m.ns, m.key, "r", m.r, m.timeout_ms);
  if (!planned.ok()) {
    env_.transport->Send(
        from, ClientGetReply{m.id, planned.status().code(), planned.status().message(), {}});
    return;
  }
  const RequestPlan& plan = *planned;
  if (!plan.self_primary && !m.forwarded && Forward(from, m.id, plan.pref, m, plan.timeout_ms)) {
    return;
  }
  const PreferenceList& pref = plan.pref;
  const uint32_t r = plan.quorum;
  const uint64_t timeout_ms = plan.timeout_ms;
  std::vector<std::string> targets;
  for (const NodeId& p : pref.primaries) {
    if (IsUp(p.name)) targets.push_back(p.name);
  }
  if (targets.size() < r) {
    m_.gets_failed.Increment();
    env_.transport->Send(from, ClientGetReply{m.id,
                                              StatusCode::kUnavailable,
                                              "only " + std::to_string(targets.size()) +
                                                  " replicas reachable, r=" + std::to_string(r),
                                              {}});
    return;
  }
  const uint64_t op_id = NextId().value;
  GetOp& op = gets_[op_id];
  op.client = from;
  op.client_id = m.id;
  op.key = ObjectKey{m.ns, m.key};
  op.deadline_ns = Now() + timeout_ms * kNsPerMs;
  op.quorum.emplace(r, targets);
  op.sent_ns = Now();
  for (const std::string& t : targets) {
    if (t == options_.node_id) {
      auto local = env_.engine->Get(op.key);
      if (local.ok()) {
        op.quorum->AddState(t, *local);
      } else if (local.status().IsNotFound()) {
        op.quorum->AddState(t, SiblingSet());
      } else {
        op.quorum->AddFailure(t);
      }
    } else {
      env_.transport->Send(Endpoint{t, 0}, ReplicaGet{RequestId{op_id}, m.ns, m.key});
    }
  }
  FinishGetIfDecided(op_id, op);
}

void Node::OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m) {
  auto it = gets_.find(m.id.value);
  if (it == gets_.end()) return;
  GetOp& op = it->second;
  if (m.code == StatusCode::kOk || m.code == StatusCode::kNotFound) {
    op.quorum->AddState(from.node, m.found ? m.state : SiblingSet());
  } else {
    op.quorum->AddFailure(from.node);
  }
  FinishGetIfDecided(m.id.value, op);
}

void Node::FinishGetIfDecided(uint64_t op_id, GetOp& op) {
  if (!op.replied) {
    switch (op.quorum->Decision()) {
      case QuorumDecision::kSucceeded: {
        const bool absent = op.quorum->merged().Visible(env_.clock->NowWallMs()).empty();
        ReplyGet(op, absent ? StatusCode::kNotFound : StatusCode::kOk, "");
        m_.gets_ok.Increment();
        break;
      }
      case QuorumDecision::kFailed:
        ReplyGet(op, StatusCode::kUnavailable, "fewer than r replicas answered");
        m_.gets_failed.Increment();
        break;
      case QuorumDecision::kPending:
        break;
    }
  }
  if (op.quorum->AllAnswered()) {
    ReadRepair(op);
    gets_.erase(op_id);
  }
}

void Node::ReplyGet(GetOp& op, StatusCode code, std::string message) {
  if (op.replied) return;
  op.replied = true;
  m_.get_latency_us.Record((Now() - op.sent_ns) / 1000);
  // The state goes back even when every sibling is a tombstone: its context
  // lets the client write over the delete.
  env_.transport->Send(
      op.client, ClientGetReply{op.client_id, code, std::move(message),
                                code == StatusCode::kUnavailable || code == StatusCode::kTimeout
                                    ? SiblingSet()
                                    : op.quorum->merged()});
}

void Node::ReadRepair(const GetOp& op) {
  for (const std::string& target : op.quorum->RepairTargets()) {
    m_.read_repairs.Increment();
    if (target == options_.node_id) {
      env_.engine->Merge(op.key, op.quorum->merged(), [](Result<SiblingSet>) {});
    } else {
      env_.transport->Send(Endpoint{target, 0},
                           ReplicaWrite{NextId(), op.key.ns, op.key.key, op.quorum->merged(), ""});
    }
  }
}

void Node::TickGets(uint64_t now) {
  std::vector<uint64_t> ids;
  for (auto& [id, op] : gets_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = gets_.find(id);
    if (it == gets_.end()) continue;
    GetOp& op = it->second;
    const bool silent = now >= op.sent_ns + options_.replica_timeout_ms * kNsPerMs;
    if (!silent && now < op.deadline_ns) continue;
    for (const std::string& t : op.quorum->Unanswered()) {
      Suspect(t, "replica read timed out");
      op.quorum->AddFailure(t);
    }
    if (now >= op.deadline_ns)
      ReplyGet(op, StatusCode::kTimeout, "r replicas did not answer in time");
    FinishGetIfDecided(id, op);
  }
}

// ---- replica side ----

void Node::OnReplicaWrite(const Endpoint& from, ReplicaWrite m) {
  const RequestId id = m.id;
  ObjectKey key{std::move(m.ns), std::move(m.key)};
  // Replies once the write is committed (acknowledged under the engine's
  // durability), or with m.durable once it is on disk: a hint delivery,
  // whose sender deletes the hint on this reply. Only then does the
  // engine's Sync cost anything (an early fsync under `flush`).
  auto reply = [this, from, id, durable = m.durable, ns = key.ns](const Status& s) {
    if (!s.ok() || !durable) {
      env_.transport->Send(from, ReplicaWriteReply{id, s.code(), s.message()});
      return;
    }
    env_.engine->Sync(ns, [this, from, id](Status synced) {
      env_.transport->Send(from, ReplicaWriteReply{id, synced.code(), synced.message()});
    });
  };
  if (!m.hint_for.empty() && m.hint_for != options_.node_id) {
    ++hint_count_;
    env_.engine->hints().Add(
        Hint{m.hint_for, std::move(key), std::move(m.state), env_.clock->NowWallMs()},
        [reply = std::move(reply)](Status s) { reply(s); });
    return;
  }
  env_.engine->Merge(std::move(key), std::move(m.state),
                     [reply = std::move(reply)](Result<SiblingSet> r) { reply(r.status()); });
}

void Node::OnReplicaGet(const Endpoint& from, const ReplicaGet& m) {
  auto local = env_.engine->Get(ObjectKey{m.ns, m.key});
  if (local.ok()) {
    env_.transport->Send(from, ReplicaGetReply{m.id, StatusCode::kOk, "", std::move(*local), true});
  } else if (local.status().IsNotFound()) {
    env_.transport->Send(from, ReplicaGetReply{m.id, StatusCode::kNotFound, "", {}, false});
  } else {
    env_.transport->Send(
        from, ReplicaGetReply{m.id, local.status().code(), local.status().message(), {}, false});
  }
}

void Node::OnRingInfoRequest(const Endpoint& from, const RingInfoRequest& m) {
  RingInfoReply reply;
  reply.id = m.id;
  reply.ring_version = 1;
  for (const NodeId& owner : ring_.Owners()) reply.owners.push_back(owner.name);
  reply.members = options_.member_addresses;
  for (const NamespaceOptions& ns : options_.namespaces) {
    reply.namespaces.push_back(NamespaceInfo{ns.name, ns.n, ns.r, ns.w, ns.ttl_ms, ns.merge});
  }
  env_.transport->Send(from, std::move(reply));
}

void Node::OnStatusRequest(const Endpoint& from, const StatusRequest& m) {
  const NodeId self{options_.node_id};
  if (!ring_share_) {
    RingShare share;
    share.owned = static_cast<uint32_t>(ring_.PartitionsOwnedBy(self).size());
    uint32_t n_max = 0;
    for (const NamespaceOptions& ns : options_.namespaces) n_max = std::max(n_max, ns.n);
    for (uint32_t p = 0; n_max > 0 && p < ring_.PartitionCount(); ++p) {
      if (Contains(PreferenceListForPartition(ring_, p, n_max).primaries, self.name)) {
        ++share.replicated;
      }
    }
    TROLLEY_ASSERT(share.owned <= share.replicated || n_max == 0);
    ring_share_ = share;
  }
  StatusReply reply;
  reply.id = m.id;
  reply.node_id = options_.node_id;
  reply.incarnation = env_.engine->incarnation();
  reply.actor = actor_;
  reply.partitions = ring_.PartitionCount();
  reply.partitions_owned = ring_share_->owned;
  reply.partitions_replicated = ring_share_->replicated;
  reply.pending_requests = PendingRequests();

  // The first failed hint store read becomes the reply's code; the figures
  // it would have given stay 0.
  Status failed = Status::Ok();
  auto note = [&failed](std::string_view what, const Status& s) {
    if (failed.ok() && !s.ok()) failed = Status(s.code(), std::string(what) + ": " + s.message());
  };
  HintStore& hints = env_.engine->hints();
  if (Result<HintStats> stats = hints.Stats(); stats.ok()) {
    reply.hints_pending = stats->count;
    reply.hints_oldest_ms = stats->oldest_created_ms;
  } else {
    note("hint stats", stats.status());
  }
  std::set<std::string> with_hints;
  if (auto targets = hints.Targets(); targets.ok()) {
    with_hints.insert(targets->begin(), targets->end());
  } else {
    note("hint targets", targets.status());
  }
  for (const NodeId& member : ring_.Nodes()) {
    if (member == self) continue;
    PeerStatus peer{.node_id = member.name, .up = IsUp(member.name)};
    if (with_hints.count(member.name)) {
      if (auto held = hints.List(member.name, kStatusPeerHintsCountedMax); held.ok()) {
        peer.hints_pending = held->size();
      } else {
        note("hints for " + member.name, held.status());
      }
    }
    reply.peers.push_back(std::move(peer));
  }
  reply.counters = metrics_.CounterValues();
  reply.code = failed.code();
  reply.message = failed.message();
  if (reply.message.size() > kStatusMessageBytesMax) reply.message.resize(kStatusMessageBytesMax);
  env_.transport->Send(from, std::move(reply));
}

// ---- timers ----

void Node::TickPeers(uint64_t now) {
  for (auto& [node, peer] : peers_) {
    if (!peer.suspected) continue;
    if (now - peer.last_ping_ns < options_.ping_interval_ms * kNsPerMs) continue;
    peer.last_ping_ns = now;
    env_.transport->Send(Endpoint{node, 0}, Ping{env_.random->Next()});
  }
}

void Node::Tick() {
  const uint64_t now = Now();
  TickPuts(now);
  TickGets(now);
  TickForwards(now);
  TickPeers(now);
  TickHints(now);
}

}  // namespace trolley
