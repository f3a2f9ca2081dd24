#include "ring/ring.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "common/assert.h"
#include "common/key.h"

namespace trolley {
namespace {

// A claim in index space: owner[p] is an index into the sorted node list,
// count[i] how many partitions node i owns. Join and leave work on this
// form so that ties are broken by plain integers, never by hashing.
struct Claim {
  std::vector<uint32_t> owner;
  std::vector<uint32_t> count;

  uint32_t PartitionCount() const { return static_cast<uint32_t>(owner.size()); }

  void Move(uint32_t partition, uint32_t to) {
    const uint32_t from = owner[partition];
    TROLLEY_ASSERT(from != to);
    TROLLEY_ASSERT(count[from] > 0);
    --count[from];
    ++count[to];
    owner[partition] = to;
  }
};

// Circular distance from `partition` to the nearest partition in `owned`
// (which does not hold `partition`); q when `owned` is empty.
uint32_t DistanceToNearest(const std::set<uint32_t>& owned, uint32_t partition, uint32_t q) {
  if (owned.empty()) return q;
  auto next = owned.lower_bound(partition);
  if (next == owned.end()) next = owned.begin();
  auto prev = owned.lower_bound(partition);
  prev = (prev == owned.begin()) ? std::prev(owned.end()) : std::prev(prev);
  const uint32_t mask = q - 1;  // q is a power of two
  const uint32_t ahead = (*next - partition) & mask;
  const uint32_t behind = (partition - *prev) & mask;
  TROLLEY_ASSERT(ahead != 0);
  TROLLEY_ASSERT(behind != 0);
  return std::min(ahead, behind);
}

// How crowded `partition` would be for `node`: each partition of `node`
// d < spacing steps away, either way round the ring, adds spacing - d, so
// the nearest neighbours weigh the most.
uint32_t Crowding(const Claim& claim, uint32_t partition, uint32_t node, uint32_t spacing) {
  const uint32_t mask = claim.PartitionCount() - 1;  // a power of two
  uint32_t crowding = 0;
  for (uint32_t d = 1; d < spacing; ++d) {
    const uint32_t weight = spacing - d;
    crowding += weight * (claim.owner[(partition + d) & mask] == node);
    crowding += weight * (claim.owner[(partition - d) & mask] == node);
  }
  return crowding;
}

// Gives `joiner` (count 0, already in claim.count) floor(Q / n) partitions,
// n = claim.count.size().
//
// Which donors: with share = floor(Q / n) and extra = Q mod n, a donor must
// stay at or above share, and at most `extra` donors may keep share + 1:
// donors above share + 1 always give, donors at share + 1 give while more
// than `extra` old nodes are at or above share + 1. Such a donor exists
// while the joiner lacks t > 0 partitions: the sum of (count - share) over
// the old nodes is t + extra > extra, so either one is above share + 1 or
// more than `extra` are at share + 1. From a balanced claim this ends balanced (every count
// share or share + 1, exactly `extra` at share + 1) after exactly `share`
// moves, the fewest any balanced result needs.
//
// Which partitions: the k-th pick aims at k * Q / share, so the joiner's
// partitions are spread evenly, and looks within half a stride of it for
// the donor partition that best improves spacing: the most crowding
// removed from its donor minus crowding added to the joiner; then the
// nearest the aim, clockwise side first. If no donor owns a partition in
// that window it takes the nearest donor partition outside it.
void JoinClaim(Claim& claim, uint32_t joiner) {
  const uint32_t q = claim.PartitionCount();
  const uint32_t n = static_cast<uint32_t>(claim.count.size());
  TROLLEY_ASSERT(joiner < n);
  TROLLEY_ASSERT(claim.count[joiner] == 0);
  TROLLEY_ASSERT(n >= 2);
  TROLLEY_ASSERT(n <= q);
  const uint32_t share = q / n;
  const uint32_t extra = q % n;
  const uint32_t stride = q / share;  // >= n >= 2
  const uint32_t spacing = std::min(kClaimSpacing, stride);
  const uint32_t mask = q - 1;  // q is a power of two
  uint32_t above = 0;           // old nodes with count >= share + 1
  for (uint32_t i = 0; i < n; ++i) above += (i != joiner && claim.count[i] >= share + 1);
  auto donor = [&](uint32_t i) {
    return i != joiner &&
           (claim.count[i] > share + 1 || (claim.count[i] == share + 1 && above > extra));
  };

  for (uint32_t k = 0; k < share; ++k) {
    const uint32_t target = static_cast<uint32_t>(uint64_t{k} * q / share);
    // Walk outward from the aim: target, target + 1, target - 1, ...
    // Within the window keep the best score; past it, the first donor.
    uint32_t best = q;
    int64_t best_score = 0;
    for (uint32_t step = 0; step < q && (best == q || step <= stride / 2); ++step) {
      for (const uint32_t p : {(target + step) & mask, (target - step) & mask}) {
        if (p == best || !donor(claim.owner[p])) continue;
        const int64_t score = int64_t{Crowding(claim, p, claim.owner[p], spacing)} -
                              int64_t{Crowding(claim, p, joiner, spacing)};
        // Only a strictly better score replaces the best so far, which was
        // examined earlier: nearer the aim, or as near and clockwise.
        if (best == q || score > best_score) {
          best = p;
          best_score = score;
        }
      }
    }
    TROLLEY_ASSERT_MSG(best < q, "join found no donor; the counting argument says one exists");
    if (claim.count[claim.owner[best]] == share + 1) --above;
    claim.Move(best, joiner);
  }
  TROLLEY_ASSERT(claim.count[joiner] == share);
}

// Moves every partition of `leaver` to the other nodes.
//
// Which receivers: with share = floor(Q / (n - 1)) and extra = Q mod
// (n - 1), a receiver must stay at or below share + 1 and at most `extra`
// receivers may reach share + 1: receivers below share always take,
// receivers at share take while fewer than `extra` nodes are above share.
// Such a receiver exists while g > 0 partitions remain to give: the sum of
// (count - share) over the others is extra - g < extra, so either one is
// below share or fewer than `extra` are above it. From a balanced claim this ends balanced.
//
// Which receiver: the one whose nearest partition is farthest from the
// partition given, then the least loaded, then the lowest index.
void LeaveClaim(Claim& claim, uint32_t leaver) {
  const uint32_t q = claim.PartitionCount();
  const uint32_t n = static_cast<uint32_t>(claim.count.size());
  TROLLEY_ASSERT(leaver < n);
  TROLLEY_ASSERT(n >= 2);
  const uint32_t share = q / (n - 1);
  const uint32_t extra = q % (n - 1);
  std::vector<std::set<uint32_t>> owned(n);
  std::vector<uint32_t> leaving;
  for (uint32_t p = 0; p < q; ++p) {
    if (claim.owner[p] == leaver) {
      leaving.push_back(p);
    } else {
      owned[claim.owner[p]].insert(p);
    }
  }
  uint32_t above = 0;  // other nodes with count >= share + 1
  for (uint32_t i = 0; i < n; ++i) above += (i != leaver && claim.count[i] >= share + 1);
  auto receiver = [&](uint32_t i) {
    return i != leaver && (claim.count[i] < share || (claim.count[i] == share && above < extra));
  };

  for (const uint32_t p : leaving) {
    uint32_t best = n;
    uint32_t best_distance = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (!receiver(i)) continue;
      const uint32_t distance = DistanceToNearest(owned[i], p, q);
      if (best == n || distance > best_distance ||
          (distance == best_distance && claim.count[i] < claim.count[best])) {
        best = i;
        best_distance = distance;
      }
    }
    TROLLEY_ASSERT_MSG(best < n, "leave found no receiver; the counting argument says one exists");
    if (claim.count[best] == share) ++above;
    claim.Move(p, best);
    owned[best].insert(p);
  }
  TROLLEY_ASSERT(claim.count[leaver] == 0);
}

// The index of `node` in sorted `nodes`, or nodes.size().
uint32_t IndexOf(const std::vector<NodeId>& nodes, const NodeId& node) {
  const auto it = std::lower_bound(nodes.begin(), nodes.end(), node);
  if (it == nodes.end() || *it != node) return static_cast<uint32_t>(nodes.size());
  return static_cast<uint32_t>(it - nodes.begin());
}

}  // namespace

Status ValidatePartitionCount(uint32_t partition_count) {
  if (partition_count < 1 || partition_count > kPartitionsMax ||
      !std::has_single_bit(partition_count)) {
    return Status::InvalidArgument("partition count " + std::to_string(partition_count) +
                                   " is invalid: use a power of two from 1 to " +
                                   std::to_string(kPartitionsMax) + " (default " +
                                   std::to_string(kPartitionsDefault) + ")");
  }
  return Status::Ok();
}

Result<Ring> Ring::Build(std::vector<NodeId> members, uint32_t partition_count) {
  if (Status s = ValidatePartitionCount(partition_count); !s.ok()) return s;
  if (members.empty()) {
    return Status::InvalidArgument("a ring needs at least one node; the membership is empty");
  }
  for (const NodeId& node : members) {
    if (Status s = ValidateNodeId(node); !s.ok()) return s;
  }
  std::sort(members.begin(), members.end());
  if (auto dup = std::adjacent_find(members.begin(), members.end()); dup != members.end()) {
    return Status::InvalidArgument("node " + dup->name + " is listed twice in the membership");
  }
  if (members.size() > partition_count) {
    return Status::InvalidArgument(std::to_string(members.size()) + " nodes cannot share " +
                                   std::to_string(partition_count) +
                                   " partitions: every node needs one; raise the partition count");
  }
  // Round robin: partition p goes to the (p mod n)-th node. Balanced, and
  // no node owns two partitions closer than n steps, except across the wrap
  // from Q - 1 to 0 when n does not divide Q.
  std::vector<uint32_t> owner_index(partition_count);
  for (uint32_t p = 0; p < partition_count; ++p) {
    owner_index[p] = p % static_cast<uint32_t>(members.size());
  }
  return Ring(std::move(members), std::move(owner_index));
}

Result<Ring> Ring::FromOwners(std::vector<NodeId> owners) {
  if (owners.size() > kPartitionsMax) {
    return Status::InvalidArgument("owner list has " + std::to_string(owners.size()) +
                                   " partitions; the limit is " + std::to_string(kPartitionsMax));
  }
  if (Status s = ValidatePartitionCount(static_cast<uint32_t>(owners.size())); !s.ok()) {
    return Status::InvalidArgument("owner list length: " + s.message());
  }
  for (const NodeId& node : owners) {
    if (Status s = ValidateNodeId(node); !s.ok()) return s;
  }
  std::vector<NodeId> nodes = owners;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  std::vector<uint32_t> owner_index(owners.size());
  for (size_t p = 0; p < owners.size(); ++p) owner_index[p] = IndexOf(nodes, owners[p]);
  return Ring(std::move(nodes), std::move(owner_index));
}

Result<Ring> Ring::WithJoin(const NodeId& node) const {
  if (Status s = ValidateNodeId(node); !s.ok()) return s;
  if (Contains(node)) {
    return Status::InvalidArgument("node " + node.name + " is already a member of the ring");
  }
  if (nodes_.size() + 1 > PartitionCount()) {
    return Status::InvalidArgument(
        "node " + node.name + " cannot join: " + std::to_string(PartitionCount()) +
        " partitions are all the ring can give to " + std::to_string(nodes_.size()) + " nodes");
  }
  std::vector<NodeId> nodes = nodes_;
  const auto at = std::lower_bound(nodes.begin(), nodes.end(), node);
  const uint32_t joiner = static_cast<uint32_t>(at - nodes.begin());
  nodes.insert(at, node);
  Claim claim{owner_index_, PartitionCounts()};
  for (uint32_t& owner : claim.owner) owner += (owner >= joiner);
  claim.count.insert(claim.count.begin() + joiner, 0);
  JoinClaim(claim, joiner);
  return Ring(std::move(nodes), std::move(claim.owner));
}

Result<Ring> Ring::WithLeave(const NodeId& node) const {
  const uint32_t leaver = IndexOf(nodes_, node);
  if (leaver == nodes_.size()) {
    return Status::InvalidArgument("node " + node.name + " is not a member of the ring");
  }
  if (nodes_.size() == 1) {
    return Status::InvalidArgument("node " + node.name +
                                   " is the last member; a ring needs at least one node");
  }
  Claim claim{owner_index_, PartitionCounts()};
  LeaveClaim(claim, leaver);
  for (uint32_t& owner : claim.owner) {
    TROLLEY_ASSERT(owner != leaver);
    owner -= (owner > leaver);
  }
  std::vector<NodeId> nodes = nodes_;
  nodes.erase(nodes.begin() + leaver);
  return Ring(std::move(nodes), std::move(claim.owner));
}

Ring::Ring(std::vector<NodeId> nodes, std::vector<uint32_t> owner_index)
    : nodes_(std::move(nodes)), owner_index_(std::move(owner_index)) {
  const uint32_t q = static_cast<uint32_t>(owner_index_.size());
  TROLLEY_ASSERT(ValidatePartitionCount(q).ok());
  TROLLEY_ASSERT(!nodes_.empty());
  TROLLEY_ASSERT(nodes_.size() <= q);
  TROLLEY_ASSERT(std::adjacent_find(nodes_.begin(), nodes_.end(), std::greater_equal<>()) ==
                 nodes_.end());  // strictly ascending
  log2_partition_count_ = static_cast<uint32_t>(std::countr_zero(q));
  owners_.reserve(q);
  std::vector<bool> owns_some(nodes_.size(), false);
  for (const uint32_t index : owner_index_) {
    TROLLEY_ASSERT(index < nodes_.size());
    owns_some[index] = true;
    owners_.push_back(nodes_[index]);
  }
  TROLLEY_ASSERT_MSG(std::find(owns_some.begin(), owns_some.end(), false) == owns_some.end(),
                     "every member owns at least one partition");
}

bool Ring::Contains(const NodeId& node) const { return IndexOf(nodes_, node) < nodes_.size(); }

const NodeId& Ring::OwnerOf(uint32_t partition) const {
  TROLLEY_ASSERT(partition < PartitionCount());
  return owners_[partition];
}

uint32_t Ring::OwnerIndexOf(uint32_t partition) const {
  TROLLEY_ASSERT(partition < PartitionCount());
  return owner_index_[partition];
}

std::vector<uint32_t> Ring::PartitionsOwnedBy(const NodeId& node) const {
  const uint32_t index = IndexOf(nodes_, node);
  std::vector<uint32_t> partitions;
  if (index == nodes_.size()) return partitions;
  for (uint32_t p = 0; p < PartitionCount(); ++p) {
    if (owner_index_[p] == index) partitions.push_back(p);
  }
  return partitions;
}

std::vector<uint32_t> Ring::PartitionCounts() const {
  std::vector<uint32_t> counts(nodes_.size(), 0);
  for (const uint32_t index : owner_index_) ++counts[index];
  return counts;
}

uint32_t Ring::PartitionOf(std::string_view ns, std::string_view key) const {
  return PartitionOfKeyHash(KeyHash(ns, key));
}

uint32_t Ring::PartitionOfKeyHash(uint64_t key_hash) const {
  return PartitionOfHash(key_hash, log2_partition_count_);
}

double BalanceRatio(const Ring& ring) {
  const std::vector<uint32_t> counts = ring.PartitionCounts();
  const auto [least, most] = std::minmax_element(counts.begin(), counts.end());
  TROLLEY_ASSERT(*least > 0);  // every member owns a partition
  return static_cast<double>(*most) / static_cast<double>(*least);
}

}  // namespace trolley
