// Goal: preference lists are the N distinct owners met walking clockwise
// from a key's partition, then every other node as a fallback, and sloppy
// quorum swaps down primaries for up fallbacks with the right hints.
// Method: a hand-made ring with checked-by-hand answers, an independent
// reference walk over built rings, and table tests of target selection.
#include "ring/preference_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/ring/ring_members.h"

namespace trolley {
namespace {

std::vector<NodeId> Ids(std::initializer_list<const char*> names) {
  std::vector<NodeId> ids;
  for (const char* name : names) ids.push_back({name});
  return ids;
}

// The owners met walking clockwise from `partition`, each once: written
// independently of the code under test.
std::vector<NodeId> ReferenceWalk(const Ring& ring, uint32_t partition) {
  std::vector<NodeId> walk;
  for (uint32_t step = 0; step < ring.PartitionCount(); ++step) {
    const NodeId& owner = ring.OwnerOf((partition + step) % ring.PartitionCount());
    if (std::find(walk.begin(), walk.end(), owner) == walk.end()) walk.push_back(owner);
  }
  return walk;
}

// Goal: the walk skips owners already taken and wraps around. Method: an
// 8-partition ring a a b a c b d a, answers worked out by hand.
TEST(PreferenceListTest, WalksClockwiseSkippingRepeatsAndWrapping) {
  const Ring ring = Ring::FromOwners(Ids({"a", "a", "b", "a", "c", "b", "d", "a"})).value();
  EXPECT_EQ(PreferenceListForPartition(ring, 0, 3),
            (PreferenceList{Ids({"a", "b", "c"}), Ids({"d"})}));
  // From 5: b, d, then a (7), a (0) skipped, a (1) skipped, b skipped, ... c (4).
  EXPECT_EQ(PreferenceListForPartition(ring, 5, 3),
            (PreferenceList{Ids({"b", "d", "a"}), Ids({"c"})}));
  EXPECT_EQ(PreferenceListForPartition(ring, 6, 2),
            (PreferenceList{Ids({"d", "a"}), Ids({"b", "c"})}));
  EXPECT_EQ(PreferenceListForPartition(ring, 7, 1),
            (PreferenceList{Ids({"a"}), Ids({"b", "c", "d"})}));
}

// Goal: the list invariants of preference_list.h hold everywhere. Method:
// every partition of built and derived rings, n = 1..9, n_val = 1..5,
// against the reference walk: primaries are its first min(N, n) nodes
// (distinct, the first owns the partition) and fallbacks the rest.
TEST(PreferenceListTest, PrimariesThenFallbacksForEveryPartition) {
  for (int n = 1; n <= 9; ++n) {
    const Ring built = Ring::Build(Members(n), 64).value();
    const Ring derived = n > 1 ? built.WithJoin({"n0"}).value().WithLeave({"n1"}).value() : built;
    for (const Ring* ring : {&built, &derived}) {
      for (uint32_t n_val = 1; n_val <= 5; ++n_val) {
        for (uint32_t p = 0; p < ring->PartitionCount(); ++p) {
          const PreferenceList list = PreferenceListForPartition(*ring, p, n_val);
          const std::vector<NodeId> walk = ReferenceWalk(*ring, p);
          const size_t primaries = std::min<size_t>(n_val, ring->Nodes().size());
          ASSERT_EQ(list.primaries.size(), primaries) << "n=" << n << " p=" << p;
          EXPECT_EQ(list.primaries.front(), ring->OwnerOf(p));
          EXPECT_TRUE(std::equal(list.primaries.begin(), list.primaries.end(), walk.begin()));
          EXPECT_TRUE(std::equal(list.fallbacks.begin(), list.fallbacks.end(),
                                 walk.begin() + static_cast<std::ptrdiff_t>(primaries),
                                 walk.end()));
          std::set<NodeId> all(list.primaries.begin(), list.primaries.end());
          all.insert(list.fallbacks.begin(), list.fallbacks.end());
          EXPECT_EQ(all.size(), ring->Nodes().size());  // distinct, disjoint, complete
        }
      }
    }
  }
}

// Goal: asking for more replicas than nodes gives the nodes there are.
// Method: two nodes, N = 3 and N = 5.
TEST(PreferenceListTest, MoreReplicasThanNodes) {
  const Ring ring = Ring::Build(Ids({"n1", "n2"}), 64).value();
  for (const uint32_t n_val : {3u, 5u}) {
    const PreferenceList list = PreferenceListForPartition(ring, 9, n_val);
    EXPECT_EQ(list.primaries.size(), 2u);
    EXPECT_TRUE(list.fallbacks.empty());
    EXPECT_NE(list.primaries[0], list.primaries[1]);
  }
}

// Goal: a key's list is its partition's list. Method: compare for many
// keys.
TEST(PreferenceListTest, ForKeyUsesTheKeysPartition) {
  const Ring ring = Ring::Build(Members(7), 64).value();
  for (int i = 0; i < 200; ++i) {
    const std::string key = "cart-" + std::to_string(i);
    EXPECT_EQ(PreferenceListForKey(ring, "carts", key, 3),
              PreferenceListForPartition(ring, ring.PartitionOf("carts", key), 3));
  }
}

// ------------------------------------------------------------ sloppy quorum

// is_up from a set of down nodes, counting calls per node.
struct Liveness {
  std::set<NodeId> down;
  std::map<NodeId, int> calls;
  std::function<bool(const NodeId&)> Predicate() {
    return [this](const NodeId& node) {
      ++calls[node];
      return down.count(node) == 0;
    };
  }
};

Liveness Down(std::initializer_list<const char*> names) {
  const std::vector<NodeId> ids = Ids(names);
  return Liveness{{ids.begin(), ids.end()}, {}};
}

const PreferenceList kList{Ids({"a", "b", "c"}), Ids({"d", "e", "f"})};

// Goal: with everyone up the targets are the primaries, without hints.
// Method: no node down.
TEST(SloppyQuorumTest, AllUpTargetsThePrimaries) {
  Liveness live = Down({});
  EXPECT_EQ(SelectQuorumTargets(kList, live.Predicate()),
            (std::vector<QuorumTarget>{{{"a"}, {}}, {{"b"}, {}}, {{"c"}, {}}}));
  EXPECT_EQ(live.calls.count(NodeId{"d"}), 0u);  // fallbacks not consulted
}

// Goal: a down primary is replaced by the first up fallback, which holds a
// hint for it. Method: b down.
TEST(SloppyQuorumTest, DownPrimaryGetsTheNextFallbackWithAHint) {
  Liveness live = Down({"b"});
  EXPECT_EQ(SelectQuorumTargets(kList, live.Predicate()),
            (std::vector<QuorumTarget>{{{"a"}, {}}, {{"d"}, NodeId{"b"}}, {{"c"}, {}}}));
}

// Goal: fallbacks are used in walk order, each once, skipping down ones.
// Method: a and c down, d down too, so e stands in for a and f for c; each
// node is asked about at most once.
TEST(SloppyQuorumTest, FallbacksUsedInOrderOnceEach) {
  Liveness live = Down({"a", "c", "d"});
  EXPECT_EQ(SelectQuorumTargets(kList, live.Predicate()),
            (std::vector<QuorumTarget>{{{"e"}, NodeId{"a"}}, {{"b"}, {}}, {{"f"}, NodeId{"c"}}}));
  for (const auto& [node, calls] : live.calls) EXPECT_EQ(calls, 1) << node;
}

// Goal: when fallbacks run out the result is short, never padded. Method:
// all primaries down, only one fallback up; then everyone down.
TEST(SloppyQuorumTest, RunsOutOfFallbacks) {
  Liveness few = Down({"a", "b", "c", "d", "e"});
  EXPECT_EQ(SelectQuorumTargets(kList, few.Predicate()),
            (std::vector<QuorumTarget>{{{"f"}, NodeId{"a"}}}));
  Liveness none = Down({"a", "b", "c", "d", "e", "f"});
  EXPECT_TRUE(SelectQuorumTargets(kList, none.Predicate()).empty());
}

// Goal: target selection composes with real preference lists. Method: on a
// 6-node ring, with the key's owner down, the owner's stand-in is the
// first fallback and every target is distinct and up.
TEST(SloppyQuorumTest, WithARealRing) {
  const Ring ring = Ring::Build(Members(6), 64).value();
  const PreferenceList list = PreferenceListForKey(ring, "carts", "user-42", 3);
  Liveness live{{list.primaries[0]}, {}};
  const std::vector<QuorumTarget> targets = SelectQuorumTargets(list, live.Predicate());
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].target, list.fallbacks[0]);
  EXPECT_EQ(targets[0].hint_for, list.primaries[0]);
  std::set<NodeId> distinct;
  for (const QuorumTarget& t : targets) {
    distinct.insert(t.target);
    EXPECT_EQ(live.down.count(t.target), 0u);
  }
  EXPECT_EQ(distinct.size(), 3u);
}

// Goal: n_val 0 is a caller bug (namespace config validation forbids it).
// Method: it aborts.
TEST(PreferenceListDeathTest, ZeroReplicasAborts) {
  const Ring ring = Ring::Build(Members(3), 8).value();
  EXPECT_DEATH((void)PreferenceListForPartition(ring, 0, 0), "assertion failed");
}

}  // namespace
}  // namespace trolley
