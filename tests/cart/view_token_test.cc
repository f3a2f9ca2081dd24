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
  EXPECT_TRUE(view->removed_tags().empty());
  EXPECT_TRUE(view->applied().empty());
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

}  // namespace
}  // namespace trolley::cart_test
