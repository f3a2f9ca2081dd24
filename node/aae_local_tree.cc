#include "node/aae_local_tree.h"

#include <algorithm>
#include <utility>

#include "storage/aae_tree.h"

namespace trolley {

uint32_t AaeGroupSize(uint32_t segments) {
  return std::min<uint32_t>(AaeTree::kSegmentsPerBranch, segments);
}

uint32_t AaeLocalTree::Log2Partitions() const {
  return ctx_.membership().ring().Log2PartitionCount();
}

std::vector<uint64_t> AaeLocalTree::Hashes(uint32_t partition, AaeLevel level,
                                           const std::vector<uint32_t>& groups) const {
  Engine& engine = *ctx_.env().engine;
  const SegmentRange range = PartitionSegments(partition, Log2Partitions());
  const uint32_t group = AaeGroupSize(range.count);
  if (level == AaeLevel::kRoot || level == AaeLevel::kGroups) {
    std::vector<uint64_t> hashes;
    if (group == AaeTree::kSegmentsPerBranch) {
      hashes = engine.AaeBranches(range.first / group, range.count / group);
    } else {
      hashes = engine.AaeSegments(range.first, range.count);  // one group
      uint64_t h = 0;
      for (uint64_t s : hashes) h ^= s;
      hashes = {h};
    }
    if (level == AaeLevel::kGroups) return hashes;
    uint64_t root = 0;
    for (uint64_t h : hashes) root ^= h;
    return {root};
  }
  std::vector<uint64_t> out;
  for (uint32_t g : groups) {
    const std::vector<uint64_t> part = engine.AaeSegments(range.first + g * group, group);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<AaeKeyVersion> AaeLocalTree::ListAndRehash(uint32_t partition,
                                                       const std::vector<uint32_t>& segments) {
  const SegmentRange range = PartitionSegments(partition, Log2Partitions());
  std::vector<AaeKeyVersion> out;
  for (uint32_t s : segments) {
    auto keys = ctx_.env().engine->AaeSegmentKeys(range.first + s);
    if (!keys.ok()) continue;  // an unreadable segment differs again next time
    for (AaeKeyVersion& k : *keys) {
      if (k.version != k.tree_version) {
        // Drifted (an expired sibling): a merge of nothing rewrites it at
        // its live version, or removes it.
        ctx_.metrics().aae_keys_rehashed.Increment();
        ctx_.env().engine->Merge(k.key, SiblingSet(), [](Result<SiblingSet>) {});
      }
      if (k.version != 0) out.push_back(std::move(k));
    }
  }
  return out;
}

template <typename Reply>
bool AaeLocalTree::SameRingOrRefuse(const Endpoint& from, RequestId id, uint32_t log2_partitions) {
  if (log2_partitions == Log2Partitions()) return true;
  ctx_.Send(from, Reply{id, StatusCode::kFailedPrecondition, "ring partition counts differ", {}});
  return false;
}

void AaeLocalTree::OnAaeHashRequest(const Endpoint& from, const AaeHashRequest& m) {
  if (!SameRingOrRefuse<AaeHashReply>(from, m.id, m.log2_partitions)) return;
  ctx_.Send(from, AaeHashReply{m.id, StatusCode::kOk, "", Hashes(m.partition, m.level, m.groups)});
}

void AaeLocalTree::OnAaeKeysRequest(const Endpoint& from, const AaeKeysRequest& m) {
  if (!SameRingOrRefuse<AaeKeysReply>(from, m.id, m.log2_partitions)) return;
  AaeKeysReply reply{m.id, StatusCode::kOk, "", {}};
  for (AaeKeyVersion& k : ListAndRehash(m.partition, m.segments)) {
    if (reply.keys.size() == kAaeKeysPerReplyMax) {
      reply.code = StatusCode::kLimitExceeded;  // the asker's exchange is then not clean
      reply.message = "more keys than one reply holds";
      break;
    }
    reply.keys.push_back(AaeKeyEntry{std::move(k.key.ns), std::move(k.key.key), k.version});
  }
  ctx_.Send(from, std::move(reply));
}

}  // namespace trolley
