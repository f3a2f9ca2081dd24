// Goal: a view token carries exactly the view's lines and tags, and a token
// from a client is checked like stored bytes.
#include "cart/view_token.h"

#include <gtest/gtest.h>

#include "tests/cart/cart_test_util.h"

namespace trolley::cart_test {
namespace {

TEST(ViewTokenTest, CarriesTheLinesAndTagsOnly) {
  CartState s(CartSemantics::kOrSet);
  MustApply(s, Mutation::Add(1, "apple", 2, kT0, {{"size", "L"}}));
  MustApply(s, Mutation::Add(2, "pear", 1, kT0));
  MustApply(s, Mutation::Remove(3, "pear", kT0 + 1));
  MustApply(s, Mutation::Add(4, "apple", 1, kT0 + 2));
  const Result<CartState> view = ParseCartViewToken(CartViewToken(s), CartSemantics::kOrSet);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->Lines(kLimits), s.Lines(kLimits));
  EXPECT_EQ(view->ObservedTags(nullptr), (std::vector<uint64_t>{1, 4}));
  // The context of exactly the live tags: nothing the view does not show.
  EXPECT_EQ(view->context().Ids(), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(
      ParseCartViewToken(CartViewToken(CartState(CartSemantics::kOrSet)), CartSemantics::kOrSet)
          ->Lines(kLimits)
          .size(),
      0u);
}

TEST(ViewTokenTest, BadTokensAreInvalidArgument) {
  CartState s(CartSemantics::kOrSet);
  MustApply(s, Mutation::Add(1, "apple", 2, kT0));
  const std::string token = CartViewToken(s);
  for (const std::string& bad :
       {std::string("zz"), token.substr(0, token.size() - 2), std::string("00ff00ff"),
        std::string(kViewTokenBytesMax + 2, 'a')}) {
    const Result<CartState> r = ParseCartViewToken(bad, CartSemantics::kOrSet);
    ASSERT_FALSE(r.ok()) << bad.substr(0, 40);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("context token"), std::string::npos);
  }
  const Result<CartState> other = ParseCartViewToken(token, CartSemantics::kUnionMax);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("union-max"), std::string::npos);
}

// A view's tags of one session compress: the token of a 20-line view
// stays small, whatever the history behind it.
TEST(ViewTokenTest, TokenOfManyLinesStaysSmall) {
  CartState s(CartSemantics::kOrSet);
  CartSession session(77);
  for (int i = 0; i < 500; ++i) {
    const std::string sku = "sku" + std::to_string(i % 20);
    MustApply(s, Mutation::Add(session.Next(), sku, 1, kT0));
    Mutation remove = Mutation::Remove(session.Next(), sku, kT0);
    remove.observed = s.ObservedTags(&sku);
    if (i < 480) MustApply(s, remove);  // the last 20 adds stay
  }
  ASSERT_EQ(s.lines().size(), 20u);
  const std::string token = CartViewToken(s);
  EXPECT_LT(token.size(), 2 * 1024u) << "hex of " << token.size() / 2 << " bytes";
}

}  // namespace
}  // namespace trolley::cart_test
