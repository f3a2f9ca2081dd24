// Goal: the cart the Redis and PostgreSQL adapters store behaves as the
// Cart API's mutations do (add sums and caps, set replaces, 0 and remove
// delete, checkout empties), round-trips through its JSON, is rebuilt from
// per-line fields or rows, and refuses malformed input with
// a message instead of storing nonsense. Method: small explicit cases.
#include "bench/peer_cart.h"

#include <gtest/gtest.h>

namespace trolley::bench {
namespace {

CartOp Op(CartOp::Type type, const std::string& sku, uint32_t quantity = 0) {
  return CartOp{type, 7, sku, quantity};
}

TEST(PeerCartTest, MutationsMatchTheCartApi) {
  PeerCart cart;
  cart.Apply(Op(CartOp::Type::kAdd, "sku-1", 1), 999);
  cart.Apply(Op(CartOp::Type::kAdd, "sku-1", 2), 999);
  cart.Apply(Op(CartOp::Type::kAdd, "sku-2", 1), 999);
  cart.Apply(Op(CartOp::Type::kGet, ""), 999);
  EXPECT_EQ(cart.lines(), (std::map<std::string, uint32_t>{{"sku-1", 3}, {"sku-2", 1}}));
  cart.Apply(Op(CartOp::Type::kSetQuantity, "sku-2", 5), 999);
  cart.Apply(Op(CartOp::Type::kRemove, "sku-1"), 999);
  EXPECT_EQ(cart.lines(), (std::map<std::string, uint32_t>{{"sku-2", 5}}));
  cart.Apply(Op(CartOp::Type::kSetQuantity, "sku-2", 0), 999);
  cart.Apply(Op(CartOp::Type::kRemove, "sku-9"), 999);
  EXPECT_TRUE(cart.lines().empty());
  cart.Apply(Op(CartOp::Type::kAdd, "sku-3", 2), 999);
  cart.Apply(Op(CartOp::Type::kAdd, "sku-4", 1), 999);
  cart.Apply(Op(CartOp::Type::kCheckout, ""), 999);
  EXPECT_TRUE(cart.lines().empty());
}

TEST(PeerCartTest, FromLinesReadsFieldsOrRowsAndRefusesBadQuantities) {
  auto cart = PeerCart::FromLines({{"sku-1", "3"}, {"sku-2", "4294967295"}});
  ASSERT_TRUE(cart.ok()) << cart.status().ToString();
  EXPECT_EQ(cart->lines(), (std::map<std::string, uint32_t>{{"sku-1", 3}, {"sku-2", 4294967295}}));
  EXPECT_TRUE(PeerCart::FromLines({})->lines().empty());
  EXPECT_FALSE(PeerCart::FromLines({{"sku-1", "0"}}).ok());
  EXPECT_FALSE(PeerCart::FromLines({{"sku-1", "-1"}}).ok());
  EXPECT_FALSE(PeerCart::FromLines({{"sku-1", "4294967296"}}).ok());
  EXPECT_FALSE(PeerCart::FromLines({{"sku-1", ""}}).ok());
  EXPECT_FALSE(PeerCart::FromLines({{"sku-1", "2x"}}).ok());
}

TEST(PeerCartTest, QuantitiesAreCappedAsTheCartCapsThem) {
  PeerCart cart;
  cart.Apply(Op(CartOp::Type::kAdd, "sku-1", 8), 10);
  cart.Apply(Op(CartOp::Type::kAdd, "sku-1", 8), 10);
  cart.Apply(Op(CartOp::Type::kSetQuantity, "sku-2", 50), 10);
  EXPECT_EQ(cart.lines(), (std::map<std::string, uint32_t>{{"sku-1", 10}, {"sku-2", 10}}));
}

TEST(PeerCartTest, RoundTripsThroughJson) {
  PeerCart cart;
  cart.Apply(Op(CartOp::Type::kAdd, "sku-1", 4), 999);
  cart.Apply(Op(CartOp::Type::kAdd, "sku-\"quoted\"", 1), 999);
  const std::string json = cart.Encode();
  auto back = PeerCart::Decode(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->lines(), cart.lines());
  ASSERT_EQ(back->View().size(), 2u);
  EXPECT_EQ(back->View()[0].sku, "sku-\"quoted\"");
}

TEST(PeerCartTest, EmptyTextIsAnEmptyCart) {
  auto cart = PeerCart::Decode("");
  ASSERT_TRUE(cart.ok());
  EXPECT_TRUE(cart->lines().empty());
}

TEST(PeerCartTest, MalformedInputIsRefusedWithAReason) {
  for (const char* bad : {"[1,2]", "{\"sku-1\": -1}", "{\"sku-1\": 0}", "{\"sku-1\": \"3\"}",
                          "{\"sku-1\": 4294967296}", "{\"sku-1\": 1.5}", "{truncated"}) {
    auto cart = PeerCart::Decode(bad);
    ASSERT_FALSE(cart.ok()) << bad;
    EXPECT_EQ(cart.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(cart.status().message().find("peer cart"), std::string::npos) << bad;
  }
}

TEST(PeerCartTest, LayoutNamesParseBackAndOthersAreRefused) {
  for (CartLayout layout : {CartLayout::kWholeCart, CartLayout::kPerLine}) {
    EXPECT_EQ(ParseCartLayout(CartLayoutName(layout)).value(), layout);
  }
  EXPECT_EQ(CartLayoutName(CartLayout::kPerLine), "per-line");
  const Result<CartLayout> bad = ParseCartLayout("rows");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown --layout 'rows': use whole-cart or per-line");
}

}  // namespace
}  // namespace trolley::bench
