// Goal: AaeLocalTree reads a partition's hashes at each level exactly as
// AaeHashRequest defines them (root, groups of min(64, C) segments, the
// segments of the groups asked), lists only live keys while re-hashing
// drifted ones, and answers peers' requests, refusing a ring of another
// partition count and cutting a listing longer than one reply. Method: an
// AaeLocalTree over the fake env, whose engine holds a random tree and
// hand-made listings; expected values computed from the tree directly.
#include "node/aae_local_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/random.h"
#include "storage/aae_tree.h"
#include "tests/node/fake_node_env.h"

namespace trolley {
namespace {

using testing::FakeNode;

// An AaeLocalTree of node n1 of three, over a ring of `partitions`
// partitions; the engine's tree is random when `tree_seed` is nonzero.
struct LocalTreeOfN1 {
  explicit LocalTreeOfN1(uint32_t partitions = 64, uint64_t tree_seed = 0)
      : f({"n1", "n2", "n3"}, "n1", {}, partitions) {
    Random random(tree_seed);
    for (int i = 0; tree_seed != 0 && i < 5000; ++i) {
      f.engine.tree.Apply(random.Next(), random.Next() | 1);
    }
  }
  FakeNode f;
  const AaeTree& tree = f.engine.tree;
  AaeLocalTree local{*f.ctx};
};

TEST(AaeLocalTreeTest, GroupSizeIsABranchOrTheWholePartition) {
  EXPECT_EQ(AaeGroupSize(1024), 64u);
  EXPECT_EQ(AaeGroupSize(64), 64u);
  EXPECT_EQ(AaeGroupSize(16), 16u);
  EXPECT_EQ(AaeGroupSize(1), 1u);
}

// Each level of `partition` of a ring of `partitions`, against the tree.
void ExpectLevels(uint32_t partitions, uint32_t partition, uint64_t tree_seed) {
  SCOPED_TRACE("partition " + std::to_string(partition) + " of " + std::to_string(partitions));
  LocalTreeOfN1 n1(partitions, tree_seed);
  const uint32_t bits = n1.local.Log2Partitions();
  ASSERT_EQ(1u << bits, partitions);
  const SegmentRange range = PartitionSegments(partition, bits);
  const uint32_t group = AaeGroupSize(range.count);
  EXPECT_EQ(n1.local.Hashes(partition, AaeLevel::kRoot, {}),
            std::vector<uint64_t>{n1.tree.RangeHash(range.first, range.count)});
  const std::vector<uint64_t> groups = n1.local.Hashes(partition, AaeLevel::kGroups, {});
  ASSERT_EQ(groups.size(), range.count / group);
  for (uint32_t g = 0; g < groups.size(); ++g) {
    EXPECT_EQ(groups[g], n1.tree.RangeHash(range.first + g * group, group)) << g;
  }
  const uint32_t last = static_cast<uint32_t>(groups.size() - 1);
  std::vector<uint64_t> expected = n1.tree.Segments(range.first + last * group, group);
  const std::vector<uint64_t> first = n1.tree.Segments(range.first, group);
  expected.insert(expected.end(), first.begin(), first.end());
  EXPECT_EQ(n1.local.Hashes(partition, AaeLevel::kSegments, {last, 0}), expected);
}

// 64 partitions of 1024 segments: 16 groups, each one engine branch; 4096
// of 16: the partition is one group; 65536 of 1.
TEST(AaeLocalTreeTest, LevelsOfLargeAndSmallPartitions) {
  ExpectLevels(64, 5, 1);
  ExpectLevels(64, 63, 2);
  ExpectLevels(4096, 4095, 3);
  ExpectLevels(65536, 1000, 4);
}

TEST(AaeLocalTreeTest, ListingKeepsLiveKeysAndRehashesDriftedOnes) {
  LocalTreeOfN1 n1;
  AaeLocalTree& local = n1.local;
  FakeNode& f = n1.f;
  const SegmentRange range = PartitionSegments(2, 6);
  const AaeKeyVersion live{{"carts", "live"}, 11, 11};
  const AaeKeyVersion drifted{{"carts", "drifted"}, 12, 99};  // a sibling expired
  const AaeKeyVersion expired{{"carts", "expired"}, 0, 98};   // every sibling expired
  f.engine.segment_keys[range.first + 7] = {live, drifted, expired};
  f.engine.segment_keys[range.first + 8] = {AaeKeyVersion{{"carts", "other"}, 13, 13}};
  f.engine.unreadable_segments.insert(range.first + 9);

  EXPECT_EQ(local.ListAndRehash(2, {7, 9}), (std::vector<AaeKeyVersion>{live, drifted}));
  EXPECT_EQ(f.engine.merged, (std::vector<ObjectKey>{drifted.key, expired.key}));
  EXPECT_EQ(f.ctx->metrics().aae_keys_rehashed.value(), 2u);
}

TEST(AaeLocalTreeTest, AnswersHashRequestsOfTheSameRingOnly) {
  LocalTreeOfN1 n1(64, /*tree_seed=*/3);
  AaeLocalTree& local = n1.local;
  FakeNode& f = n1.f;
  const Endpoint peer{.node = "n2"};
  local.OnAaeHashRequest(peer, AaeHashRequest{RequestId{7}, 1, 6, AaeLevel::kGroups, {}});
  local.OnAaeHashRequest(peer, AaeHashRequest{RequestId{8}, 1, 7, AaeLevel::kGroups, {}});
  auto replies = f.transport.Take<AaeHashReply>();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].first, peer);
  EXPECT_EQ(replies[0].second.code, StatusCode::kOk);
  EXPECT_EQ(replies[0].second.hashes, local.Hashes(1, AaeLevel::kGroups, {}));
  EXPECT_EQ(replies[1].second.id, RequestId{8});
  EXPECT_EQ(replies[1].second.code, StatusCode::kFailedPrecondition);
  EXPECT_EQ(replies[1].second.message, "ring partition counts differ");
  EXPECT_TRUE(replies[1].second.hashes.empty());
}

TEST(AaeLocalTreeTest, KeysReplyIsCutAtOneReplysWorth) {
  LocalTreeOfN1 n1;
  AaeLocalTree& local = n1.local;
  FakeNode& f = n1.f;
  const SegmentRange range = PartitionSegments(0, 6);
  std::vector<AaeKeyVersion>& keys = f.engine.segment_keys[range.first];
  for (size_t i = 0; i <= kAaeKeysPerReplyMax; ++i) {
    keys.push_back(AaeKeyVersion{{"carts", "k" + std::to_string(i)}, i + 1, i + 1});
  }
  const Endpoint peer{.node = "n3"};
  local.OnAaeKeysRequest(peer, AaeKeysRequest{RequestId{4}, 0, 6, {0}});
  local.OnAaeKeysRequest(peer, AaeKeysRequest{RequestId{5}, 0, 5, {0}});
  auto replies = f.transport.Take<AaeKeysReply>();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].second.code, StatusCode::kLimitExceeded);
  ASSERT_EQ(replies[0].second.keys.size(), kAaeKeysPerReplyMax);
  EXPECT_EQ(replies[0].second.keys[0], (AaeKeyEntry{"carts", "k0", 1}));
  EXPECT_EQ(replies[1].second.code, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(replies[1].second.keys.empty());
}

}  // namespace
}  // namespace trolley
