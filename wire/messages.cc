#include "wire/messages.h"

#include <algorithm>
#include <array>

#include "ring/node_id.h"
#include "ring/ring.h"
#include "storage/engine.h"

namespace trolley {
namespace {

constexpr std::array<std::string_view, 23> kMessageNames = {
    "Hello",          "HelloReply",     "ClientGet",       "ClientGetReply",  "ClientPut",
    "ClientPutReply", "ReplicaGet",     "ReplicaGetReply", "ReplicaWrite",    "ReplicaWriteReply",
    "Ping",           "Pong",           "RingInfoRequest", "RingInfoReply",   "ErrorReply",
    "StatusRequest",  "StatusReply",    "CartUpdate",      "CartUpdateReply", "AaeHashRequest",
    "AaeHashReply",   "AaeKeysRequest", "AaeKeysReply"};
static_assert(kMessageNames.size() == std::variant_size_v<Message>);

// Prefixes `status` (not ok) with the field it is about.
Status InField(std::string_view field, const Status& status) {
  return Status::InvalidArgument(std::string(field) + ": " + status.message());
}

Status CheckObjectKey(const std::string& ns, const std::string& key) {
  Status s = ValidateObjectKey(ObjectKey{ns, key});
  return s.ok() ? s : InField("ns/key", s);
}

Status CheckNodeId(std::string_view field, const std::string& name, bool empty_ok) {
  if (empty_ok && name.empty()) return Status::Ok();
  Status s = ValidateNodeId(NodeId{name});
  return s.ok() ? s : InField(field, s);
}

Status CheckStatusMessage(const std::string& message) {
  if (message.size() <= kStatusMessageBytesMax) return Status::Ok();
  return Status::InvalidArgument("status message is " + std::to_string(message.size()) +
                                 " bytes; the limit is " + std::to_string(kStatusMessageBytesMax));
}

Status CheckRingInfo(const RingInfoReply& m) {
  if (!m.owners.empty()) {
    Status s = ValidatePartitionCount(
        static_cast<uint32_t>(std::min<size_t>(m.owners.size(), size_t{kPartitionsMax} + 1)));
    if (!s.ok()) return InField("owners", s);
  }
  for (const std::string& owner : m.owners) {
    Status s = CheckNodeId("owner", owner, /*empty_ok=*/false);
    if (!s.ok()) return s;
  }
  if (m.members.size() > kPartitionsMax) {
    return Status::InvalidArgument(std::to_string(m.members.size()) + " members; the limit is " +
                                   std::to_string(kPartitionsMax));
  }
  for (const auto& [node, address] : m.members) {
    Status s = CheckNodeId("member", node, /*empty_ok=*/false);
    if (!s.ok()) return s;
    if (address.empty() || address.size() > kAddressBytesMax) {
      return Status::InvalidArgument("address of member " + node + " must be 1 to " +
                                     std::to_string(kAddressBytesMax) + " bytes, got " +
                                     std::to_string(address.size()));
    }
  }
  if (m.namespaces.size() > kNamespacesMax) {
    return Status::InvalidArgument(std::to_string(m.namespaces.size()) +
                                   " namespaces; the limit is " + std::to_string(kNamespacesMax));
  }
  for (const NamespaceInfo& ns : m.namespaces) {
    if (ns.name.empty() || ns.name.size() > kNamespaceBytesMax) {
      return Status::InvalidArgument("namespace name must be 1 to " +
                                     std::to_string(kNamespaceBytesMax) + " bytes, got " +
                                     std::to_string(ns.name.size()));
    }
    if (ns.r < 1 || ns.r > ns.n || ns.w < 1 || ns.w > ns.n) {
      return Status::InvalidArgument(
          "namespace quorums must satisfy 1 <= r, w <= n, got n=" + std::to_string(ns.n) +
          " r=" + std::to_string(ns.r) + " w=" + std::to_string(ns.w));
    }
    if (ns.merge.size() > kMergeNameBytesMax) {
      return Status::InvalidArgument("namespace merge name exceeds " +
                                     std::to_string(kMergeNameBytesMax) + " bytes");
    }
  }
  return Status::Ok();
}

Status CheckAaePairs(const StatusReply& m) {
  if (m.aae_pairs.size() > kStatusAaePairsMax || m.aae_pairs.size() > m.aae_pairs_total) {
    return Status::InvalidArgument(std::to_string(m.aae_pairs.size()) +
                                   " anti-entropy pairs; the limit is " +
                                   std::to_string(kStatusAaePairsMax) + " and aae_pairs_total " +
                                   std::to_string(m.aae_pairs_total));
  }
  for (const AaePairStatus& pair : m.aae_pairs) {
    Status s = CheckNodeId("aae peer", pair.peer, /*empty_ok=*/false);
    if (!s.ok()) return s;
    if (m.partitions != 0 && pair.partition >= m.partitions) {
      return Status::InvalidArgument("aae partition " + std::to_string(pair.partition) +
                                     " is not below " + std::to_string(m.partitions));
    }
  }
  return Status::Ok();
}

Status CheckStatusReply(const StatusReply& m) {
  Status s = CheckStatusMessage(m.message);
  if (!s.ok()) return s;
  s = CheckNodeId("node_id", m.node_id, /*empty_ok=*/false);
  if (!s.ok()) return s;
  if (m.partitions != 0) {
    s = ValidatePartitionCount(m.partitions);
    if (!s.ok()) return InField("partitions", s);
  }
  if (m.partitions_owned > m.partitions_replicated || m.partitions_replicated > m.partitions) {
    return Status::InvalidArgument("partitions: need owned <= replicated <= partitions, got " +
                                   std::to_string(m.partitions_owned) + ", " +
                                   std::to_string(m.partitions_replicated) + ", " +
                                   std::to_string(m.partitions));
  }
  if (m.peers.size() > kPartitionsMax) {
    return Status::InvalidArgument(std::to_string(m.peers.size()) + " peers; the limit is " +
                                   std::to_string(kPartitionsMax));
  }
  for (const PeerStatus& peer : m.peers) {
    s = CheckNodeId("peer", peer.node_id, /*empty_ok=*/false);
    if (!s.ok()) return s;
  }
  if (m.counters.size() > kStatusCountersMax) {
    return Status::InvalidArgument(std::to_string(m.counters.size()) + " counters; the limit is " +
                                   std::to_string(kStatusCountersMax));
  }
  for (const NamedValue& counter : m.counters) {
    const bool name_ok = !counter.name.empty() && counter.name.size() <= kCounterNameBytesMax &&
                         std::all_of(counter.name.begin(), counter.name.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                         });
    if (!name_ok) {
      return Status::InvalidArgument("counter name '" +
                                     counter.name.substr(0, kCounterNameBytesMax) + "' is not 1.." +
                                     std::to_string(kCounterNameBytesMax) + " bytes of [a-z0-9_]");
    }
  }
  return CheckAaePairs(m);
}

Status CheckCartUpdate(const CartUpdate& m) {
  if (m.kind > CartMutationKind::kMarkMerged) {
    return Status::InvalidArgument("unknown mutation kind " +
                                   std::to_string(static_cast<int>(m.kind)));
  }
  if (m.strategy > CartMergeStrategy::kKeepUser) {
    return Status::InvalidArgument("unknown guest merge strategy " +
                                   std::to_string(static_cast<int>(m.strategy)));
  }
  if (m.guest.size() > kCartGuestBytesMax) {
    return Status::InvalidArgument("the guest cart is " + std::to_string(m.guest.size()) +
                                   " bytes; the limit is " + std::to_string(kCartGuestBytesMax));
  }
  if (m.merged_into.size() > kCartMergedIntoBytesMax) {
    return Status::InvalidArgument("merged_into is " + std::to_string(m.merged_into.size()) +
                                   " bytes; the limit is " +
                                   std::to_string(kCartMergedIntoBytesMax));
  }
  if (m.mutation_id == 0) return Status::InvalidArgument("mutation_id must be nonzero");
  if (m.sku.size() > kCartSkuBytesMax) {
    return Status::InvalidArgument("sku is " + std::to_string(m.sku.size()) +
                                   " bytes; the limit is " + std::to_string(kCartSkuBytesMax));
  }
  if (m.attributes.size() > kCartAttributesMax) {
    return Status::InvalidArgument(std::to_string(m.attributes.size()) +
                                   " attributes; the limit is " +
                                   std::to_string(kCartAttributesMax));
  }
  if (m.observed.size() > kCartObservedTagsMax) {
    return Status::InvalidArgument(std::to_string(m.observed.size()) +
                                   " observed tags exceed the limit of " +
                                   std::to_string(kCartObservedTagsMax));
  }
  for (size_t i = 0; i < m.attributes.size(); ++i) {
    const auto& [key, value] = m.attributes[i];
    if (key.size() + value.size() > kCartAttributeBytesMax) {
      return Status::InvalidArgument(
          "an attribute is " + std::to_string(key.size() + value.size()) + " bytes; the limit is " +
          std::to_string(kCartAttributeBytesMax));
    }
    if (i > 0 && !(m.attributes[i - 1].first < key)) {
      return Status::InvalidArgument("attribute keys are not sorted and unique");
    }
  }
  return CheckObjectKey(m.ns, m.cart_id);
}

// The partition's segment count, or InvalidArgument.
Result<uint32_t> AaePartitionSegments(uint32_t partition, uint32_t log2_partitions) {
  if (log2_partitions > kAaeLog2PartitionsMax) {
    return Status::InvalidArgument("log2_partitions " + std::to_string(log2_partitions) +
                                   " exceeds " + std::to_string(kAaeLog2PartitionsMax));
  }
  if (partition >= (uint32_t{1} << log2_partitions)) {
    return Status::InvalidArgument("partition " + std::to_string(partition) +
                                   " is outside a ring of 2^" + std::to_string(log2_partitions));
  }
  return uint32_t{1} << (kAaeLog2PartitionsMax - log2_partitions);
}

// Ok if there are at most `max` indices, each below `bound`.
Status CheckIndices(std::string_view what, const std::vector<uint32_t>& indices, size_t max,
                    uint32_t bound) {
  if (indices.size() > max) {
    return Status::InvalidArgument(std::to_string(indices.size()) + " " + std::string(what) +
                                   "; the limit is " + std::to_string(max));
  }
  for (uint32_t i : indices) {
    if (i >= bound) {
      return Status::InvalidArgument(std::string(what) + " index " + std::to_string(i) +
                                     " is outside the partition's " + std::to_string(bound));
    }
  }
  return Status::Ok();
}

Status CheckAaeHashRequest(const AaeHashRequest& m) {
  Result<uint32_t> segments = AaePartitionSegments(m.partition, m.log2_partitions);
  if (!segments.ok()) return segments.status();
  if (m.level > AaeLevel::kSegments) {
    return Status::InvalidArgument("unknown level " + std::to_string(static_cast<int>(m.level)));
  }
  const uint32_t groups = *segments / std::min<uint32_t>(64, *segments);
  return CheckIndices("groups", m.groups, kAaeGroupsPerRequestMax, groups);
}

Status CheckAaeKeysRequest(const AaeKeysRequest& m) {
  Result<uint32_t> segments = AaePartitionSegments(m.partition, m.log2_partitions);
  if (!segments.ok()) return segments.status();
  return CheckIndices("segments", m.segments, kAaeSegmentsPerRequestMax, *segments);
}

Status CheckAaeKeysReply(const AaeKeysReply& m) {
  if (Status s = CheckStatusMessage(m.message); !s.ok()) return s;
  if (m.keys.size() > kAaeKeysPerReplyMax) {
    return Status::InvalidArgument(std::to_string(m.keys.size()) + " keys; the limit is " +
                                   std::to_string(kAaeKeysPerReplyMax));
  }
  for (const AaeKeyEntry& k : m.keys) {
    if (Status s = CheckObjectKey(k.ns, k.key); !s.ok()) return s;
    if (k.version == 0) return Status::InvalidArgument("key with version 0");
  }
  return Status::Ok();
}

struct Validator {
  Status operator()(const Hello& m) const { return CheckNodeId("node_id", m.node_id, true); }
  Status operator()(const HelloReply& m) const { return CheckNodeId("node_id", m.node_id, true); }
  Status operator()(const ClientGet& m) const { return CheckObjectKey(m.ns, m.key); }
  Status operator()(const ClientGetReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const ClientPut& m) const {
    if (m.tombstone && !m.value.empty()) {
      return Status::InvalidArgument("a delete (tombstone) carries a " +
                                     std::to_string(m.value.size()) + "-byte value");
    }
    return CheckObjectKey(m.ns, m.key);
  }
  Status operator()(const ClientPutReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const ReplicaGet& m) const { return CheckObjectKey(m.ns, m.key); }
  Status operator()(const ReplicaGetReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const ReplicaWrite& m) const {
    Status s = CheckObjectKey(m.ns, m.key);
    return s.ok() ? CheckNodeId("hint_for", m.hint_for, true) : s;
  }
  Status operator()(const ReplicaWriteReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const Ping&) const { return Status::Ok(); }
  Status operator()(const Pong&) const { return Status::Ok(); }
  Status operator()(const RingInfoRequest&) const { return Status::Ok(); }
  Status operator()(const RingInfoReply& m) const { return CheckRingInfo(m); }
  Status operator()(const ErrorReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const StatusRequest&) const { return Status::Ok(); }
  Status operator()(const StatusReply& m) const { return CheckStatusReply(m); }
  Status operator()(const CartUpdate& m) const { return CheckCartUpdate(m); }
  Status operator()(const CartUpdateReply& m) const { return CheckStatusMessage(m.message); }
  Status operator()(const AaeHashRequest& m) const { return CheckAaeHashRequest(m); }
  Status operator()(const AaeHashReply& m) const {
    if (m.hashes.size() > 64 * kAaeGroupsPerRequestMax) {
      return Status::InvalidArgument(std::to_string(m.hashes.size()) + " hashes; the limit is " +
                                     std::to_string(64 * kAaeGroupsPerRequestMax));
    }
    return CheckStatusMessage(m.message);
  }
  Status operator()(const AaeKeysRequest& m) const { return CheckAaeKeysRequest(m); }
  Status operator()(const AaeKeysReply& m) const { return CheckAaeKeysReply(m); }
};

}  // namespace

std::string_view MessageName(const Message& message) { return kMessageNames[message.index()]; }

Status ValidateMessage(const Message& message) {
  Status s = std::visit(Validator{}, message);
  if (s.ok()) return s;
  return Status::InvalidArgument(std::string(MessageName(message)) + ": " + s.message());
}

RequestId RequestIdOf(const Message& message) {
  return std::visit(
      [](const auto& m) -> RequestId {
        if constexpr (requires { m.id; }) {
          return m.id;
        } else {
          return RequestId{};
        }
      },
      message);
}

Status StatusOf(const Message& message) {
  return std::visit(
      [](const auto& m) -> Status {
        if constexpr (requires { m.code; }) {
          return Status(m.code, m.message);
        } else {
          return Status::Ok();
        }
      },
      message);
}

}  // namespace trolley
