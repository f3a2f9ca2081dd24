// Goal: a guest-cart merge coordinated on the node (node/cart_update.h,
// kMergeGuest and kMarkMerged) gives exactly what the client-side merge
// gives for the same carts, in both semantics and every strategy; a stale
// coordinator removes nothing; a retry, on the same copy or through
// another coordinator, changes nothing; a guest state that is malformed or
// over the limits is refused before anything is written, saying what to do.
// Method: seeded random user carts split over siblings and random guest
// carts, through CartWriteOf's transform, against MergeGuestCart on the
// merged siblings; hand-built stale copies and bad guest states.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cart/guest_merge.h"
#include "common/random.h"
#include "node/cart_update.h"
#include "wire/cart_mutation.h"

namespace trolley {
namespace {

constexpr uint64_t kMergeNow = 1'700'000'000'000;
constexpr uint64_t kMergeId = 0x5eed;
const CartLimits kLimits{};

NamespaceOptions Namespace(CartSemantics semantics) {
  return NamespaceOptions{
      "carts", 3, 2, 2, 60'000, semantics == CartSemantics::kOrSet ? "or-set" : "union-max"};
}

SiblingSet SiblingsOf(const std::vector<CartState>& carts) {
  SiblingSet s;
  uint64_t actor = 1;
  for (const CartState& cart : carts) {
    WriteIntent w;
    w.value = cart.Encode();
    s.ApplyWrite(std::move(w), actor++, 0);  // no context: concurrent siblings
  }
  return s;
}

// The user cart after the node's merge of `guest` into `copy`.
Result<CartState> NodeMerge(const CartState& guest, const SiblingSet& copy,
                            GuestMergeStrategy strategy, CartSemantics semantics) {
  CartUpdate m = GuestMergeUpdateOf("carts", "u", guest, strategy, kMergeId, kMergeNow);
  Result<CoordinatedWrite> w = CartWriteOf(m, Namespace(semantics), kMergeNow + 7);
  if (!w.ok()) return w.status();
  Result<std::string> bytes = w->intent.transform(copy);
  if (!bytes.ok()) return bytes.status();
  return CartState::Decode(*bytes, semantics);
}

CartState RandomCart(Random& rng, CartSemantics semantics, uint64_t session) {
  CartState cart(semantics);
  CartSession ids(session);
  const uint64_t mutations = rng.Uniform(6);
  for (uint64_t i = 0; i < mutations; ++i) {
    const std::string sku = "sku-" + std::to_string(rng.Uniform(5));
    const auto q = static_cast<uint32_t>(rng.Range(1, 4));
    const Mutation m = rng.Chance(0.8) ? Mutation::Add(ids.Next(), sku, q, kMergeNow)
                                       : Mutation::Remove(ids.Next(), sku, kMergeNow);
    EXPECT_TRUE(cart.Apply(m, kLimits).ok());
  }
  return cart;
}

class GuestMergeUpdateTest : public ::testing::TestWithParam<CartSemantics> {};

std::string SemanticsName(const ::testing::TestParamInfo<CartSemantics>& param) {
  return param.param == CartSemantics::kOrSet ? "OrSet" : "UnionMax";
}

INSTANTIATE_TEST_SUITE_P(Both, GuestMergeUpdateTest,
                         ::testing::Values(CartSemantics::kUnionMax, CartSemantics::kOrSet),
                         SemanticsName);

TEST_P(GuestMergeUpdateTest, SameResultAsTheClientSideMerge) {
  const CartSemantics semantics = GetParam();
  Random rng(20);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const CartState guest = RandomCart(rng, semantics, 0x61);
    std::vector<CartState> user_siblings;
    const uint64_t siblings = rng.Range(0, 3);
    for (uint64_t i = 0; i < siblings; ++i) {
      user_siblings.push_back(RandomCart(rng, semantics, 0x100 + i));
    }
    const CartState user = CartState::Merge(semantics, user_siblings);
    const auto strategy = static_cast<GuestMergeStrategy>(rng.Uniform(3));
    // The client-side path read the merged user cart and applied the merge
    // with its own clock; the node uses the update's (the client's) clock.
    Result<CartState> client = MergeGuestCart(guest, user, strategy, kLimits, kMergeId, kMergeNow);
    Result<CartState> node = NodeMerge(guest, SiblingsOf(user_siblings), strategy, semantics);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    EXPECT_EQ(node->Encode(), client->Encode()) << "node:\n"
                                                << node->DebugString() << "client:\n"
                                                << client->DebugString();
  }
}

// A coordinator whose copy missed an add merges against what it holds; the
// missed add still counts once the copies merge, since a merge only adds.
TEST_P(GuestMergeUpdateTest, StaleCoordinatorRemovesNothing) {
  const CartSemantics semantics = GetParam();
  CartState guest(semantics);
  ASSERT_TRUE(guest.Apply(Mutation::Add(1, "apple", 5, kMergeNow), kLimits).ok());
  ASSERT_TRUE(guest.Apply(Mutation::Add(2, "pear", 1, kMergeNow), kLimits).ok());
  CartState stale(semantics);  // the coordinator's copy of the user cart
  ASSERT_TRUE(stale.Apply(Mutation::Add(11, "apple", 2, kMergeNow), kLimits).ok());
  CartState fresh = stale;  // another replica: an add the coordinator missed
  ASSERT_TRUE(fresh.Apply(Mutation::Add(12, "apple", 1, kMergeNow + 1), kLimits).ok());

  Result<CartState> merged =
      NodeMerge(guest, SiblingsOf({stale}), GuestMergeStrategy::kMax, semantics);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const CartState both = CartState::Merge(semantics, std::vector{*merged, fresh});
  const std::vector<CartLine> lines = both.Lines(kLimits);
  ASSERT_EQ(lines.size(), 2u) << both.DebugString();
  EXPECT_EQ(lines[1].sku, "pear");
  if (semantics == CartSemantics::kOrSet) {
    EXPECT_TRUE(both.HasLiveTag(12)) << "the missed add survives";
    EXPECT_EQ(lines[0].quantity, 6u) << "max(2, 5) at the coordinator, plus the missed 1";
  } else {
    EXPECT_EQ(lines[0].quantity, 5u) << "union+max: the larger quantity";
  }
}

// The same merge again, on the merged copy or through a coordinator that
// never saw the first, changes nothing once the copies merge.
TEST_P(GuestMergeUpdateTest, RetryChangesNothing) {
  const CartSemantics semantics = GetParam();
  CartState guest(semantics);
  ASSERT_TRUE(guest.Apply(Mutation::Add(1, "apple", 3, kMergeNow), kLimits).ok());
  ASSERT_TRUE(guest.Apply(Mutation::Add(2, "kiwi", 2, kMergeNow), kLimits).ok());
  CartState user(semantics);
  ASSERT_TRUE(user.Apply(Mutation::Add(11, "apple", 1, kMergeNow), kLimits).ok());
  for (GuestMergeStrategy strategy :
       {GuestMergeStrategy::kSum, GuestMergeStrategy::kMax, GuestMergeStrategy::kKeepUser}) {
    SCOPED_TRACE(std::string(GuestMergeStrategyName(strategy)));
    Result<CartState> first = NodeMerge(guest, SiblingsOf({user}), strategy, semantics);
    ASSERT_TRUE(first.ok());
    Result<CartState> again = NodeMerge(guest, SiblingsOf({*first}), strategy, semantics);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->Encode(), first->Encode()) << "a retry on the same copy";
    Result<CartState> elsewhere = NodeMerge(guest, SiblingsOf({user}), strategy, semantics);
    ASSERT_TRUE(elsewhere.ok());
    const CartState joined = CartState::Merge(semantics, std::vector{*first, *elsewhere});
    EXPECT_EQ(joined.Encode(), first->Encode())
        << "a retry through another node: the same ids, one contribution each";
  }
}

TEST_P(GuestMergeUpdateTest, UnionMaxAndOrSetAreBothCoordinatedOnTheNode) {
  CartUpdate m = GuestMergeUpdateOf("carts", "u", CartState(GetParam()), GuestMergeStrategy::kSum,
                                    9, kMergeNow);
  EXPECT_TRUE(CartWriteOf(m, Namespace(GetParam()), kMergeNow).ok());
  m = MarkMergedUpdateOf("carts", "g", "carts/u", 9, kMergeNow);
  EXPECT_TRUE(CartWriteOf(m, Namespace(GetParam()), kMergeNow).ok());
}

TEST(GuestMergeUpdateRefusals, MalformedOrOversizedGuestIsRefusedSayingWhy) {
  const NamespaceOptions ns = Namespace(CartSemantics::kOrSet);
  CartUpdate m = GuestMergeUpdateOf("carts", "u", CartState(CartSemantics::kOrSet),
                                    GuestMergeStrategy::kSum, kMergeId, kMergeNow);
  struct Case {
    std::string what, guest;
    StatusCode code;
    std::string message_has;
  };
  CartState union_max(CartSemantics::kUnionMax);
  ASSERT_TRUE(union_max.Apply(Mutation::Add(1, "apple", 1, kMergeNow), kLimits).ok());
  CartState many(CartSemantics::kOrSet);
  for (uint64_t i = 1; i <= kLimits.lines_max + 1; ++i) {
    // Built past lines_max under looser limits, as a guest cart never is.
    CartLimits loose = kLimits;
    loose.lines_max = 1000;
    ASSERT_TRUE(many.Apply(Mutation::Add(i, "sku-" + std::to_string(i), 1, kMergeNow), loose).ok());
  }
  const std::vector<Case> cases = {
      {"not a cart", "not a cart", StatusCode::kInvalidArgument,
       "the guest cart sent is not a or-set cart"},
      {"the other semantics", union_max.Encode(), StatusCode::kInvalidArgument,
       "from a namespace of the same semantics"},
      {"over lines_max", many.Encode(), StatusCode::kLimitExceeded, "above lines_max = 200"},
      {"over encoded_bytes_max", std::string(kLimits.encoded_bytes_max + 1, 'x'),
       StatusCode::kLimitExceeded, "above encoded_bytes_max"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    m.guest = c.guest;
    const Status s = CartWriteOf(m, ns, kMergeNow).status();
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_NE(s.message().find(c.message_has), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("guest merge into carts/u"), std::string::npos) << s.message();
  }
}

TEST(GuestMergeUpdateRefusals, MergePastLinesMaxIsRefusedByTheTransform) {
  CartState user(CartSemantics::kOrSet), guest(CartSemantics::kOrSet);
  for (uint64_t i = 1; i <= kLimits.lines_max; ++i) {
    ASSERT_TRUE(user.Apply(Mutation::Add(i, "u-" + std::to_string(i), 1, kMergeNow), kLimits).ok());
  }
  ASSERT_TRUE(guest.Apply(Mutation::Add(1, "g-1", 1, kMergeNow), kLimits).ok());
  Result<CartState> r =
      NodeMerge(guest, SiblingsOf({user}), GuestMergeStrategy::kSum, CartSemantics::kOrSet);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kLimitExceeded);
  EXPECT_NE(r.status().message().find("lines_max = 200"), std::string::npos)
      << r.status().message();
}

TEST(GuestMergeUpdateMark, MarksTheCopyAndRecordsNoMutation) {
  CartState guest(CartSemantics::kOrSet);
  ASSERT_TRUE(guest.Apply(Mutation::Add(1, "apple", 3, kMergeNow), kLimits).ok());
  CartUpdate m = MarkMergedUpdateOf("carts", "g", "carts/u", kMergeId, kMergeNow);
  Result<CoordinatedWrite> w = CartWriteOf(m, Namespace(CartSemantics::kOrSet), kMergeNow);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  Result<std::string> bytes = w->intent.transform(SiblingsOf({guest}));
  ASSERT_TRUE(bytes.ok());
  const CartState marked = CartState::Decode(*bytes, CartSemantics::kOrSet).value();
  EXPECT_EQ(marked.merged_into(), "carts/u");
  EXPECT_EQ(marked.Lines(kLimits), guest.Lines(kLimits));
  EXPECT_FALSE(marked.Applied(kMergeId)) << "the mark is not a mutation of the guest cart";

  // The longest user cart name: a namespace and a key at the store's limits.
  const std::string longest =
      std::string(kNamespaceBytesMax, 'n') + "/" + std::string(kKeyBytesMax, 'k');
  m.merged_into = longest;
  Result<CoordinatedWrite> long_mark = CartWriteOf(m, Namespace(CartSemantics::kOrSet), kMergeNow);
  ASSERT_TRUE(long_mark.ok()) << long_mark.status().ToString();
  Result<std::string> long_bytes = long_mark->intent.transform(SiblingsOf({guest}));
  ASSERT_TRUE(long_bytes.ok()) << long_bytes.status().ToString();
  EXPECT_EQ(CartState::Decode(*long_bytes, CartSemantics::kOrSet).value().merged_into(), longest);

  for (const std::string& target : {std::string(), std::string(kCartKeyBytesMax + 1, 'k')}) {
    m.merged_into = target;
    const Status s = CartWriteOf(m, Namespace(CartSemantics::kOrSet), kMergeNow).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("merged_into must name the user cart"), std::string::npos)
        << s.message();
  }
}

}  // namespace
}  // namespace trolley
