// AaeTree: the anti-entropy hash tree of one storage engine, TicTac style
// (docs/design.md, 'Active anti-entropy').
//
// The 64-bit key-hash space is cut into kSegments equal segments (the top
// kSegmentBits bits of a key's KeyHash) and every kSegmentsPerBranch
// consecutive segments form a branch. A segment's hash is the XOR of
// KeyContribution(key, version) over its keys, a branch's the XOR of its
// segments. XOR makes the tree incremental: a write that changes a key's
// version from `old` to `new` XORs contribution(old) ^ contribution(new)
// into one segment and one branch (Apply), with no scan, and the tree of
// several engines (one per durability mode) is the XOR of theirs. A ring
// partition (log2 Q <= kSegmentBits) is a contiguous run of segments.
//
// A key's version (VersionHash) is a hash of its live causal state: the
// context and the dot, kind and expiry of each sibling not expired at the
// time asked. 0 means absent: no live sibling (an expired sibling counts as
// absent), and an absent key contributes 0.
//
// Who drives it: LmdbEngine (in the write transaction of each object, from
// its persisted per-key index) and the simulator's SimEngine; both apply
// the same rule through this module. Not thread-safe: the owner locks.
// Invariant: every segment of a branch XORs to the branch's hash
// (CheckInvariants, O(kSegments)).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "storage/engine.h"
#include "storage/sibling_set.h"

namespace trolley {

// The version of `state` at `now_ms` (siblings expired then are left out);
// 0 if no sibling is live. Equal states give equal versions on every node.
uint64_t VersionHash(const SiblingSet& state, uint64_t now_ms);

// What one key of version `version` XORs into its segment: a hash of the
// key's encoded object key (storage/key_layout.h) and its version; 0 when
// `version` is 0.
uint64_t KeyContribution(std::string_view raw_object_key, uint64_t version);

class AaeTree {
 public:
  static constexpr uint32_t kSegmentBits = 16;
  static constexpr uint32_t kSegments = 1u << kSegmentBits;
  static constexpr uint32_t kSegmentsPerBranch = 64;
  static constexpr uint32_t kBranches = kSegments / kSegmentsPerBranch;

  AaeTree();

  static uint32_t SegmentOfHash(uint64_t key_hash) {
    return static_cast<uint32_t>(key_hash >> (64 - kSegmentBits));
  }
  // The KeyHash range [first, last] of `segment`.
  static uint64_t SegmentFirstHash(uint32_t segment);
  static uint64_t SegmentLastHash(uint32_t segment);

  // XORs `delta` (old contribution ^ new contribution) into the key's
  // segment and branch.
  void Apply(uint64_t key_hash, uint64_t delta);
  // XORs another tree in (the router's union of engines).
  void XorWith(const AaeTree& other);
  void Clear();

  uint64_t segment(uint32_t s) const { return segments_[s]; }
  uint64_t branch(uint32_t b) const { return branches_[b]; }
  // Copies of segments [first, first + count) and branches [first, first +
  // count): what Engine::AaeSegments and AaeBranches return. Assert the
  // range is within the tree.
  std::vector<uint64_t> Segments(uint32_t first, uint32_t count) const;
  std::vector<uint64_t> Branches(uint32_t first, uint32_t count) const;
  const std::vector<uint64_t>& segments() const { return segments_; }
  // The XOR of segments [first, first + count): a partition's root.
  uint64_t RangeHash(uint32_t first_segment, uint32_t count) const;

  friend bool operator==(const AaeTree&, const AaeTree&) = default;
  void CheckInvariants() const;

 private:
  std::vector<uint64_t> segments_;
  std::vector<uint64_t> branches_;
};

// The segments of ring partition `partition` out of 2^log2_partitions:
// [first, first + count). Asserts log2_partitions <= kSegmentBits.
struct SegmentRange {
  uint32_t first = 0;
  uint32_t count = 0;
};
SegmentRange PartitionSegments(uint32_t partition, uint32_t log2_partitions);

}  // namespace trolley
