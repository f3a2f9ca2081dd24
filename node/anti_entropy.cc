#include "node/anti_entropy.h"

#include <algorithm>

#include "common/assert.h"
#include "common/key.h"
#include "ring/preference_list.h"
#include "storage/aae_tree.h"

namespace trolley {
namespace {

// The indices at which two equally long hash lists differ.
std::vector<uint32_t> Differing(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) out.push_back(i);
  }
  return out;
}

// At most `limit` of the ascending `segments`, starting at the first one at
// or after `cursor` and wrapping around, so that segments past the first
// `limit` differing ones are listed too (a run of segments that differs
// for good, such as the keys of a namespace with a smaller N, would
// otherwise hide every segment after it). `next_cursor` is where the next
// window starts: just after the last segment taken.
struct SegmentWindow {
  std::vector<uint32_t> segments;  // ascending
  uint32_t next_cursor = 0;
};
SegmentWindow WindowFrom(const std::vector<uint32_t>& segments, uint32_t cursor, size_t limit) {
  TROLLEY_ASSERT(limit > 0 && segments.size() > limit);
  const size_t start = static_cast<size_t>(
      std::lower_bound(segments.begin(), segments.end(), cursor) - segments.begin());
  SegmentWindow w;
  for (size_t i = 0; i < limit; ++i) w.segments.push_back(segments[(start + i) % segments.size()]);
  w.next_cursor = w.segments.back() + 1;
  std::sort(w.segments.begin(), w.segments.end());
  return w;
}

}  // namespace

AntiEntropy::AntiEntropy(NodeContext& ctx, FailureDetector& detector, AaeLocalTree& local)
    : ctx_(ctx), detector_(detector), local_(local) {}

std::vector<std::pair<uint32_t, std::string>> AntiEntropy::Pairs() const {
  uint32_t n_max = 0;
  for (const NamespaceOptions& ns : ctx_.options().namespaces) n_max = std::max(n_max, ns.n);
  std::vector<std::pair<uint32_t, std::string>> out;
  const Ring& ring = ctx_.membership().ring();
  for (uint32_t p = 0; n_max > 1 && p < ring.PartitionCount(); ++p) {
    const PreferenceList pref = PreferenceListForPartition(ring, p, n_max);
    if (!ContainsNode(pref.primaries, ctx_.self())) continue;
    for (const NodeId& peer : pref.primaries) {
      if (peer.name != ctx_.self()) out.emplace_back(p, peer.name);
    }
  }
  return out;
}

void AntiEntropy::CopyTreeStats() {
  const AaeTreeStats now = ctx_.env().engine->AaeStats();
  NodeMetrics& m = ctx_.metrics();
  // A counter only grows: an engine's stats never go down while it is open.
  m.aae_tree_rebuilds.Add(now.rebuilds - std::min(now.rebuilds, tree_stats_seen_.rebuilds));
  m.aae_tree_rebuilt_keys.Add(now.rebuilt_keys -
                              std::min(now.rebuilt_keys, tree_stats_seen_.rebuilt_keys));
  m.aae_tree_index_fixed.Add(now.verify_fixed -
                             std::min(now.verify_fixed, tree_stats_seen_.verify_fixed));
  tree_stats_seen_ = now;
}

void AntiEntropy::Tick(uint64_t now) {
  CopyTreeStats();
  if (!ctx_.options().aae_enabled) return;
  Refill(now);
  if (exchange_) {
    if (now >= exchange_->deadline_ns) {
      exchange_->failed = true;
      Finish(false);
    } else if (exchange_->phase == Phase::kRepair) {
      Pump();
    } else if (exchange_->phase == Phase::kKeys && exchange_->id == 0) {
      SendNextKeysRequest();
    }
    return;  // a tick with an exchange running starts none
  }
  if (start_next_now_) {
    start_next_now_ = false;
    return StartNext(now);
  }
  const uint64_t interval_ns = ctx_.options().aae_interval_ms * kNsPerMs;
  const bool first_tick = next_start_ns_ == 0;
  if (!first_tick && now < next_start_ns_) return;
  next_start_ns_ = now + interval_ns / 2 + ctx_.env().random->Uniform(interval_ns + 1);
  equal_roots_in_interval_ = 0;
  // The first exchange waits one interval: at start the peers may not
  // listen yet, and a failed dial would hold back the links requests need.
  if (!first_tick) StartNext(now);
}

void AntiEntropy::StartNext(uint64_t now) {
  const std::vector<std::pair<uint32_t, std::string>> pairs = Pairs();
  for (size_t tried = 0; tried < pairs.size(); ++tried) {
    const auto& [partition, peer] = pairs[next_pair_++ % pairs.size()];
    if (!detector_.IsUp(peer)) continue;
    exchange_.emplace();
    exchange_->serial = ++serial_;
    exchange_->partition = partition;
    exchange_->peer = peer;
    exchange_->started_ms = ctx_.WallMs();
    exchange_->deadline_ns = now + ctx_.options().aae_exchange_timeout_ms * kNsPerMs;
    ctx_.metrics().aae_exchanges_in_flight.Set(1);
    SendHashRequest(AaeLevel::kRoot, {});
    return;
  }
}

void AntiEntropy::SendHashRequest(AaeLevel level, std::vector<uint32_t> groups) {
  exchange_->id = ctx_.NextId().value;
  ctx_.SendToNode(exchange_->peer,
                  AaeHashRequest{RequestId{exchange_->id}, exchange_->partition,
                                 local_.Log2Partitions(), level, std::move(groups)});
}

void AntiEntropy::OnAaeHashReply(const Endpoint& from, const AaeHashReply& m) {
  if (!exchange_ || m.id.value != exchange_->id || from.node != exchange_->peer) return;
  exchange_->id = 0;
  if (m.code != StatusCode::kOk) return Finish(false);
  Exchange& x = *exchange_;
  const SegmentRange range = PartitionSegments(x.partition, local_.Log2Partitions());
  const uint32_t group = AaeGroupSize(range.count);
  switch (x.phase) {
    case Phase::kRoot:
      if (m.hashes == local_.Hashes(x.partition, AaeLevel::kRoot, {})) {
        start_next_now_ = ++equal_roots_in_interval_ < kAaeEqualRootsPerInterval;
        return Finish(true);
      }
      x.phase = Phase::kGroups;
      return SendHashRequest(AaeLevel::kGroups, {});
    case Phase::kGroups: {
      std::vector<uint32_t> groups =
          Differing(local_.Hashes(x.partition, AaeLevel::kGroups, {}), m.hashes);
      if (groups.size() > kAaeGroupsPerRequestMax) groups.resize(kAaeGroupsPerRequestMax);
      x.phase = Phase::kSegments;
      x.listed = groups;  // the groups asked, to map the reply back
      return SendHashRequest(AaeLevel::kSegments, std::move(groups));
    }
    case Phase::kSegments: {
      const std::vector<uint64_t> local = local_.Hashes(x.partition, AaeLevel::kSegments, x.listed);
      for (uint32_t i : Differing(local, m.hashes)) {
        x.segments.push_back(x.listed[i / group] * group + i % group);
      }
      x.listed.clear();
      x.differing_segments = x.segments.size();
      ctx_.metrics().aae_segments_differing.Add(x.segments.size());
      const size_t limit = ctx_.options().aae_segments_per_exchange;
      if (x.segments.size() > limit) {
        // The next exchange of this pair goes on after the last one listed.
        uint32_t& cursor = segment_cursor_[{x.partition, x.peer}];
        SegmentWindow window = WindowFrom(x.segments, cursor, limit);
        cursor = window.next_cursor;
        x.segments = std::move(window.segments);
        x.truncated = true;
      }
      std::reverse(x.segments.begin(), x.segments.end());  // listed from the back
      x.phase = Phase::kKeys;
      return SendNextKeysRequest();
    }
    default:
      return;
  }
}

void AntiEntropy::SendNextKeysRequest() {
  Exchange& x = *exchange_;
  if (x.segments.empty()) return Finish(!x.truncated && !x.failed);
  if (byte_tokens_ <= 0) return;  // the next tick resumes
  x.listed.clear();
  while (!x.segments.empty() && x.listed.size() < kAaeKeysSegmentsPerRequest) {
    x.listed.push_back(x.segments.back());
    x.segments.pop_back();
  }
  x.id = ctx_.NextId().value;
  ctx_.SendToNode(x.peer,
                  AaeKeysRequest{RequestId{x.id}, x.partition, local_.Log2Partitions(), x.listed});
}

bool AntiEntropy::BothReplicate(const ObjectKey& key, const std::string& peer) const {
  const NamespaceOptions* ns = ctx_.FindNamespace(key.ns);
  if (ns == nullptr) return false;
  const Ring& ring = ctx_.membership().ring();
  const uint32_t p = PartitionOfHash(KeyHash(key.ns, key.key), ring.Log2PartitionCount());
  const PreferenceList pref = PreferenceListForPartition(ring, p, ns->n);
  return ContainsNode(pref.primaries, ctx_.self()) && ContainsNode(pref.primaries, peer);
}

void AntiEntropy::OnAaeKeysReply(const Endpoint& from, const AaeKeysReply& m) {
  if (!exchange_ || m.id.value != exchange_->id || from.node != exchange_->peer) return;
  exchange_->id = 0;
  if (m.code != StatusCode::kOk) exchange_->failed = true;
  for (const AaeKeyEntry& k : m.keys)
    byte_tokens_ -= static_cast<double>(k.ns.size() + k.key.size() + 8);
  CompareKeys(m.keys);
  exchange_->phase = Phase::kRepair;
  Pump();
}

void AntiEntropy::CompareKeys(const std::vector<AaeKeyEntry>& remote) {
  Exchange& x = *exchange_;
  const std::vector<AaeKeyVersion> local = local_.ListAndRehash(x.partition, x.listed);
  std::map<ObjectKey, std::pair<uint64_t, uint64_t>> versions;  // key -> (here, there)
  for (const AaeKeyVersion& k : local) versions[k.key].first = k.version;
  for (const AaeKeyEntry& k : remote) versions[ObjectKey{k.ns, k.key}].second = k.version;
  for (auto& [key, v] : versions) {
    if (v.first == v.second || !BothReplicate(key, x.peer)) continue;
    x.repairs.push_back(Repair{key, v.first != 0, v.second != 0});
  }
  std::reverse(x.repairs.begin(), x.repairs.end());  // sent from the back, in key order
}

void AntiEntropy::Refill(uint64_t now) {
  const NodeOptions& o = ctx_.options();
  const double elapsed_s =
      last_refill_ns_ == 0 ? 1.0 : static_cast<double>(now - last_refill_ns_) / 1e9;
  last_refill_ns_ = now;
  key_tokens_ =
      std::min<double>(key_tokens_ + elapsed_s * static_cast<double>(o.aae_keys_per_second),
                       static_cast<double>(o.aae_keys_per_second));
  byte_tokens_ =
      std::min<double>(byte_tokens_ + elapsed_s * static_cast<double>(o.aae_bytes_per_second),
                       static_cast<double>(o.aae_bytes_per_second));
}

void AntiEntropy::Pump() {
  Exchange& x = *exchange_;
  while (!x.repairs.empty() && key_tokens_ >= 1 && byte_tokens_ > 0) {
    const Repair r = std::move(x.repairs.back());
    x.repairs.pop_back();
    key_tokens_ -= 1;
    SendRepair(r);
    if (!exchange_) return;  // finished by a failure inside
  }
  if (x.repairs.empty() && x.gets.empty() && x.writes.empty()) {
    x.phase = Phase::kKeys;
    SendNextKeysRequest();
  }
}

void AntiEntropy::SendRepair(const Repair& r) {
  Exchange& x = *exchange_;
  const uint64_t now_ms = ctx_.WallMs();
  if (r.push) {
    Result<SiblingSet> local = ctx_.env().engine->Get(r.key);
    if (local.ok()) {
      SiblingSet state = std::move(local).value();
      state.DropExpiredAt(now_ms);  // never ship an expired sibling
      byte_tokens_ -= static_cast<double>(state.ValueBytes());
      const uint64_t id = ctx_.NextId().value;
      x.writes.emplace(id, r.key);
      ctx_.SendToNode(
          x.peer, ReplicaWrite{RequestId{id}, r.key.ns, r.key.key, std::move(state), "", false});
    }
  }
  if (r.pull) {
    const uint64_t id = ctx_.NextId().value;
    x.gets.emplace(id, r.key);
    ctx_.SendToNode(x.peer, ReplicaGet{RequestId{id}, r.key.ns, r.key.key});
  }
  ++x.keys_repaired;
  ctx_.metrics().aae_keys_repaired.Increment();
}

bool AntiEntropy::OnReplicaWriteReply(const Endpoint& from, const ReplicaWriteReply& m) {
  if (!exchange_ || from.node != exchange_->peer) return false;
  auto it = exchange_->writes.find(m.id.value);
  if (it == exchange_->writes.end()) return false;
  exchange_->writes.erase(it);
  RepairDone(m.code == StatusCode::kOk);
  return true;
}

bool AntiEntropy::OnReplicaGetReply(const Endpoint& from, const ReplicaGetReply& m) {
  if (!exchange_ || from.node != exchange_->peer) return false;
  auto it = exchange_->gets.find(m.id.value);
  if (it == exchange_->gets.end()) return false;
  ObjectKey key = std::move(it->second);
  exchange_->gets.erase(it);
  if (m.code == StatusCode::kNotFound) return RepairDone(true), true;  // expired or gone since
  if (m.code != StatusCode::kOk) return RepairDone(false), true;
  SiblingSet state = m.state;
  state.DropExpiredAt(ctx_.WallMs());  // never accept an expired sibling
  byte_tokens_ -= static_cast<double>(state.ValueBytes());
  // The local merge counts as this exchange's repair once it is committed
  // (tracked like a write in flight, under an id never sent).
  const uint64_t local_id = ctx_.NextId().value;
  exchange_->writes.emplace(local_id, key);
  ctx_.env().engine->Merge(std::move(key), std::move(state),
                           [this, local_id, serial = exchange_->serial](Result<SiblingSet> r) {
                             if (!exchange_ || exchange_->serial != serial) return;
                             if (exchange_->writes.erase(local_id) == 0) return;
                             RepairDone(r.ok());
                           });
  return true;
}

void AntiEntropy::RepairDone(bool ok) {
  if (!ok) exchange_->failed = true;
  if (exchange_->phase == Phase::kRepair) Pump();
}

void AntiEntropy::OnPeerUnreachable(const std::string& node) {
  if (exchange_ && exchange_->peer == node) {
    exchange_->failed = true;
    Finish(false);
  }
}

void AntiEntropy::Finish(bool clean) {
  Exchange& x = *exchange_;
  AaePairStatus& s = status_[{x.partition, x.peer}];
  s.partition = x.partition;
  s.peer = x.peer;
  s.last_exchange_ms = x.started_ms;
  if (clean) s.last_clean_exchange_ms = x.started_ms;
  ++s.exchanges;
  s.differing_segments = x.differing_segments;
  s.keys_repaired += x.keys_repaired;
  ctx_.metrics().aae_exchanges.Increment();
  (clean ? ctx_.metrics().aae_exchanges_clean : ctx_.metrics().aae_exchanges_failed).Increment();
  ctx_.metrics().aae_exchanges_in_flight.Set(0);
  if (x.keys_repaired > 0 || !clean) {
    ctx_.Log(clean ? LogLevel::kInfo : LogLevel::kWarn,
             "aae.exchange partition=" + std::to_string(x.partition) + " peer=" + x.peer +
                 " clean=" + (clean ? "true" : "false") +
                 " differing_segments=" + std::to_string(x.differing_segments) +
                 " keys_repaired=" + std::to_string(x.keys_repaired));
  }
  exchange_.reset();
}

// ---- status and purge ----

TombstoneCutoff AntiEntropy::TombstoneCutoffSnapshot() const {
  const uint32_t bits = local_.Log2Partitions();
  std::vector<uint64_t> cutoff(ctx_.membership().ring().PartitionCount(), ~uint64_t{0});
  std::vector<bool> seen(cutoff.size(), false);
  for (const auto& [partition, peer] : Pairs()) {
    auto it = status_.find({partition, peer});
    const uint64_t clean = it == status_.end() ? 0 : it->second.last_clean_exchange_ms;
    cutoff[partition] = std::min(cutoff[partition], clean);
    seen[partition] = true;
  }
  for (size_t p = 0; p < cutoff.size(); ++p) {
    // A partition with no other replica (N = 1) has no one to tell.
    if (!seen[p]) cutoff[p] = ~uint64_t{0};
  }
  return [bits, cutoff = std::move(cutoff)](uint64_t key_hash) {
    return cutoff[PartitionOfHash(key_hash, bits)];
  };
}

std::vector<AaePairStatus> AntiEntropy::PairStatus() const {
  std::vector<AaePairStatus> out;
  if (!ctx_.options().aae_enabled) return out;
  for (const auto& [partition, peer] : Pairs()) {
    auto it = status_.find({partition, peer});
    out.push_back(it == status_.end() ? AaePairStatus{.partition = partition, .peer = peer}
                                      : it->second);
  }
  return out;
}

void AntiEntropy::CheckInvariants() const {
  TROLLEY_ASSERT(ctx_.metrics().aae_exchanges_in_flight.value() == (exchange_ ? 1u : 0u));
  const NodeOptions& o = ctx_.options();
  TROLLEY_ASSERT(key_tokens_ <= static_cast<double>(o.aae_keys_per_second));
  TROLLEY_ASSERT(byte_tokens_ <= static_cast<double>(o.aae_bytes_per_second));
  if (!exchange_) return;
  TROLLEY_ASSERT(exchange_->phase != Phase::kRepair || exchange_->id == 0);
}

}  // namespace trolley
