// Goal: SiblingSet obeys the rules of docs/design.md, 'Versions: dotted version vector sets', on
// hand-picked cases, most of all the one that loses a write with plain per-coordinator vector
// clocks.
#include "storage/sibling_set.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

constexpr ActorId kA = 1;
constexpr ActorId kB = 2;

WriteIntent Put(const VersionVector& context, std::string value, uint64_t write_id = 0) {
  WriteIntent w;
  w.context = context;
  w.value = std::move(value);
  w.write_id = write_id;
  return w;
}

std::vector<std::string> Values(const SiblingSet& s) {
  std::vector<std::string> out;
  for (const Sibling& sib : s.siblings()) out.push_back(sib.tombstone ? "<deleted>" : sib.value);
  return out;
}

// Two clients read context {A:1} and both write through coordinator A.
// A plain vector clock gives them {A:2} and {A:3} and the second silently
// dominates the first; with dots both must survive as siblings.
TEST(SiblingSetTest, SameCoordinatorSameContextKeepsBothWrites) {
  SiblingSet a;
  a.ApplyWrite(Put({}, "v1"), kA, 0);
  const VersionVector read_context = a.context();
  ASSERT_EQ(read_context.Get(kA), 1u);

  a.ApplyWrite(Put(read_context, "from-phone"), kA, 0);
  a.ApplyWrite(Put(read_context, "from-laptop"), kA, 0);
  a.CheckInvariants();
  EXPECT_EQ(Values(a), (std::vector<std::string>{"from-phone", "from-laptop"}));

  // A replica that receives the state in either order keeps both as well.
  SiblingSet b;
  b.Merge(a);
  EXPECT_EQ(Values(b), Values(a));
}

TEST(SiblingSetTest, WriteCoveringEverySiblingReplacesThem) {
  SiblingSet s;
  s.ApplyWrite(Put({}, "x"), kA, 0);
  s.ApplyWrite(Put({}, "y"), kB, 0);
  ASSERT_EQ(s.size(), 2u);
  s.ApplyWrite(Put(s.context(), "merged"), kA, 0);
  EXPECT_EQ(Values(s), (std::vector<std::string>{"merged"}));
  EXPECT_EQ(s.context().Get(kA), 2u);
  EXPECT_EQ(s.context().Get(kB), 1u);
}

TEST(SiblingSetTest, ConcurrentWritesOnTwoReplicasSurviveMerge) {
  SiblingSet a, b;
  a.ApplyWrite(Put({}, "x"), kA, 0);
  b.Merge(a);
  a.ApplyWrite(Put(a.context(), "a-side"), kA, 0);
  b.ApplyWrite(Put(b.context(), "b-side"), kB, 0);
  SiblingSet ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(Values(ab), (std::vector<std::string>{"a-side", "b-side"}));
}

TEST(SiblingSetTest, RetryWithSameWriteIdAddsNoSibling) {
  SiblingSet s;
  s.ApplyWrite(Put({}, "base"), kA, 0);
  const VersionVector ctx = s.context();
  const WriteOutcome first = s.ApplyWrite(Put(ctx, "add sku-1", 77), kA, 0);
  const WriteOutcome retry = s.ApplyWrite(Put(ctx, "add sku-1", 77), kA, 0);
  EXPECT_FALSE(first.deduplicated);
  EXPECT_TRUE(retry.deduplicated);
  EXPECT_EQ(retry.dot, first.dot);
  EXPECT_EQ(Values(s), (std::vector<std::string>{"add sku-1"}));
}

TEST(SiblingSetTest, RedeliveryIsIdempotent) {
  SiblingSet a, b;
  a.ApplyWrite(Put({}, "x"), kA, 0);
  b.ApplyWrite(Put({}, "y"), kB, 0);
  b.Merge(a);
  const SiblingSet once = b;
  b.Merge(a);
  b.Merge(a);
  EXPECT_EQ(b, once);
  EXPECT_TRUE(once.Covers(a));
}

TEST(SiblingSetTest, DeleteIsATombstoneWithAContext) {
  SiblingSet s;
  s.ApplyWrite(Put({}, "x"), kA, 0);
  WriteIntent del;
  del.context = s.context();
  del.tombstone = true;
  del.timestamp_ms = 1000;
  s.ApplyWrite(del, kB, 0);
  EXPECT_EQ(Values(s), (std::vector<std::string>{"<deleted>"}));
  EXPECT_TRUE(s.Visible(0).empty());
  EXPECT_TRUE(s.OnlyTombstonesOlderThan(1000));
  EXPECT_FALSE(s.OnlyTombstonesOlderThan(999));

  // A stale replica that still has "x" does not bring it back on merge.
  SiblingSet stale;
  stale.ApplyWrite(Put({}, "x"), kA, 0);
  stale.Merge(s);
  EXPECT_EQ(Values(stale), (std::vector<std::string>{"<deleted>"}));
}

TEST(SiblingSetTest, CounterFloorPreventsDotReuseAfterPurge) {
  // After a tombstone is purged the key's state is empty, but a client may
  // still hold a context that mentions the old dots. New dots must be above
  // them or the stale context would overwrite the new write.
  SiblingSet fresh;
  const WriteOutcome out = fresh.ApplyWrite(Put({}, "new"), kA, /*counter_floor=*/41);
  EXPECT_EQ(out.dot, (Dot{kA, 42}));
  VersionVector stale_context = VersionVector::FromEntries({{kA, 5}});
  fresh.ApplyWrite(Put(stale_context, "stale writer"), kB, 0);
  EXPECT_EQ(fresh.size(), 2u);
}

TEST(SiblingSetTest, ExpiryAndVisibility) {
  SiblingSet s;
  WriteIntent w = Put({}, "guest cart");
  w.expiry_ms = 5000;
  s.ApplyWrite(w, kA, 0);
  EXPECT_EQ(s.Visible(4999).size(), 1u);
  EXPECT_EQ(s.ExpiryMs(4999), 5000u);
  EXPECT_TRUE(s.Visible(5000).empty());
  EXPECT_TRUE(s.FullyExpiredAt(5000));
  s.ApplyWrite(Put({}, "no ttl"), kB, 0);
  EXPECT_FALSE(s.FullyExpiredAt(6000));
  EXPECT_EQ(s.ExpiryMs(1000), 0u);
}

TEST(SiblingSetTest, FromPartsRejectsBrokenInvariants) {
  Sibling sib;
  sib.dot = Dot{kA, 3};
  EXPECT_FALSE(SiblingSet::FromParts(VersionVector::FromEntries({{kA, 2}}), {sib}).has_value());
  EXPECT_TRUE(SiblingSet::FromParts(VersionVector::FromEntries({{kA, 3}}), {sib}).has_value());
  EXPECT_FALSE(
      SiblingSet::FromParts(VersionVector::FromEntries({{kA, 3}}), {sib, sib}).has_value());
}

TEST(VersionVectorTest, PartialOrder) {
  auto a = VersionVector::FromEntries({{kA, 2}, {kB, 1}});
  auto b = VersionVector::FromEntries({{kA, 1}});
  auto c = VersionVector::FromEntries({{kB, 3}});
  EXPECT_EQ(Compare(a, b), Causality::kAfter);
  EXPECT_EQ(Compare(b, a), Causality::kBefore);
  EXPECT_EQ(Compare(a, c), Causality::kConcurrent);
  EXPECT_EQ(Compare(a, a), Causality::kEqual);
  a.Join(c);
  EXPECT_EQ(a, VersionVector::FromEntries({{kA, 2}, {kB, 3}}));
}

}  // namespace
}  // namespace trolley
