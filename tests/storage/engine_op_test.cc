// Goal: the object rules both engines share (storage/engine_op.h) refuse
// what they must and nothing else: a put beyond siblings_max or
// object_bytes_max is LimitExceeded with the limit and the fix in its
// message, a deduplicated retry is exempt from siblings_max, expired
// siblings are dropped before a put counts them, and a merge is never
// refused; a computed write (WriteIntent's transform) writes what the
// transform makes of the current state with that state's context, and
// fails with the transform's error. Method: small hand-built states,
// checked field by field.
#include "storage/engine_op.h"

#include <gtest/gtest.h>

#include <string>

namespace trolley {
namespace {

constexpr uint64_t kNow = 1'000'000;

EngineOp BlindPut(std::string value, uint64_t write_id, ActorId actor = 1) {
  WriteIntent intent;
  intent.value = std::move(value);
  intent.write_id = write_id;
  intent.timestamp_ms = kNow;
  return EngineOp::Put(ObjectKey{"carts", "cart-1"}, std::move(intent), actor, nullptr, nullptr);
}

TEST(EngineOpTest, FactoriesValidateTheirInput) {
  EXPECT_TRUE(BlindPut("v", 1).status.ok());
  EXPECT_EQ(EngineOp::Put(ObjectKey{"", "k"}, WriteIntent{}, 1, nullptr, nullptr).status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      EngineOp::Merge(ObjectKey{"carts", std::string(kKeyBytesMax + 1, 'k')}, SiblingSet(), nullptr)
          .status.code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      EngineOp::HintAdd(Hint{"", ObjectKey{"carts", "k"}, SiblingSet(), 0}, nullptr).status.code(),
      StatusCode::kInvalidArgument);
}

TEST(EngineOpTest, PutBeyondSiblingsMaxIsRefusedWithTheFix) {
  const ObjectLimits limits{2, 1 << 20};
  SiblingSet state;
  ASSERT_TRUE(ApplyPut(state, BlindPut("a", 1), 0, limits, kNow).ok());
  const Result<WriteOutcome> second = ApplyPut(state, BlindPut("b", 2), 1, limits, kNow);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->dot.counter, 2u);
  EXPECT_EQ(state.size(), 2u);

  SiblingSet third = state;
  const Result<WriteOutcome> refused = ApplyPut(third, BlindPut("c", 3), 2, limits, kNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kLimitExceeded);
  const std::string& why = refused.status().message();
  EXPECT_NE(why.find("carts/cart-1"), std::string::npos) << why;
  EXPECT_NE(why.find("storage.siblings_max = 2"), std::string::npos) << why;
  EXPECT_NE(why.find("write back one merged value"), std::string::npos) << why;
}

TEST(EngineOpTest, DeduplicatedRetryIsExemptFromSiblingsMax) {
  SiblingSet state;
  const ObjectLimits loose{10, 1 << 20};
  ASSERT_TRUE(ApplyPut(state, BlindPut("a", 1), 0, loose, kNow).ok());
  ASSERT_TRUE(ApplyPut(state, BlindPut("b", 2), 1, loose, kNow).ok());
  // Already over a tighter limit: a retry adds nothing and is accepted...
  const ObjectLimits tight{1, 1 << 20};
  const Result<WriteOutcome> retry = ApplyPut(state, BlindPut("b", 2), 2, tight, kNow);
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_TRUE(retry->deduplicated);
  EXPECT_EQ(state.size(), 2u);
  // ...a new write is not.
  EXPECT_EQ(ApplyPut(state, BlindPut("c", 3), 2, tight, kNow).status().code(),
            StatusCode::kLimitExceeded);
}

TEST(EngineOpTest, PutBeyondObjectBytesMaxIsRefusedEvenAsARetry) {
  const ObjectLimits limits{10, 100};
  SiblingSet state;
  const Result<WriteOutcome> big =
      ApplyPut(state, BlindPut(std::string(101, 'x'), 1), 0, limits, kNow);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("storage.object_bytes_max = 100"), std::string::npos)
      << big.status().message();

  // Stored under a looser limit, then retried under this one.
  SiblingSet stored;
  ASSERT_TRUE(ApplyPut(stored, BlindPut(std::string(101, 'x'), 1), 0, {10, 1000}, kNow).ok());
  EXPECT_EQ(ApplyPut(stored, BlindPut(std::string(101, 'x'), 1), 1, limits, kNow).status().code(),
            StatusCode::kLimitExceeded);
}

TEST(EngineOpTest, ExpiredSiblingsAreDroppedBeforeAPutCountsThem) {
  SiblingSet state;
  EngineOp expiring = BlindPut("a", 1);
  expiring.intent.expiry_ms = kNow + 10;
  ASSERT_TRUE(ApplyPut(state, expiring, 0, {10, 1 << 20}, kNow).ok());
  // After the expiry, the old sibling no longer counts toward siblings_max = 1.
  const Result<WriteOutcome> later = ApplyPut(state, BlindPut("b", 2), 1, {1, 1 << 20}, kNow + 11);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(state.size(), 1u);
}

TEST(EngineOpTest, MergeJoinsAndIsNeverRefused) {
  SiblingSet a, b;
  const ObjectLimits loose{10, 1 << 20};
  ASSERT_TRUE(ApplyPut(a, BlindPut("from-1", 1, 1), 0, loose, kNow).ok());
  ASSERT_TRUE(ApplyPut(b, BlindPut("from-2", 2, 2), 0, loose, kNow).ok());
  SiblingSet joined = a;
  ApplyMerge(joined, b, kNow);
  EXPECT_EQ(joined.size(), 2u);
  EXPECT_TRUE(joined.Covers(a));
  EXPECT_TRUE(joined.Covers(b));
  // Expired siblings go, from either side.
  SiblingSet expiring;
  EngineOp op = BlindPut("short-lived", 3, 3);
  op.intent.expiry_ms = kNow + 1;
  ASSERT_TRUE(ApplyPut(expiring, op, 0, loose, kNow).ok());
  ApplyMerge(joined, expiring, kNow + 2);
  EXPECT_EQ(joined.size(), 2u);
}

// A transform that counts the visible siblings it saw and concatenates
// their values in dot order: pure, so it may run more than once.
Result<std::string> CountAndJoin(const SiblingSet& current) {
  std::string joined = std::to_string(current.Visible(kNow).size()) + ":";
  for (const Sibling* s : current.Visible(kNow)) joined += s->value;
  return joined;
}

EngineOp ComputedPut(WriteTransform transform, uint64_t write_id = 0) {
  EngineOp op = BlindPut("ignored", write_id);
  op.intent.transform = std::move(transform);
  return op;
}

TEST(EngineOpTest, ComputedPutReplacesWhatItWasComputedFrom) {
  const ObjectLimits limits{10, 1 << 20};
  SiblingSet state;
  ASSERT_TRUE(ApplyPut(state, BlindPut("a", 1, 1), 0, limits, kNow).ok());
  ASSERT_TRUE(ApplyPut(state, BlindPut("b", 2, 2), 0, limits, kNow).ok());
  ASSERT_EQ(state.size(), 2u);
  const SiblingSet before = state;

  const EngineOp op = ComputedPut(CountAndJoin);
  const Result<WriteOutcome> out = ApplyPut(state, op, 0, limits, kNow);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(state.size(), 1u) << state.DebugString();
  EXPECT_EQ(state.siblings()[0].value, "2:ab");
  EXPECT_EQ(state.siblings()[0].dot, out->dot);
  for (const Sibling& s : before.siblings())
    EXPECT_TRUE(state.context().Covers(s.dot)) << "covers its inputs";
  EXPECT_TRUE(op.intent.transform) << "the op is left as it was, for a retried batch";
  EXPECT_EQ(op.intent.value, "ignored");

  // On an absent key the transform sees an empty state.
  SiblingSet empty;
  ASSERT_TRUE(ApplyPut(empty, ComputedPut(CountAndJoin), 0, limits, kNow).ok());
  EXPECT_EQ(empty.siblings().at(0).value, "0:");
}

TEST(EngineOpTest, ComputedPutSeesNoExpiredSiblings) {
  const ObjectLimits limits{10, 1 << 20};
  SiblingSet state;
  EngineOp expiring = BlindPut("gone", 1);
  expiring.intent.expiry_ms = kNow + 1;
  ASSERT_TRUE(ApplyPut(state, expiring, 0, limits, kNow).ok());
  size_t seen = 99;
  const WriteTransform count = [&seen](const SiblingSet& current) -> Result<std::string> {
    seen = current.size();
    return std::string("v");
  };
  ASSERT_TRUE(ApplyPut(state, ComputedPut(count), 0, limits, kNow + 5).ok());
  EXPECT_EQ(seen, 0u);
}

TEST(EngineOpTest, ComputedPutFailsWithTheTransformsError) {
  const ObjectLimits limits{10, 1 << 20};
  SiblingSet state;
  ASSERT_TRUE(ApplyPut(state, BlindPut("a", 1), 0, limits, kNow).ok());
  const WriteTransform refuse = [](const SiblingSet&) -> Result<std::string> {
    return Status::LimitExceeded("cart full");
  };
  const Result<WriteOutcome> out = ApplyPut(state, ComputedPut(refuse), 1, limits, kNow);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(out.status().message(), "cart full");

  // And the object limits still apply to what it computed.
  const WriteTransform huge = [](const SiblingSet&) -> Result<std::string> {
    return std::string(200, 'x');
  };
  SiblingSet small;
  EXPECT_EQ(ApplyPut(small, ComputedPut(huge), 0, {10, 100}, kNow).status().code(),
            StatusCode::kLimitExceeded);
}

TEST(EngineOpTest, ComputedDeleteIsInvalid) {
  WriteIntent intent;
  intent.tombstone = true;
  intent.transform = CountAndJoin;
  EXPECT_EQ(
      EngineOp::Put(ObjectKey{"carts", "k"}, std::move(intent), 1, nullptr, nullptr).status.code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trolley
