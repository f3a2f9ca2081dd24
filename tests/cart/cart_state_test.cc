// Goal: each cart operation does what cart_state.h says, in both semantics:
// the merge anomalies of union+max (resurrection, collapsed "+1"s) happen
// and the OR-Set avoids them; retries change nothing; limits give errors
// that name the limit and the value, and leave the cart unchanged.
// Method: small hand-written histories of two or three devices, checked
// line by line; CheckInvariants after every step.
#include "cart/cart_state.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "tests/cart/cart_test_util.h"

namespace trolley::cart_test {
namespace {

void ExpectError(CartState& s, const Mutation& m, StatusCode code,
                 const std::vector<std::string>& words, const CartLimits& limits = kLimits) {
  const CartState before = s;
  const Status st = s.Apply(m, limits);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), code) << st.ToString();
  for (const std::string& w : words) {
    EXPECT_NE(st.message().find(w), std::string::npos) << "'" << w << "' not in: " << st.message();
  }
  EXPECT_EQ(s, before) << "a refused mutation changed the cart";
  EXPECT_FALSE(s.Applied(m.id));
}

class CartStateTest : public ::testing::TestWithParam<CartSemantics> {
 protected:
  CartState Empty() const { return CartState(GetParam()); }
  bool OrSet() const { return GetParam() == CartSemantics::kOrSet; }
};

INSTANTIATE_TEST_SUITE_P(Both, CartStateTest,
                         ::testing::Values(CartSemantics::kUnionMax, CartSemantics::kOrSet),
                         ParamName);

// ---- Single-device operations

TEST_P(CartStateTest, EmptyCart) {
  const CartState s = Empty();
  s.CheckInvariants();
  EXPECT_TRUE(s.Lines(kLimits).empty());
  EXPECT_FALSE(s.Applied(1));
  EXPECT_FALSE(s.merged_into().has_value());
  EXPECT_EQ(s.semantics(), GetParam());
}

TEST_P(CartStateTest, AddCreatesThenIncrements) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 2, kT0, {{"size", "L"}}));
  MustApply(s, Mutation::Add(2, "pear", 1, kT0));
  MustApply(s, Mutation::Add(3, "apple", 3, kT0 + 1));
  const std::vector<CartLine> lines = s.Lines(kLimits);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], (CartLine{"apple", 5, {{"size", "L"}}}));  // attributes kept
  EXPECT_EQ(lines[1], (CartLine{"pear", 1, {}}));
  EXPECT_TRUE(s.Applied(1));
  EXPECT_TRUE(s.Applied(3));
  EXPECT_FALSE(s.Applied(4));
}

TEST_P(CartStateTest, AttributesOfTheNewestMutationWin) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "shirt", 1, kT0, {{"size", "M"}}));
  MustApply(s, Mutation::Add(2, "shirt", 1, kT0 + 5, {{"size", "L"}, {"colour", "red"}}));
  EXPECT_EQ(s.Lines(kLimits)[0].attributes, (CartAttributes{{"colour", "red"}, {"size", "L"}}));
  MustApply(s, Mutation::SetQuantity(3, "shirt", 4, kT0 + 9));  // none given: kept
  EXPECT_EQ(s.Lines(kLimits)[0].quantity, 4u);
  EXPECT_EQ(s.Lines(kLimits)[0].attributes.at("size"), "L");
}

TEST_P(CartStateTest, SetQuantityOverridesAndZeroRemoves) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 2, kT0));
  MustApply(s, Mutation::SetQuantity(2, "apple", 7, kT0));
  EXPECT_EQ(Quantity(s, "apple"), 7u);
  MustApply(s, Mutation::SetQuantity(3, "apple", 1, kT0));
  EXPECT_EQ(Quantity(s, "apple"), 1u);
  MustApply(s, Mutation::SetQuantity(4, "kiwi", 3, kT0));  // set creates a line
  EXPECT_EQ(Quantity(s, "kiwi"), 3u);
  MustApply(s, Mutation::SetQuantity(5, "apple", 0, kT0));
  EXPECT_EQ(Quantity(s, "apple"), 0u);
  EXPECT_EQ(s.Lines(kLimits).size(), 1u);
}

TEST_P(CartStateTest, RemoveAndClear) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 2, kT0));
  MustApply(s, Mutation::Add(2, "pear", 2, kT0));
  MustApply(s, Mutation::Remove(3, "apple", kT0));
  EXPECT_EQ(Quantity(s, "apple"), 0u);
  EXPECT_EQ(Quantity(s, "pear"), 2u);
  MustApply(s, Mutation::Remove(4, "durian", kT0));  // absent: fine, recorded
  EXPECT_TRUE(s.Applied(4));
  MustApply(s, Mutation::Add(5, "fig", 1, kT0));
  MustApply(s, Mutation::Clear(6, kT0));
  EXPECT_TRUE(s.Lines(kLimits).empty());
  EXPECT_TRUE(s.Applied(6));
  // Every id applied, removed contributions included, in one session entry.
  EXPECT_EQ(s.context().sessions(), (std::map<uint64_t, uint32_t>{{0, 6}}));
  EXPECT_TRUE(s.context().dots().empty());
  MustApply(s, Mutation::Add(7, "apple", 1, kT0));  // a removed sku can come back by a new add
  EXPECT_EQ(Quantity(s, "apple"), 1u);
}

TEST_P(CartStateTest, RetryChangesNothing) {
  CartState s = Empty();
  const std::vector<Mutation> ms = {Mutation::Add(11, "apple", 2, kT0),
                                    Mutation::SetQuantity(12, "pear", 3, kT0),
                                    Mutation::Add(13, "apple", 1, kT0),
                                    Mutation::Remove(14, "pear", kT0), Mutation::Clear(15, kT0)};
  for (const Mutation& m : ms) {
    MustApply(s, m);
    const CartState once = s;
    MustApply(s, m);
    EXPECT_EQ(s, once) << "retry of " << m.id;
    if (m.kind != Mutation::Kind::kClear) {
      for (const Mutation& earlier : ms) {
        if (earlier.id > m.id) break;
        MustApply(s, earlier);
        EXPECT_EQ(s, once) << "late retry of " << earlier.id;
      }
    }
  }
}

// ---- Limits and errors

TEST_P(CartStateTest, MalformedMutationsAreInvalidArgument) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 1, kT0));
  ExpectError(s, Mutation::Add(0, "apple", 1, kT0), StatusCode::kInvalidArgument, {"id 0"});
  ExpectError(s, Mutation::Add(2, "", 1, kT0), StatusCode::kInvalidArgument, {"empty sku"});
  ExpectError(s, Mutation::Add(2, "apple", 0, kT0), StatusCode::kInvalidArgument, {"quantity 0"});
  ExpectError(s, Mutation::Remove(2, "", kT0), StatusCode::kInvalidArgument, {"empty sku"});
  Mutation remove_with_quantity = Mutation::Remove(2, "apple", kT0);
  remove_with_quantity.quantity = 3;
  ExpectError(s, remove_with_quantity, StatusCode::kInvalidArgument, {"no quantity"});
  Mutation clear_with_sku = Mutation::Clear(2, kT0);
  clear_with_sku.sku = "apple";
  ExpectError(s, clear_with_sku, StatusCode::kInvalidArgument, {"no sku", "'apple'"});
  ExpectError(s, Mutation::Add(2, "apple", 1, kT0, {{"", "x"}}), StatusCode::kInvalidArgument,
              {"empty key"});
}

TEST_P(CartStateTest, LimitsNameTheLimitAndTheValue) {
  CartState s = Empty();
  CartLimits limits;
  limits.lines_max = 2;
  MustApply(s, Mutation::Add(1, "apple", 1, kT0), limits);
  MustApply(s, Mutation::Add(2, "pear", 1, kT0), limits);
  ExpectError(s, Mutation::Add(3, "kiwi", 1, kT0), StatusCode::kLimitExceeded,
              {"lines_max = 2", "'kiwi'", "2 lines"}, limits);
  ExpectError(s, Mutation::SetQuantity(3, "kiwi", 1, kT0), StatusCode::kLimitExceeded,
              {"lines_max = 2"}, limits);
  MustApply(s, Mutation::Add(3, "apple", 1, kT0), limits);  // an existing line is fine

  ExpectError(s, Mutation::SetQuantity(4, "apple", 1000, kT0), StatusCode::kLimitExceeded,
              {"quantity_max = 999", "1000", "'apple'"});
  ExpectError(s, Mutation::Add(4, "apple", 1000, kT0), StatusCode::kLimitExceeded,
              {"quantity_max = 999", "1000"});
  ExpectError(s, Mutation::Add(4, std::string(129, 's'), 1, kT0), StatusCode::kLimitExceeded,
              {"sku_bytes_max = 128", "129 bytes"});
  CartAttributes many;
  for (int i = 0; i < 9; ++i) many["k" + std::to_string(i)] = "v";
  ExpectError(s, Mutation::Add(4, "apple", 1, kT0, many), StatusCode::kLimitExceeded,
              {"attributes_max = 8", "9 attributes"});
  ExpectError(s, Mutation::Add(4, "apple", 1, kT0, {{"note", std::string(253, 'x')}}),
              StatusCode::kLimitExceeded, {"attribute_bytes_max = 256", "257 bytes"});
  // Exactly at each limit is fine.
  CartAttributes eight;
  for (int i = 0; i < 8; ++i) eight["k" + std::to_string(i)] = "v";
  MustApply(s, Mutation::Add(5, "apple", 1, kT0, eight));
  MustApply(s, Mutation::SetQuantity(6, "pear", 999, kT0, {{"note", std::string(252, 'x')}}));
}

TEST_P(CartStateTest, SkuInErrorsIsEscapedAndCut) {
  CartState s = Empty();
  const std::string sku = std::string("a\n'\x01", 4) + std::string(300, 'z');
  const Status st = s.Apply(Mutation::Add(1, sku, 1, kT0), kLimits);
  ASSERT_EQ(st.code(), StatusCode::kLimitExceeded);
  EXPECT_NE(st.message().find("'a\\x0a\\x27\\x01zz"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("(304 bytes)"), std::string::npos) << st.message();
  EXPECT_LT(st.message().size(), 250u);
}

TEST_P(CartStateTest, AddsAreCappedNotRefused) {
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 990, kT0));
  MustApply(s, Mutation::Add(2, "apple", 20, kT0));
  EXPECT_EQ(Quantity(s, "apple"), 999u);
  const CartState full = s;
  MustApply(s, Mutation::Add(3, "apple", 1, kT0));  // a "+1" click on a full line
  EXPECT_EQ(Quantity(s, "apple"), 999u);
  EXPECT_TRUE(s.Applied(3));
  EXPECT_EQ(s.lines(), full.lines());
  MustApply(s, Mutation::SetQuantity(4, "apple", 999, kT0));  // set at the max is fine
}

TEST_P(CartStateTest, EncodedSizeLimitRefusesGrowthOnly) {
  CartState s = Empty();
  CartLimits limits;
  MustApply(s, Mutation::Add(1, "apple", 1, kT0), limits);
  MustApply(s, Mutation::Add(2, "pear", 1, kT0), limits);
  limits.encoded_bytes_max = s.EncodedBytes();
  ExpectError(s, Mutation::Add(3, "kiwi-with-a-long-name", 1, kT0), StatusCode::kLimitExceeded,
              {"encoded_bytes_max = " + std::to_string(limits.encoded_bytes_max), "in the context"},
              limits);
  MustApply(s, Mutation::Remove(4, "pear", kT0), limits);  // shrinks: always accepted
  EXPECT_LE(s.EncodedBytes(), limits.encoded_bytes_max);
  EXPECT_EQ(s.EncodedBytes(), s.Encode().size());
}

// ---- Idempotence: the context

TEST_P(CartStateTest, ContextHoldsEveryAppliedIdCompactly) {
  CartState s = Empty();
  for (uint64_t id = 1; id <= 5; ++id) {
    MustApply(s, Mutation::Remove(id, "sku" + std::to_string(id), kT0 + id));
  }
  EXPECT_EQ(s.context().sessions(), (std::map<uint64_t, uint32_t>{{0, 5}}));
  // An id ahead of its session waits in the cloud until the gap fills.
  MustApply(s, Mutation::Clear(MutationIdOf(0, 9), kT0));
  EXPECT_EQ(s.context().dots(), (std::set<uint64_t>{9}));
  for (uint64_t id = 6; id <= 8; ++id) MustApply(s, Mutation::Clear(id, kT0));
  EXPECT_EQ(s.context().sessions(), (std::map<uint64_t, uint32_t>{{0, 9}}));
  EXPECT_TRUE(s.context().dots().empty());
  for (uint64_t id = 1; id <= 9; ++id) EXPECT_TRUE(s.Applied(id)) << id;
  EXPECT_FALSE(s.Applied(10));
  EXPECT_FALSE(s.Applied(MutationIdOf(1, 1)));
}

// Any retry, however old, is absorbed: there is no window to fall out of.
TEST_P(CartStateTest, RetryOfAnyEarlierMutationChangesNothing) {
  CartState s = Empty();
  CartLimits limits;
  limits.quantity_max = 2;
  MustApply(s, Mutation::Add(1, "apple", 2, kT0), limits);
  MustApply(s, Mutation::SetQuantity(2, "pear", 1, kT0), limits);
  MustApply(s, Mutation::Add(3, "apple", 1, kT0), limits);  // capped out
  MustApply(s, Mutation::Remove(4, "pear", kT0), limits);
  for (uint64_t id = 5; id < 3000; ++id) {
    MustApply(s, Mutation::Add(id, "kiwi" + std::to_string(id % 7), 1, kT0 + id), limits);
  }
  const CartState before = s;
  MustApply(s, Mutation::Add(1, "apple", 2, kT0), limits);
  MustApply(s, Mutation::SetQuantity(2, "pear", 1, kT0), limits);  // its line was removed
  MustApply(s, Mutation::Add(3, "apple", 1, kT0), limits);
  MustApply(s, Mutation::Remove(4, "pear", kT0), limits);
  EXPECT_EQ(s, before);
}

// ---- Merge: common laws

TEST_P(CartStateTest, MergeOfNothingIsEmptyAndOfOneIsItself) {
  EXPECT_EQ(CartState::Merge(GetParam(), {}), Empty());
  CartState s = Empty();
  MustApply(s, Mutation::Add(1, "apple", 2, kT0));
  MustApply(s, Mutation::Remove(2, "apple", kT0));
  MustApply(s, Mutation::Add(3, "pear", 2, kT0, {{"ripe", "yes"}}));
  ASSERT_TRUE(s.MarkMergedInto("user-7").ok());
  EXPECT_EQ(MergeOf({s}), s);
  EXPECT_EQ(MergeOf({s, s, s}), s);
}

TEST_P(CartStateTest, MergeIsOrderIndependentToTheByte) {
  CartState a = Empty(), b = Empty(), c = Empty();
  MustApply(a, Mutation::Add(1, "apple", 2, kT0, {{"size", "S"}}));
  MustApply(b, Mutation::Add(2, "apple", 2, kT0, {{"size", "M"}}));
  MustApply(c, Mutation::Add(3, "apple", 1, kT0 + 1));
  MustApply(c, Mutation::Add(4, "pear", 1, kT0 + 1));
  MustApply(a, Mutation::Remove(5, "apple", kT0 + 2));
  const std::string bytes = MergeOf({a, b, c}).Encode();
  for (const auto& order :
       std::vector<std::vector<CartState>>{{a, c, b}, {b, a, c}, {b, c, a}, {c, a, b}, {c, b, a}}) {
    EXPECT_EQ(MergeOf(order).Encode(), bytes);
  }
  EXPECT_EQ(MergeOf({MergeOf({a, b}), c}).Encode(), bytes);
  EXPECT_EQ(MergeOf({a, MergeOf({c, b})}).Encode(), bytes);
}

TEST_P(CartStateTest, RetryAfterMergingASiblingThatAppliedIt) {
  CartState a = Empty(), b = Empty();
  MustApply(a, Mutation::Add(1, "apple", 1, kT0));
  MustApply(b, Mutation::Add(1, "apple", 1, kT0));
  b = MergeOf({a, b});
  const Mutation plus = Mutation::Add(7, "apple", 1, kT0 + 1);
  MustApply(a, plus);  // device A applied it; B did not, and the client retried on B later
  CartState merged = MergeOf({a, b});
  const CartState before = merged;
  MustApply(merged, plus);
  EXPECT_EQ(merged, before);
  EXPECT_EQ(Quantity(merged, "apple"), 2u);
  // The retry reached B before B heard of A: both applied it once; the
  // merge counts it once.
  MustApply(b, plus);
  EXPECT_EQ(Quantity(MergeOf({a, b}), "apple"), 2u);
  const Mutation remove = Mutation::Remove(8, "apple", kT0 + 2);
  MustApply(a, remove);
  merged = MergeOf({a, b});
  const CartState after_remove = merged;
  MustApply(merged, remove);
  EXPECT_EQ(merged, after_remove);
}

// ---- Guest-merge mark

TEST_P(CartStateTest, MergedIntoMark) {
  CartState s = Empty();
  EXPECT_EQ(s.MarkMergedInto("").code(), StatusCode::kInvalidArgument);
  const Status long_key = s.MarkMergedInto(std::string(kCartKeyBytesMax + 1, 'k'));
  EXPECT_EQ(long_key.code(), StatusCode::kLimitExceeded);
  EXPECT_NE(long_key.message().find(std::to_string(kCartKeyBytesMax + 1) + " bytes"),
            std::string::npos)
      << long_key.message();
  EXPECT_FALSE(s.merged_into().has_value());
  ASSERT_TRUE(s.MarkMergedInto("user-b").ok());
  EXPECT_EQ(s.merged_into(), "user-b");
  CartState other = Empty();
  ASSERT_TRUE(other.MarkMergedInto("user-a").ok());
  CartState unmarked = Empty();
  MustApply(unmarked, Mutation::Add(1, "apple", 1, kT0));
  EXPECT_EQ(MergeOf({unmarked, s}).merged_into(), "user-b");
  EXPECT_EQ(MergeOf({other, s}).merged_into(), "user-b");  // the greatest key
  EXPECT_EQ(MergeOf({s, other}).merged_into(), "user-b");
  MustApply(s, Mutation::Add(2, "pear", 1, kT0));  // still writable
}

TEST(MutationKindNameTest, EveryKindHasItsName) {
  EXPECT_EQ(MutationKindName(Mutation::Kind::kAdd), "add");
  EXPECT_EQ(MutationKindName(Mutation::Kind::kSetQuantity), "set_quantity");
  EXPECT_EQ(MutationKindName(Mutation::Kind::kRemove), "remove");
  EXPECT_EQ(MutationKindName(Mutation::Kind::kClear), "clear");
}

// ---- union+max: Dynamo's anomalies, shown

TEST(UnionMaxTest, MergeTakesTheUnionWithTheLargestQuantity) {
  CartState a(CartSemantics::kUnionMax), b(CartSemantics::kUnionMax);
  MustApply(a, Mutation::Add(1, "apple", 3, kT0));
  MustApply(a, Mutation::Add(2, "pear", 1, kT0));
  MustApply(b, Mutation::Add(3, "apple", 5, kT0));
  MustApply(b, Mutation::Add(4, "kiwi", 2, kT0));
  const CartState m = MergeOf({a, b});
  EXPECT_EQ(Quantity(m, "apple"), 5u);
  EXPECT_EQ(Quantity(m, "pear"), 1u);
  EXPECT_EQ(Quantity(m, "kiwi"), 2u);
}

// The dedicated resurrection test: a remove on one device, a concurrent
// sibling that still has the line, and the line is back after the merge.
TEST(UnionMaxTest, ConcurrentSiblingResurrectsARemovedLine) {
  CartState a(CartSemantics::kUnionMax);
  MustApply(a, Mutation::Add(1, "apple", 2, kT0));
  CartState b = a;  // both devices read the same cart
  MustApply(a, Mutation::Remove(2, "apple", kT0 + 1));
  EXPECT_EQ(Quantity(a, "apple"), 0u);
  MustApply(b, Mutation::Add(3, "pear", 1, kT0 + 1));  // B never touched apple
  const CartState merged = MergeOf({a, b});
  EXPECT_EQ(Quantity(merged, "apple"), 2u) << "resurrected, as Dynamo §6.1 says";
  EXPECT_TRUE(merged.Applied(2));  // the remove is applied, and undone
  // A lowered quantity comes back up the same way.
  CartState c = merged;
  CartState d = merged;
  MustApply(c, Mutation::SetQuantity(4, "apple", 1, kT0 + 2));
  EXPECT_EQ(Quantity(MergeOf({c, d}), "apple"), 2u);
}

TEST(UnionMaxTest, ConcurrentPlusOnesCollapse) {
  CartState a(CartSemantics::kUnionMax);
  MustApply(a, Mutation::Add(1, "apple", 1, kT0));
  CartState b = a;
  MustApply(a, Mutation::Add(2, "apple", 1, kT0 + 1));
  MustApply(b, Mutation::Add(3, "apple", 1, kT0 + 1));
  EXPECT_EQ(Quantity(MergeOf({a, b}), "apple"), 2u) << "two clicks, one counted";
}

TEST(UnionMaxTest, EqualQuantitiesPickTheNewestDeterministically) {
  CartState a(CartSemantics::kUnionMax), b(CartSemantics::kUnionMax);
  MustApply(a, Mutation::Add(1, "shirt", 1, kT0 + 10, {{"size", "M"}}));
  MustApply(b, Mutation::Add(2, "shirt", 1, kT0, {{"size", "L"}}));
  EXPECT_EQ(MergeOf({a, b}).Lines(kLimits)[0].attributes.at("size"), "M");
  EXPECT_EQ(MergeOf({b, a}), MergeOf({a, b}));
}

// ---- OR-Set: what the anomalies become

TEST(OrSetTest, ConcurrentPlusOnesBothCount) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 1, kT0));
  CartState b = a;
  MustApply(a, Mutation::Add(2, "apple", 1, kT0 + 1));
  MustApply(b, Mutation::Add(3, "apple", 1, kT0 + 1));
  EXPECT_EQ(Quantity(MergeOf({a, b}), "apple"), 3u);
}

TEST(OrSetTest, ObservedRemoveNeverComesBack) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 2, kT0));
  CartState stale = a;
  MustApply(a, Mutation::Remove(2, "apple", kT0 + 1));
  CartState merged = MergeOf({a, stale});
  EXPECT_EQ(Quantity(merged, "apple"), 0u);
  EXPECT_EQ(Quantity(MergeOf({stale, merged, stale}), "apple"), 0u);
  // A retry of the add through the stale device does not bring it back.
  MustApply(stale, Mutation::Add(1, "apple", 2, kT0));
  MustApply(merged, Mutation::Add(1, "apple", 2, kT0));
  EXPECT_EQ(Quantity(MergeOf({merged, stale}), "apple"), 0u);
}

TEST(OrSetTest, ConcurrentAddSurvivesAnUnobservingRemove) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 2, kT0));
  CartState b = a;
  MustApply(a, Mutation::Remove(2, "apple", kT0 + 1));
  MustApply(b, Mutation::Add(3, "apple", 1, kT0 + 1));
  EXPECT_EQ(Quantity(MergeOf({a, b}), "apple"), 1u) << "only the unobserved +1 is left";
}

TEST(OrSetTest, SetRemovesWhatItObservedAndKeepsConcurrentAdds) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 2, kT0));
  MustApply(a, Mutation::Add(2, "apple", 3, kT0));
  CartState b = a;
  CartState c = a;
  MustApply(a, Mutation::SetQuantity(3, "apple", 4, kT0 + 1));
  EXPECT_EQ(Quantity(a, "apple"), 4u);
  MustApply(b, Mutation::Add(4, "apple", 1, kT0 + 1));
  EXPECT_EQ(Quantity(MergeOf({a, b}), "apple"), 5u) << "set 4 + the concurrent +1";
  MustApply(c, Mutation::SetQuantity(5, "apple", 9, kT0 + 1));
  EXPECT_EQ(Quantity(MergeOf({a, c}), "apple"), 9u) << "concurrent sets: the largest";
  EXPECT_EQ(Quantity(MergeOf({a, b, c}), "apple"), 10u);
}

// ---- Removals that carry the tags they observed (Mutation::observed)

Mutation Observing(Mutation m, std::vector<uint64_t> tags) {
  m.observed = std::move(tags);
  return m;
}

TEST(OrSetObservedTest, StaleCopyStillRemovesEverythingTheShopperSaw) {
  CartState shopper(CartSemantics::kOrSet);
  MustApply(shopper, Mutation::Add(1, "apple", 2, kT0));
  CartState stale = shopper;  // a coordinator that missed the next add
  MustApply(shopper, Mutation::Add(2, "apple", 3, kT0));
  const std::vector<uint64_t> seen = shopper.ObservedTags(nullptr);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  MustApply(stale, Observing(Mutation::Remove(3, "apple", kT0 + 1), seen));
  EXPECT_EQ(Quantity(stale, "apple"), 0u);
  EXPECT_TRUE(stale.context().Covers(2)) << "2 is in the context before its add arrives";
  EXPECT_TRUE(stale.lines().empty());
  EXPECT_EQ(Quantity(MergeOf({stale, shopper}), "apple"), 0u)
      << "the add the stale copy lacked is removed when it arrives";
}

TEST(OrSetObservedTest, NewerCopyKeepsTheAddTheShopperDidNotSee) {
  CartState shopper(CartSemantics::kOrSet);
  MustApply(shopper, Mutation::Add(1, "apple", 2, kT0));
  CartState newer = shopper;
  MustApply(newer, Mutation::Add(2, "apple", 1, kT0 + 1));  // another device
  MustApply(newer, Observing(Mutation::Remove(3, "apple", kT0 + 2), shopper.ObservedTags(nullptr)));
  EXPECT_EQ(Quantity(newer, "apple"), 1u) << "only what the shopper saw goes";
  MustApply(newer, Observing(Mutation::SetQuantity(4, "apple", 5, kT0 + 3), {}));
  EXPECT_EQ(Quantity(newer, "apple"), 6u) << "a set that saw nothing keeps the +1 beside it";
}

TEST(OrSetObservedTest, RemoveLeavesTagsOfOtherLinesAndClearTakesThemAll) {
  CartState s(CartSemantics::kOrSet);
  MustApply(s, Mutation::Add(1, "apple", 2, kT0));
  MustApply(s, Mutation::Add(2, "pear", 1, kT0));
  MustApply(s, Observing(Mutation::Remove(3, "apple", kT0 + 1), {1, 2}));
  EXPECT_EQ(Quantity(s, "apple"), 0u);
  EXPECT_EQ(Quantity(s, "pear"), 1u) << "tag 2 is live in another line: left alone";
  MustApply(s, Mutation::Add(4, "plum", 1, kT0 + 2));
  MustApply(s, Observing(Mutation::Clear(5, kT0 + 3), {2, 9}));
  EXPECT_EQ(Quantity(s, "pear"), 0u);
  EXPECT_EQ(Quantity(s, "plum"), 1u) << "not observed by the clear";
  // Retried: nothing more.
  const CartState before = s;
  MustApply(s, Observing(Mutation::Clear(5, kT0 + 3), {4}));
  EXPECT_EQ(s, before);
}

TEST(OrSetObservedTest, ObservedTagsAreValidated) {
  CartState s(CartSemantics::kOrSet);
  ExpectError(s, Observing(Mutation::Remove(3, "apple", kT0), {0}), StatusCode::kInvalidArgument,
              {"tag 0"});
  ExpectError(s, Observing(Mutation::Remove(3, "apple", kT0), {3}), StatusCode::kInvalidArgument,
              {"its own id"});
  ExpectError(s, Observing(Mutation::Add(3, "apple", 1, kT0), {1}), StatusCode::kInvalidArgument,
              {"an add takes no observed tags"});
  CartLimits small = kLimits;
  small.observed_tags_max = 2;
  ExpectError(s, Observing(Mutation::Clear(3, kT0), {1, 2, 4}), StatusCode::kLimitExceeded,
              {"observed_tags_max = 2"}, small);
  CartState u(CartSemantics::kUnionMax);
  ExpectError(u, Observing(Mutation::Remove(3, "apple", kT0), {1}), StatusCode::kInvalidArgument,
              {"only an or-set cart"});
}

TEST(OrSetTest, ClearKeepsConcurrentAdds) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 2, kT0));
  MustApply(a, Mutation::Add(2, "pear", 1, kT0));
  CartState b = a;
  MustApply(a, Mutation::Clear(3, kT0 + 1));
  MustApply(b, Mutation::Add(4, "kiwi", 1, kT0 + 1));
  MustApply(b, Mutation::Add(5, "pear", 1, kT0 + 1));
  const CartState m = MergeOf({a, b});
  EXPECT_EQ(Quantity(m, "apple"), 0u);
  EXPECT_EQ(Quantity(m, "pear"), 1u);
  EXPECT_EQ(Quantity(m, "kiwi"), 1u);
}

TEST(OrSetTest, ConcurrentAddsPastTheMaxAreCappedWhenShown) {
  CartState a(CartSemantics::kOrSet);
  MustApply(a, Mutation::Add(1, "apple", 900, kT0));
  CartState b = a;
  MustApply(a, Mutation::Add(2, "apple", 90, kT0));
  MustApply(b, Mutation::Add(3, "apple", 90, kT0));
  const CartState m = MergeOf({a, b});
  EXPECT_EQ(Quantity(m, "apple"), 999u);
  CartLimits bigger;
  bigger.quantity_max = 5000;
  EXPECT_EQ(Quantity(m, "apple", bigger), 1080u);
  CartState n = m;
  MustApply(n, Mutation::Add(4, "apple", 1, kT0));  // over the max: applied, adds nothing
  EXPECT_EQ(n.lines(), m.lines());
}

// The issue-15 measurement: one shopper adding and removing one sku. With
// ids numbered by a session, the empty cart stays a few dozen bytes
// (version 2 kept a tombstone per add: 128 KB after 14,000 cycles).
TEST(OrSetTest, TwentyThousandAddRemoveCyclesLeaveASmallCart) {
  CartState s(CartSemantics::kOrSet);
  CartSession session(0x5e55);
  for (int cycle = 0; cycle < 20'000; ++cycle) {
    if (session.exhausted()) session = CartSession(session.session() + 1);
    MustApply(s, Mutation::Add(session.Next(), "apple", 1, kT0 + cycle));
    const std::vector<uint64_t> seen = s.ObservedTags(nullptr);
    Mutation remove = Mutation::Remove(session.Next(), "apple", kT0 + cycle);
    remove.observed = seen;
    MustApply(s, remove);
  }
  EXPECT_TRUE(s.lines().empty());
  const size_t bytes = s.Encode().size();
  std::printf("20,000 add/remove cycles: empty cart of %zu bytes\n", bytes);
  EXPECT_LT(bytes, 1024u);
  EXPECT_EQ(bytes, s.EncodedBytes());
}

// Ids that no session numbers (random, derived by hashing) cost 8 bytes
// each for good; the size limit refuses growth past it and says why.
TEST(OrSetTest, UnnumberedIdsGrowTheContextAndTheSizeLimitSaysSo) {
  CartState s(CartSemantics::kOrSet);
  CartLimits limits;
  limits.encoded_bytes_max = 4096;
  Random rng(15);
  Status st;
  for (int i = 0; i < 10'000 && st.ok(); ++i) {
    st = s.Apply(Mutation::Add(rng.Next() | 1, "apple", 1, kT0 + i), limits);
    if (st.ok()) st = s.Apply(Mutation::Remove(rng.Next() | 1, "apple", kT0 + i), limits);
  }
  ASSERT_EQ(st.code(), StatusCode::kLimitExceeded);
  EXPECT_NE(st.message().find("encoded_bytes_max = 4096"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("other ids in the context"), std::string::npos) << st.message();
  EXPECT_GT(s.context().dots().size(), 300u);
  EXPECT_LE(s.EncodedBytes(), 4096u);
}

}  // namespace
}  // namespace trolley::cart_test
