#include "simulation/sim_engine.h"

#include <algorithm>
#include <utility>

#include "cart/cart_state.h"
#include "common/assert.h"
#include "common/key.h"

namespace trolley::sim {

HintKey HintKeyOf(std::string target, ObjectKey key) {
  const uint64_t hash = KeyHash(key.ns, key.key);
  return HintKey{std::move(target), hash, std::move(key)};
}

void SimDisk::PowerLoss() {
  for (auto& [key, durable] : undo_objects) {
    if (durable) {
      objects[key] = std::move(*durable);
    } else {
      objects.erase(key);
    }
  }
  for (auto& [key, durable] : undo_hints) {
    if (durable) {
      hints[key] = std::move(*durable);
    } else {
      hints.erase(key);
    }
  }
  if (undo_floors) floors = std::move(*undo_floors);
  undo_objects.clear();
  undo_hints.clear();
  undo_floors.reset();
}

SimEngine::SimEngine(SimDisk& disk, SimEngineOptions options, Env env)
    : disk_(disk), options_(options), env_(std::move(env)) {
  TROLLEY_ASSERT(env_.clock != nullptr && env_.schedule && env_.now_ns && env_.commit_latency_ns);
  TROLLEY_ASSERT(env_.random_epoch);
  if (options_.bug == PlantedBug::kReuseActor) {
    // The rule before actor epochs: a counter, kept across a clean stop and
    // starting again at 1 on an empty disk.
    if (!disk_.clean_shutdown || disk_.epoch == 0) ++disk_.epoch;
  } else {
    // LmdbEngine::Impl::TakeActorEpoch: a new random epoch at every open,
    // synced before use, and the floors of earlier epochs dropped with it.
    const uint64_t previous = disk_.epoch;
    do {
      disk_.epoch = env_.random_epoch();
    } while (disk_.epoch == 0 || disk_.epoch == previous);
    disk_.floors.clear();
    disk_.undo_floors.reset();
  }
  disk_.clean_shutdown = false;
  // The anti-entropy index is written in the transaction of each object,
  // so after any crash it is a function of the objects: their versions as
  // written (LmdbEngine persists it; a sweep may since have re-hashed an
  // expired sibling away, which only spares an exchange a re-hash).
  for (const auto& [key, state] : disk_.objects) SetIndexed(key, VersionHash(state, 0));
  ++aae_stats_.rebuilds;
  aae_stats_.rebuilt_keys += index_.size();
}

void SimEngine::SetIndexed(const ObjectKey& key, uint64_t version) {
  auto it = index_.find(key);
  const uint64_t old = it == index_.end() ? 0 : it->second;
  if (old == version) return;
  if (version == 0) {
    index_.erase(it);
  } else {
    index_[key] = version;
  }
  const std::string raw = key_layout::EncodeObjectKey(key);
  tree_.Apply(KeyHash(key.ns, key.key), KeyContribution(raw, old) ^ KeyContribution(raw, version));
}

uint64_t SimEngine::IndexedVersion(const ObjectKey& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? 0 : it->second;
}

std::vector<uint64_t> SimEngine::AaeSegments(uint32_t first, uint32_t count) {
  return tree_.Segments(first, count);
}

std::vector<uint64_t> SimEngine::AaeBranches(uint32_t first, uint32_t count) {
  return tree_.Branches(first, count);
}

Result<std::vector<AaeKeyVersion>> SimEngine::AaeSegmentKeys(uint32_t segment) {
  const uint64_t first = AaeTree::SegmentFirstHash(segment);
  const uint64_t last = AaeTree::SegmentLastHash(segment);
  const uint64_t now_ms = env_.clock->NowWallMs();
  std::vector<std::pair<uint64_t, const ObjectKey*>> keys;
  for (const auto& [key, version] : index_) {  // every stored object with a version...
    const uint64_t h = KeyHash(key.ns, key.key);
    if (h >= first && h <= last) keys.emplace_back(h, &key);
  }
  for (const auto& [key, state] : disk_.objects) {  // ...and those without (sorted below)
    if (index_.contains(key)) continue;
    const uint64_t h = KeyHash(key.ns, key.key);
    if (h >= first && h <= last) keys.emplace_back(h, &key);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return key_layout::CompareObjectKeys(a.first, *a.second, b.first, *b.second) < 0;
  });
  std::vector<AaeKeyVersion> out;
  for (const auto& [h, key] : keys) {
    auto it = disk_.objects.find(*key);
    AaeKeyVersion entry{*key, it == disk_.objects.end() ? 0 : VersionHash(it->second, now_ms),
                        IndexedVersion(*key)};
    if (entry.version == 0 && entry.tree_version == 0) continue;
    out.push_back(std::move(entry));
  }
  return out;
}

// ---- reads ----

Result<SiblingSet> SimEngine::Get(const ObjectKey& key) {
  if (Status s = ValidateObjectKey(key); !s.ok()) return s;
  auto it = disk_.objects.find(key);
  if (it == disk_.objects.end()) return Status::NotFound(key.ns + "/" + key.key);
  if (it->second.FullyExpiredAt(env_.clock->NowWallMs())) {
    Submit(Op{EngineOp::Expire(key)});
    return Status::NotFound(key.ns + "/" + key.key);
  }
  return it->second;
}

Result<ScanPage> SimEngine::Scan(uint64_t first_hash, uint64_t last_hash,
                                 const ObjectKey* resume_after, size_t limit) {
  // LMDB's key order (storage/key_layout.h). Rarely used: sorting on demand.
  std::vector<std::pair<uint64_t, const ObjectKey*>> keys;
  for (const auto& [key, state] : disk_.objects) {
    const uint64_t h = KeyHash(key.ns, key.key);
    if (h >= first_hash && h <= last_hash) keys.emplace_back(h, &key);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return key_layout::CompareObjectKeys(a.first, *a.second, b.first, *b.second) < 0;
  });
  ScanPage page;
  const uint64_t now_ms = env_.clock->NowWallMs();
  bool started = resume_after == nullptr;
  const uint64_t resume_hash = resume_after ? KeyHash(resume_after->ns, resume_after->key) : 0;
  for (const auto& [h, key] : keys) {
    if (!started) {
      if (key_layout::CompareObjectKeys(h, *key, resume_hash, *resume_after) <= 0) continue;
      started = true;
    }
    const SiblingSet& state = disk_.objects.at(*key);
    if (state.FullyExpiredAt(now_ms)) continue;
    if (page.entries.size() >= limit) {
      page.more = true;
      break;
    }
    page.entries.push_back(KeyState{*key, state});
  }
  return page;
}

void SimEngine::Sweep(uint64_t tombstone_grace_ms, TombstoneCutoff exchange_cutoff,
                      SweepCallback done) {
  const uint64_t now_ms = env_.clock->NowWallMs();
  const uint64_t cutoff = now_ms > tombstone_grace_ms ? now_ms - tombstone_grace_ms : 0;
  SweepReport report;
  std::vector<ObjectKey> remove;
  std::vector<std::pair<ObjectKey, uint64_t>> reindex;
  // LmdbEngine sweeps between commits: a key the in-flight commit writes
  // (its new state already decided) waits for the next sweep.
  std::set<ObjectKey> in_flight;
  for (const Op& op : in_flight_) in_flight.insert(op.key);
  for (const auto& [key, state] : disk_.objects) {
    if (in_flight.contains(key)) continue;
    ++report.keys_scanned;
    if (JudgeForSweep(state, KeyHash(key.ns, key.key), now_ms, cutoff, exchange_cutoff, &report) ==
        SweepVerdict::kRemove) {
      remove.push_back(key);
      continue;
    }
    // LmdbEngine's verification of the index (lmdb_aae.cc, VerifyIndexed).
    const uint64_t live = VersionHash(state, now_ms);
    const uint64_t indexed = IndexedVersion(key);
    if (indexed == live) continue;
    if (indexed != VersionHash(state, 0)) ++report.aae_index_fixed;
    reindex.emplace_back(key, live);
  }
  for (const auto& [key, version] : reindex) SetIndexed(key, version);
  aae_stats_.verify_fixed += report.aae_index_fixed;
  for (const ObjectKey& key : remove) EraseObject(key);
  env_.schedule(env_.now_ns(), [done = std::move(done), report] { done(report); });
}

Result<std::vector<Hint>> SimEngine::List(std::string_view target, size_t limit) {
  std::vector<Hint> out;
  for (auto it = disk_.hints.lower_bound(HintKey{std::string(target), 0, {}});
       it != disk_.hints.end() && it->first.target == target && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<std::vector<std::string>> SimEngine::Targets() {
  std::vector<std::string> out;
  for (const auto& [key, hint] : disk_.hints) {
    if (out.empty() || out.back() != key.target) out.push_back(key.target);
  }
  return out;
}

Result<HintStats> SimEngine::Stats() {
  HintStats stats;
  for (const auto& [key, hint] : disk_.hints) {
    ++stats.count;
    if (stats.oldest_created_ms == 0 || hint.created_ms < stats.oldest_created_ms) {
      stats.oldest_created_ms = hint.created_ms;
    }
  }
  return stats;
}

// ---- writes ----

void SimEngine::Put(ObjectKey key, WriteIntent intent, ActorId actor, StateCallback decided,
                    StateCallback done) {
  if (options_.bug == PlantedBug::kRemoveForgetsContext && intent.transform) {
    intent.transform =
        [inner = std::move(intent.transform)](const SiblingSet& current) -> Result<std::string> {
      Result<std::string> value = inner(current);
      if (!value.ok()) return value;
      return ForgetRemovedIds(current, std::move(*value));
    };
  }
  if (options_.bug == PlantedBug::kMergeSets && max_merges_ && intent.transform) {
    intent.transform =
        [inner = std::move(intent.transform)](const SiblingSet& current) -> Result<std::string> {
      Result<std::string> value = inner(current);
      if (!value.ok()) return value;
      return MergeAsSets(current, std::move(*value));
    };
  }
  Submit(Op{EngineOp::Put(std::move(key), std::move(intent), actor, std::move(decided),
                          std::move(done))});
}

void SimEngine::Merge(ObjectKey key, SiblingSet remote, StateCallback done) {
  Op op{EngineOp::Merge(std::move(key), std::move(remote), std::move(done))};
  op.overwrite = repair_merges_ && (options_.bug == PlantedBug::kOverwriteRepair ||
                                    options_.bug == PlantedBug::kAaeOverwrite);
  Submit(std::move(op));
}

void SimEngine::Add(Hint hint, DoneCallback done) {
  Submit(Op{EngineOp::HintAdd(std::move(hint), std::move(done))});
}

void SimEngine::RemoveDelivered(std::string target, ObjectKey key, SiblingSet delivered,
                                DoneCallback done) {
  Submit(Op{EngineOp::HintRemoveDelivered(std::move(target), std::move(key), std::move(delivered),
                                          std::move(done))});
}

void SimEngine::Drop(std::string target, ObjectKey key, DoneCallback done) {
  Submit(Op{EngineOp::HintDrop(std::move(target), std::move(key), std::move(done))});
}

void SimEngine::Sync(std::string_view /*ns*/, DoneCallback done) {
  if (options_.durability != Durability::kFlush || disk_.Synced()) {
    // What has called back is on disk (sync), or never will be (none).
    env_.schedule(env_.now_ns(), [done = std::move(done)] { done(Status::Ok()); });
    return;
  }
  // Wait for the next fsync, and ask for it now (LmdbEngine's flusher
  // wakes at once); the periodic one may come first.
  durable_waiters_.push_back(std::move(done));
  if (fsync_pending_) return;
  fsync_pending_ = true;
  const uint64_t at = std::max(env_.now_ns() + env_.commit_latency_ns(), stall_until_ns_);
  env_.schedule(at, [this] {
    fsync_pending_ = false;
    Fsync();
  });
}

void SimEngine::Submit(Op op) {
  queue_.push_back(std::move(op));
  if (commit_pending_) return;
  commit_pending_ = true;
  // Everything submitted in this event shares the commit (trolleyd corks
  // each loop turn), so the commit starts in an event of its own.
  env_.schedule(env_.now_ns(), [this] { StartCommit(); });
}

void SimEngine::StartCommit() {
  TROLLEY_ASSERT(commit_pending_ && in_flight_.empty());
  if (queue_.size() <= options_.batch_ops_max) {
    in_flight_ = std::move(queue_);
    queue_.clear();
  } else {
    in_flight_.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.begin() +
                                              static_cast<std::ptrdiff_t>(options_.batch_ops_max)));
    queue_.erase(queue_.begin(),
                 queue_.begin() + static_cast<std::ptrdiff_t>(options_.batch_ops_max));
  }
  in_flight_now_ms_ = env_.clock->NowWallMs();
  if (options_.durability == Durability::kSync) DecideInFlight();
  const uint64_t at = std::max(env_.now_ns() + env_.commit_latency_ns(), stall_until_ns_);
  env_.schedule(at, [this] { CompleteCommit(); });
}

void SimEngine::DecideInFlight() {
  const auto is_object_op = [](const Op& op) {
    return op.status.ok() && (op.kind == Op::Kind::kPut || op.kind == Op::Kind::kMerge ||
                              op.kind == Op::Kind::kExpire);
  };
  if (std::none_of(in_flight_.begin(), in_flight_.end(),
                   [](const Op& op) { return op.status.ok() && op.decided; })) {
    return;
  }
  // Applied to the disk and then undone: what the touched objects, the
  // floors and the undo log held before.
  std::map<ObjectKey, std::optional<SiblingSet>> objects_before;
  std::map<ObjectKey, uint64_t> indexed_before;
  std::set<ObjectKey> undo_before;
  for (const Op& op : in_flight_) {
    if (!is_object_op(op) || objects_before.contains(op.key)) continue;
    indexed_before.emplace(op.key, IndexedVersion(op.key));
    auto it = disk_.objects.find(op.key);
    objects_before.emplace(
        op.key, it == disk_.objects.end() ? std::nullopt : std::optional<SiblingSet>(it->second));
    if (disk_.undo_objects.contains(op.key)) undo_before.insert(op.key);
  }
  const std::map<ActorId, uint64_t> floors_before = disk_.floors;
  const std::optional<std::map<ActorId, uint64_t>> undo_floors_before = disk_.undo_floors;

  std::vector<std::pair<StateCallback, SiblingSet>> decided;
  for (Op& op : in_flight_) {
    if (!is_object_op(op)) continue;
    Op trial;
    trial.kind = op.kind;
    trial.key = op.key;
    trial.intent = op.intent;
    trial.actor = op.actor;
    trial.state = op.state;
    trial.overwrite = op.overwrite;
    ApplyOp(trial, in_flight_now_ms_);
    if (op.decided && trial.status.ok()) {
      op.decided_state = trial.result;
      decided.emplace_back(std::move(op.decided), std::move(trial.result));
      op.decided = nullptr;
    }
  }

  for (auto& [key, before] : objects_before) {
    if (before) {
      disk_.objects[key] = std::move(*before);
    } else {
      disk_.objects.erase(key);
    }
    if (!undo_before.contains(key)) disk_.undo_objects.erase(key);
    SetIndexed(key, indexed_before.at(key));
  }
  disk_.floors = floors_before;
  disk_.undo_floors = undo_floors_before;
  if (decided.empty()) return;
  env_.schedule(env_.now_ns(), [decided = std::move(decided)]() mutable {
    for (auto& [cb, state] : decided) cb(std::move(state));
  });
}

void SimEngine::CompleteCommit() {
  std::vector<Op> batch = std::move(in_flight_);
  in_flight_.clear();
  for (Op& op : batch) {
    if (!op.status.ok()) continue;
    ApplyOp(op, in_flight_now_ms_);
    if (op.decided_state) TROLLEY_ASSERT(op.status.ok() && op.result == *op.decided_state);
  }
  if (env_.on_commit) env_.on_commit(batch.size());
  if (options_.durability == Durability::kSync) SyncDisk();
  commit_pending_ = false;
  if (!queue_.empty()) {
    commit_pending_ = true;
    env_.schedule(env_.now_ns(), [this] { StartCommit(); });
  }
  // Callbacks last, in submission order; what they submit joins the next batch.
  for (Op& op : batch) {
    if (op.decided && op.status.ok()) op.decided(op.result);  // not decided at the start
    if (op.state_done) {
      op.state_done(op.status.ok() ? Result<SiblingSet>(std::move(op.result))
                                   : Result<SiblingSet>(op.status));
    } else if (op.done) {
      op.done(op.status);
    }
  }
}

void SimEngine::ApplyOp(Op& op, uint64_t now_ms) {
  if (op.kind != Op::Kind::kPut && op.kind != Op::Kind::kMerge && op.kind != Op::Kind::kExpire) {
    return ApplyHintOp(op);
  }
  auto it = disk_.objects.find(op.key);
  if (op.kind == Op::Kind::kExpire) {
    if (it == disk_.objects.end() || !it->second.FullyExpiredAt(now_ms))
      return;  // written again since
    EraseObject(op.key);
    return;
  }
  if (op.kind == Op::Kind::kMerge && !op.overwrite && options_.bug != PlantedBug::kLww &&
      options_.durability == Durability::kSync && it != disk_.objects.end()) {
    // The common case, in place: a merge is never refused.
    SiblingSet& stored = it->second;
    ApplyMerge(stored, op.state, now_ms);
    stored.CheckInvariants();
    op.result = stored;
    if (stored.empty()) {
      EraseObject(op.key);  // every sibling expired: removed, as LmdbEngine does
    } else {
      SetIndexed(op.key, VersionHash(stored, now_ms));
    }
    return;
  }
  SiblingSet state = it == disk_.objects.end() ? SiblingSet() : it->second;
  if (op.kind == Op::Kind::kPut) {
    const uint64_t floor = disk_.floors.contains(op.actor) ? disk_.floors.at(op.actor) : 0;
    const ObjectLimits limits{options_.siblings_max, options_.object_bytes_max};
    const Result<WriteOutcome> out = [&]() -> Result<WriteOutcome> {
      if (options_.bug != PlantedBug::kPlainVc && options_.bug != PlantedBug::kLww) {
        return ApplyPut(state, op, floor, limits, now_ms);
      }
      state.DropExpiredAt(now_ms);
      Result<WriteIntent> intent = ResolveIntent(state, op);
      if (!intent.ok()) return intent.status();
      const WriteOutcome written = options_.bug == PlantedBug::kPlainVc
                                       ? PlainVcWrite(state, *intent, op.actor)
                                       : state.ApplyWrite(std::move(*intent), op.actor, floor);
      if (options_.bug == PlantedBug::kLww) KeepNewestSibling(state);
      if (Status s = CheckPutLimits(op.key, state, written, limits); !s.ok()) return s;
      return written;
    }();
    if (!out.ok()) {
      op.status = out.status();
      return;
    }
    if (out->dot.counter > floor) SetFloor(op.actor, out->dot.counter);
  } else if (op.overwrite) {
    state = op.state;  // planted overwrite-repair
    state.DropExpiredAt(now_ms);
  } else {
    ApplyMerge(state, op.state, now_ms);
    if (options_.bug == PlantedBug::kLww) KeepNewestSibling(state);
  }
  state.CheckInvariants();
  op.result = state;
  if (state.empty()) {  // a merge that left no live sibling: removed, as LmdbEngine does
    EraseObject(op.key);
    return;
  }
  SetIndexed(op.key, VersionHash(state, now_ms));
  SetObject(op.key, std::move(state));
}

void SimEngine::EraseObject(const ObjectKey& key) {
  auto it = disk_.objects.find(key);
  if (it != disk_.objects.end()) {
    if (options_.durability != Durability::kSync && !disk_.undo_objects.contains(key)) {
      disk_.undo_objects.emplace(key, it->second);
    }
    disk_.objects.erase(it);
  }
  SetIndexed(key, 0);
}

void SimEngine::ApplyHintOp(Op& op) {
  HintKey key = HintKeyOf(op.target, op.key);
  auto it = disk_.hints.find(key);
  if (op.kind == Op::Kind::kHintAdd) {
    if (options_.bug == PlantedBug::kDropHints) return;  // acknowledged, never stored
    Hint hint{op.target, op.key, std::move(op.state), op.created_ms};
    if (it != disk_.hints.end()) {
      hint.state.Merge(it->second.state);
      hint.created_ms = std::min(hint.created_ms, it->second.created_ms);
    }
    SetHint(key, std::move(hint));
    return;
  }
  if (it == disk_.hints.end()) return;
  if (op.kind == Op::Kind::kHintRemoveDelivered && !op.state.Covers(it->second.state)) {
    return;  // more was hinted after this delivery started
  }
  SetHint(key, std::nullopt);
}

void SimEngine::SetObject(const ObjectKey& key, SiblingSet state) {
  auto it = disk_.objects.find(key);
  if (options_.durability != Durability::kSync && !disk_.undo_objects.contains(key)) {
    disk_.undo_objects.emplace(
        key, it == disk_.objects.end() ? std::nullopt : std::optional<SiblingSet>(it->second));
  }
  if (it == disk_.objects.end()) {
    disk_.objects.emplace(key, std::move(state));
  } else {
    it->second = std::move(state);
  }
}

void SimEngine::SetHint(const HintKey& key, std::optional<Hint> hint) {
  auto it = disk_.hints.find(key);
  if (options_.durability != Durability::kSync && !disk_.undo_hints.contains(key)) {
    disk_.undo_hints.emplace(
        key, it == disk_.hints.end() ? std::nullopt : std::optional<Hint>(it->second));
  }
  if (!hint) {
    if (it != disk_.hints.end()) disk_.hints.erase(it);
    return;
  }
  disk_.hints[key] = std::move(*hint);
}

void SimEngine::SetFloor(ActorId actor, uint64_t floor) {
  if (options_.durability != Durability::kSync && !disk_.undo_floors)
    disk_.undo_floors = disk_.floors;
  disk_.floors[actor] = floor;
}

void SimEngine::Fsync() {
  SyncDisk();
  if (durable_waiters_.empty()) return;
  // Every waiter's writes had called back, so were committed: this fsync
  // covers them. Called back from an event of their own (the periodic
  // Fsync() is not a node event), in the order they asked.
  env_.schedule(env_.now_ns(), [waiters = std::move(durable_waiters_)]() mutable {
    for (DoneCallback& done : waiters) {
      if (done) done(Status::Ok());
    }
  });
  durable_waiters_.clear();
}

void SimEngine::SyncDisk() {
  if (disk_.Synced()) return;
  if (env_.on_fsync && options_.durability != Durability::kSync) env_.on_fsync();
  disk_.undo_objects.clear();
  disk_.undo_hints.clear();
  disk_.undo_floors.reset();
}

void SimEngine::Close() {
  std::vector<Op> batch = std::move(in_flight_);
  in_flight_.clear();
  for (Op& op : queue_) batch.push_back(std::move(op));
  queue_.clear();
  const uint64_t now_ms = env_.clock->NowWallMs();
  for (Op& op : batch) {
    if (op.status.ok()) ApplyOp(op, now_ms);
  }
  SyncDisk();  // callbacks, Sync()'s too, never run: the node is gone
  durable_waiters_.clear();
  disk_.clean_shutdown = true;
}

// ---- planted bugs ----

namespace {

// The OR-Set cart `current` holds (its siblings merged), or nothing when a
// sibling is not an OR-Set cart (the planted bugs leave those alone).
std::optional<CartState> OrSetCartOf(const SiblingSet& current) {
  std::vector<CartState> carts;
  for (const Sibling& s : current.siblings()) {
    if (s.tombstone) continue;
    Result<CartState> cart = CartState::Decode(s.value, CartSemantics::kOrSet);
    if (!cart.ok()) return std::nullopt;
    carts.push_back(std::move(*cart));
  }
  return CartState::Merge(CartSemantics::kOrSet, carts);
}

}  // namespace

std::string SimEngine::ForgetRemovedIds(const SiblingSet& current, std::string value) {
  const std::optional<CartState> before = OrSetCartOf(current);
  Result<CartState> after = CartState::Decode(value, CartSemantics::kOrSet);
  if (!before || !after.ok()) return value;
  // What the write removed (live before, not after) and what it newly
  // covers without holding (the removal's own id and the tags it named that
  // this copy had not seen): the context forgets them all.
  std::vector<uint64_t> forget;
  for (const uint64_t id : after->context().Ids()) {
    if (after->HasLiveTag(id)) continue;
    if (!before->context().Covers(id) || before->HasLiveTag(id)) forget.push_back(id);
  }
  for (const uint64_t id : forget) after->ForgetContextId(id);
  return after->Encode();
}

std::string SimEngine::MergeAsSets(const SiblingSet& current, std::string value) {
  std::optional<CartState> before = OrSetCartOf(current);
  Result<CartState> after = CartState::Decode(value, CartSemantics::kOrSet);
  if (!before || !after.ok()) return value;
  const CartLimits limits{};
  CartState& out = *before;
  const std::vector<CartLine> lines = after->Lines(limits);
  for (const CartLine& line : lines) {
    for (const auto& [tag, c] : after->lines().at(line.sku)) {
      if (out.Applied(tag)) continue;  // not the merge's
      // The merge's add: a SetQuantity of the line's new quantity where the
      // copy held the line (it removes the copy's contributions), else an add.
      const Mutation m = out.lines().contains(line.sku)
                             ? Mutation::SetQuantity(tag, line.sku, line.quantity, c.at_ms)
                             : Mutation::Add(tag, line.sku, c.quantity, c.at_ms, c.attributes);
      if (!out.Apply(m, limits).ok()) return value;
    }
  }
  return out.Encode();
}

void SimEngine::KeepNewestSibling(SiblingSet& state) {
  if (state.size() <= 1) return;
  const Sibling* newest = &state.siblings().front();
  for (const Sibling& s : state.siblings()) {
    if (std::tie(s.timestamp_ms, s.dot) > std::tie(newest->timestamp_ms, newest->dot)) newest = &s;
  }
  auto kept = SiblingSet::FromParts(state.context(), {*newest});
  TROLLEY_ASSERT(kept.has_value());
  state = std::move(*kept);
}

WriteOutcome SimEngine::PlainVcWrite(SiblingSet& state, WriteIntent intent, ActorId actor) {
  // One vector clock per write, bumped from the writer's context only: the
  // same context through the same coordinator gives the same version, and
  // a later write silently replaces an earlier one under it.
  VersionVector context = state.context();
  context.Join(intent.context);
  std::vector<Sibling> kept;
  for (const Sibling& s : state.siblings()) {
    if (intent.write_id != 0 && s.write_id == intent.write_id && !intent.context.Covers(s.dot)) {
      return WriteOutcome{s.dot, true};
    }
  }
  const Dot dot{actor, intent.context.Get(actor) + 1};
  for (const Sibling& s : state.siblings()) {
    if (!intent.context.Covers(s.dot) && s.dot != dot) kept.push_back(s);
  }
  Sibling sibling;
  sibling.dot = dot;
  if (!intent.tombstone) sibling.value = std::move(intent.value);
  sibling.tombstone = intent.tombstone;
  sibling.write_id = intent.write_id;
  sibling.timestamp_ms = intent.timestamp_ms;
  sibling.expiry_ms = intent.tombstone ? 0 : intent.expiry_ms;
  kept.insert(std::upper_bound(kept.begin(), kept.end(), sibling,
                               [](const Sibling& a, const Sibling& b) { return a.dot < b.dot; }),
              std::move(sibling));
  context.Add(dot);
  auto next = SiblingSet::FromParts(std::move(context), std::move(kept));
  TROLLEY_ASSERT(next.has_value());
  state = std::move(*next);
  return WriteOutcome{dot, false};
}

}  // namespace trolley::sim
