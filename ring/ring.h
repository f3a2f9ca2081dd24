// Ring: Q equal partitions of the 64-bit key-hash space and the node that
// owns ("claims") each of them. Dynamo's partitioning strategy 3 (DeCandia
// et al., SOSP 2007, §6.2), claimed the way Riak's claim does it in spirit:
// a fixed partition count, whole partitions change owner on join and leave.
//
// Partitions. Q is a power of two in [1, kPartitionsMax]. A key's partition
// is PartitionOfHash(KeyHash(ns, key), log2 Q) (common/key.h), the top
// log2 Q bits of its XXH3-64 hash, so partition p is the contiguous hash
// range [p << (64 - log2 Q), (p + 1) << (64 - log2 Q)) and storage, which
// lays keys out hash-first, holds each partition as one contiguous range.
// Partition p + 1 (mod Q) follows p clockwise.
//
// Claim. A Ring is a value; it is never changed in place. Build() deals
// the partitions round robin (partition p to the (p mod n)-th node in
// NodeId order), which is balanced and keeps each node's partitions n steps
// apart. WithJoin() and WithLeave() derive the next ring from this one and
// move as few partitions as balance allows:
//   - join:  with n' nodes after the join, the new node takes exactly
//            floor(Q / n') partitions, only from nodes above their new fair
//            share (the most loaded), so no other partition moves;
//   - leave: only the leaving node's partitions move, each to a node below
//            its new fair share (the least loaded).
// Either moves at most Q / n + 1 partitions, n the larger membership size
// (the "1/n + 1/Q of the partitions" bound), and keeps a balanced ring
// balanced. Within those rules the partitions are chosen for spacing, so
// that a preference list rarely has to skip a partition whose owner it
// already holds (Riak's target_n_val): a joining node aims at evenly spaced
// positions and near each takes the partition that most reduces the number
// of same-owner partitions within kClaimSpacing - 1 steps; a leaving node's
// partition goes to the eligible node whose nearest partition is farthest
// from it. Leaves keep spacing less well than joins: the slots a leaving
// node frees often sit within n_val steps of most other nodes (from a
// round-robin ring of 5 nodes, all 4 others), so with minimal movement some
// preference lists must skip; they still name n_val distinct nodes, only
// replica load is less even. Every tie is broken by ring position or by NodeId order: nothing
// depends on hashing, pointers or unordered iteration, so the same inputs
// give the same ring on every machine.
//
// Agreement. Build(members, Q) is a pure function of the member set and Q.
// A ring reached by a history of WithJoin/WithLeave is generally NOT the
// ring Build() gives for the same members (that is the price of moving only
// ~1/n of the data per change). So a cluster must agree on its ring by
// carrying it: Owners() is the whole claim (index = partition),
// FromOwners() validates and rebuilds it, and the membership layer gossips
// that vector. Build() is for bootstrapping a new cluster and for tests.
//
// Invariants (checked on construction; TROLLEY_ASSERT):
//   1. Owners().size() == PartitionCount(), a power of two <= kPartitionsMax;
//   2. Nodes() is sorted, without duplicates, and is exactly the set of
//      owners: every member owns at least one partition (so the ring is
//      fully described by Owners());
//   3. 1 <= Nodes().size() <= PartitionCount().
// Rings built by Build() and derived from them by WithJoin/WithLeave are
// also balanced: partition counts differ by at most one between nodes.
// FromOwners() accepts any valid claim, balanced or not.
//
// Threading: an immutable value; const methods may be called from any
// thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ring/node_id.h"

namespace trolley {

inline constexpr uint32_t kPartitionsDefault = 64;
inline constexpr uint32_t kPartitionsMax = 65536;
// Claim tries to keep two partitions of one node at least this many steps
// apart, so preference lists with n_val <= kClaimSpacing need not skip
// (Riak's target_n_val, whose default is also 4). A goal, not a promise:
// with few nodes, after leaves, or Q not a multiple of n, it cannot
// always be met.
inline constexpr uint32_t kClaimSpacing = 4;

// Ok when `partition_count` is a power of two in [1, kPartitionsMax];
// otherwise InvalidArgument saying what would be valid.
Status ValidatePartitionCount(uint32_t partition_count);

class Ring {
 public:
  // The ring for `members` (any order; duplicates are an error) with
  // `partition_count` partitions. Errors (InvalidArgument): an invalid
  // partition count, no members, more members than partitions, a duplicate
  // or invalid NodeId.
  static Result<Ring> Build(std::vector<NodeId> members,
                            uint32_t partition_count = kPartitionsDefault);

  // The ring whose partition p is owned by owners[p]: how a ring received
  // from another node is rebuilt. Errors (InvalidArgument): owners.size()
  // not a valid partition count, an invalid NodeId.
  static Result<Ring> FromOwners(std::vector<NodeId> owners);

  // This ring plus `node`, moving floor(Q / n') partitions to it (n' the
  // new node count). Errors: `node` invalid or already a member, or the
  // ring has no partition left to give (n' > Q).
  Result<Ring> WithJoin(const NodeId& node) const;

  // This ring without `node`, moving only its partitions. Errors: `node` is
  // not a member, or it is the last one.
  Result<Ring> WithLeave(const NodeId& node) const;

  uint32_t PartitionCount() const { return static_cast<uint32_t>(owners_.size()); }
  uint32_t Log2PartitionCount() const { return log2_partition_count_; }

  // The members, sorted by NodeId.
  const std::vector<NodeId>& Nodes() const { return nodes_; }
  bool Contains(const NodeId& node) const;

  // The claim: Owners()[p] owns partition p.
  const std::vector<NodeId>& Owners() const { return owners_; }
  const NodeId& OwnerOf(uint32_t partition) const;

  // Index into Nodes() of the owner of `partition` (for walks that track
  // the nodes already seen without hashing).
  uint32_t OwnerIndexOf(uint32_t partition) const;

  // The partitions `node` owns, ascending; empty when it is not a member.
  std::vector<uint32_t> PartitionsOwnedBy(const NodeId& node) const;

  // How many partitions each member owns, in Nodes() order.
  std::vector<uint32_t> PartitionCounts() const;

  // The partition holding (ns, key), and the one holding a key hash.
  uint32_t PartitionOf(std::string_view ns, std::string_view key) const;
  uint32_t PartitionOfKeyHash(uint64_t key_hash) const;

  friend bool operator==(const Ring&, const Ring&) = default;

 private:
  // Takes sorted, distinct `nodes` and `owner_index` (partition -> index
  // into nodes); asserts the invariants above.
  Ring(std::vector<NodeId> nodes, std::vector<uint32_t> owner_index);

  uint32_t log2_partition_count_ = 0;
  std::vector<NodeId> nodes_;
  std::vector<NodeId> owners_;
  std::vector<uint32_t> owner_index_;
};

// Most-loaded over least-loaded member partition count: 1.0 is perfect.
// With Q partitions over n nodes a balanced ring gives
// ceil(Q / n) / floor(Q / n) (1.25 for Q = 64, n = 13).
double BalanceRatio(const Ring& ring);

}  // namespace trolley
