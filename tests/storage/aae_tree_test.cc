// Goal: the anti-entropy tree (storage/aae_tree.h) is incremental and exact:
// any sequence of O(1) updates gives the tree built from scratch from the
// final versions; a version ignores expired siblings and is 0 with none
// live; a partition is a contiguous run of segments.
#include "storage/aae_tree.h"

#include <gtest/gtest.h>

#include <map>

#include "common/key.h"
#include "common/random.h"
#include "storage/key_layout.h"

namespace trolley {
namespace {

SiblingSet WithSiblings(std::vector<Sibling> siblings, VersionVector context) {
  auto s = SiblingSet::FromParts(std::move(context), std::move(siblings));
  EXPECT_TRUE(s.has_value());
  return s.value_or(SiblingSet());
}

Sibling At(ActorId actor, uint64_t counter, uint64_t expiry_ms = 0, bool tombstone = false) {
  Sibling s;
  s.dot = Dot{actor, counter};
  s.value = tombstone ? "" : "v";
  s.tombstone = tombstone;
  s.expiry_ms = expiry_ms;
  return s;
}

TEST(AaeTreeTest, IncrementalUpdatesEqualTheTreeBuiltFromScratch) {
  Random random(7);
  AaeTree tree;
  std::map<ObjectKey, uint64_t> versions;
  for (int step = 0; step < 5000; ++step) {
    const ObjectKey key{"ns", "k" + std::to_string(random.Uniform(300))};
    const std::string raw = key_layout::EncodeObjectKey(key);
    const uint64_t old = versions.contains(key) ? versions[key] : 0;
    const uint64_t next = random.Uniform(4) == 0 ? 0 : random.Next();
    tree.Apply(KeyHash(key.ns, key.key), KeyContribution(raw, old) ^ KeyContribution(raw, next));
    if (next == 0) {
      versions.erase(key);
    } else {
      versions[key] = next;
    }
  }
  AaeTree scratch;
  for (const auto& [key, version] : versions) {
    scratch.Apply(KeyHash(key.ns, key.key),
                  KeyContribution(key_layout::EncodeObjectKey(key), version));
  }
  tree.CheckInvariants();
  EXPECT_TRUE(tree == scratch);
  AaeTree empty;
  EXPECT_FALSE(tree == empty);
  tree.XorWith(scratch);  // x ^ x = 0: the union of two engines holding the same keys
  EXPECT_TRUE(tree == empty);
}

TEST(AaeTreeTest, VersionIgnoresExpiredSiblingsAndIsZeroWithNoneLive) {
  const VersionVector ctx = VersionVector::FromEntries({{1, 2}, {2, 1}});
  const SiblingSet live_only = WithSiblings({At(1, 2)}, ctx);
  const SiblingSet with_expired = WithSiblings({At(1, 2), At(2, 1, /*expiry_ms=*/100)}, ctx);
  EXPECT_NE(VersionHash(with_expired, 50), VersionHash(live_only, 50));
  EXPECT_EQ(VersionHash(with_expired, 100), VersionHash(live_only, 100));  // expired at 100
  EXPECT_EQ(VersionHash(WithSiblings({At(2, 1, 100)}, ctx), 100), 0u);     // none live: absent
  EXPECT_EQ(VersionHash(SiblingSet(), 0), 0u);
  EXPECT_EQ(KeyContribution("k", 0), 0u);
  // A tombstone is a version (deletes must spread), and the context counts.
  EXPECT_NE(VersionHash(WithSiblings({At(1, 2, 0, true)}, ctx), 0), 0u);
  EXPECT_NE(VersionHash(WithSiblings({At(1, 2, 0, true)}, ctx), 0),
            VersionHash(WithSiblings({At(1, 2)}, ctx), 0));
  EXPECT_NE(VersionHash(live_only, 0),
            VersionHash(WithSiblings({At(1, 2)}, VersionVector::FromEntries({{1, 2}})), 0));
}

TEST(AaeTreeTest, PartitionsAreContiguousSegmentRunsAndRangeHashIsTheirXor) {
  for (uint32_t bits : {0u, 6u, 10u, 16u}) {
    uint32_t next = 0;
    for (uint32_t p = 0; p < (1u << bits); p += std::max(1u, (1u << bits) / 8)) {
      const SegmentRange r = PartitionSegments(p, bits);
      EXPECT_EQ(r.count, 1u << (AaeTree::kSegmentBits - bits));
      EXPECT_EQ(AaeTree::SegmentOfHash(PartitionFirstHash(p, bits)), r.first);
      if (p == 0) {
        EXPECT_EQ(r.first, next);
      }
      next = r.first + r.count;
    }
  }
  Random random(3);
  AaeTree tree;
  for (int i = 0; i < 2000; ++i) tree.Apply(random.Next(), random.Next());
  for (const auto& [first, count] : {std::pair{0u, 64u}, {10u, 200u}, {64u, 1024u}, {5u, 1u}}) {
    uint64_t expected = 0;
    for (uint32_t s = first; s < first + count; ++s) expected ^= tree.segment(s);
    EXPECT_EQ(tree.RangeHash(first, count), expected) << first << "+" << count;
  }
  EXPECT_EQ(AaeTree::SegmentLastHash(AaeTree::kSegments - 1), ~uint64_t{0});
  EXPECT_EQ(AaeTree::SegmentLastHash(0) + 1, AaeTree::SegmentFirstHash(1));
}

TEST(AaeTreeTest, SegmentsAndBranchesCopyARangeOfTheirLevel) {
  Random random(4);
  AaeTree tree;
  for (int i = 0; i < 2000; ++i) tree.Apply(random.Next(), random.Next());
  const std::vector<uint64_t> segments = tree.Segments(100, 70);
  ASSERT_EQ(segments.size(), 70u);
  for (uint32_t i = 0; i < 70; ++i) EXPECT_EQ(segments[i], tree.segment(100 + i)) << i;
  const std::vector<uint64_t> branches = tree.Branches(AaeTree::kBranches - 3, 3);
  ASSERT_EQ(branches.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(branches[i], tree.branch(AaeTree::kBranches - 3 + i));
  EXPECT_EQ(tree.Segments(0, AaeTree::kSegments), tree.segments());
  EXPECT_TRUE(tree.Branches(AaeTree::kBranches, 0).empty());
  EXPECT_DEATH((void)tree.Segments(AaeTree::kSegments - 1, 2), "assertion failed");
  EXPECT_DEATH((void)tree.Branches(AaeTree::kBranches + 1, 0), "assertion failed");
}

}  // namespace
}  // namespace trolley
