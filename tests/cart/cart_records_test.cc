// The head and line records of a cart stored apart (cart_lines.h): they
// round-trip, and bytes from disk that are wrong are refused with a Status,
// never a crash: every truncation, random byte flips, and heads and lines
// that disagree.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cart/cart_lines.h"
#include "cart/cart_state.h"
#include "common/random.h"
#include "tests/cart/cart_test_util.h"
#include "tests/cart/random_history.h"
#include "tests/support/bad_bytes.h"
#include "tests/support/seeded_cases.h"

namespace trolley {
namespace {

constexpr uint64_t kRecordSeed = 20261208;

// The split of `cart` written as records and read back.
Result<CartState> RecordRoundTrip(const CartState& cart) {
  const CartSplit split = SplitCart(cart);
  CartSplit read;
  Result<CartHead> head = DecodeCartHead(EncodeCartHead(split.head));
  if (!head.ok()) return head.status();
  read.head = *head;
  for (const auto& [sku, line] : split.lines) {
    Result<CartContributions> back = DecodeCartLine(EncodeCartLine(line), sku);
    if (!back.ok()) return back.status();
    read.lines.emplace(sku, *back);
  }
  EXPECT_EQ(read, split);
  return AssembleStoredCart(read);
}

std::vector<CartState> RecordSamples(uint64_t cases) {
  std::vector<CartState> out;
  test_support::RunSeededCases(kRecordSeed, cases, [&](Random& rng, uint64_t) {
    cart_test::RandomHistory history;
    std::vector<CartState> devices = cart_test::RandomDevices(rng, history);
    if (rng.Chance(0.3)) {
      ASSERT_TRUE(devices[0].MarkMergedInto("carts/user-" + std::to_string(rng.Uniform(9))).ok());
    }
    out.push_back(devices[0]);
  });
  return out;
}

TEST(CartRecordsTest, HeadsAndLinesRoundTrip) {
  size_t lines = 0, marked = 0;
  for (const CartState& cart : RecordSamples(2000)) {
    Result<CartState> back = RecordRoundTrip(cart);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, cart);
    lines += cart.lines().size();
    marked += cart.merged_into() ? 1 : 0;
  }
  EXPECT_GT(lines, 1000u);
  EXPECT_GT(marked, 0u);
}

TEST(CartRecordsTest, EveryTruncationIsCorruption) {
  for (const CartState& cart : RecordSamples(20)) {
    const CartSplit split = SplitCart(cart);
    test_support::ExpectEveryTruncationIsCorruption(
        EncodeCartHead(split.head), [](std::string_view b) { return DecodeCartHead(b).status(); });
    for (const auto& [sku, line] : split.lines) {
      test_support::ExpectEveryTruncationIsCorruption(
          EncodeCartLine(line),
          [&](std::string_view b) { return DecodeCartLine(b, sku).status(); });
    }
  }
}

TEST(CartRecordsTest, RandomByteFlipsNeverCrash) {
  std::vector<std::string> heads, lines;
  for (const CartState& cart : RecordSamples(50)) {
    const CartSplit split = SplitCart(cart);
    heads.push_back(EncodeCartHead(split.head));
    for (const auto& [sku, line] : split.lines) lines.push_back(EncodeCartLine(line));
  }
  const std::vector<StatusCode> refusals{StatusCode::kCorruption, StatusCode::kFailedPrecondition};
  test_support::RunByteFlips(
      heads, kRecordSeed, 3000,
      [&](const std::string& b, Random&, uint64_t seed, test_support::FlipCounts& counts) {
        Result<CartHead> head = DecodeCartHead(b);
        if (head.ok()) {
          head->context.CheckInvariants();
          ++counts.decoded;
        } else {
          test_support::ExpectRefused(head.status(), refusals, seed);
          ++counts.refused;
        }
      });
  test_support::RunByteFlips(
      lines, kRecordSeed, 3000,
      [&](const std::string& b, Random&, uint64_t seed, test_support::FlipCounts& counts) {
        Result<CartContributions> line = DecodeCartLine(b, "sku");
        if (line.ok()) {
          EXPECT_FALSE(line->empty());
          for (const auto& [tag, c] : *line) {
            EXPECT_NE(tag, 0u);
            EXPECT_GE(c.quantity, 1u);
          }
          ++counts.decoded;
        } else {
          test_support::ExpectRefused(line.status(), refusals, seed);
          ++counts.refused;
        }
      });
}

TEST(CartRecordsTest, HeadsAndLinesThatDisagreeAreCorruption) {
  CartState cart(CartSemantics::kOrSet);
  cart_test::MustApply(cart, Mutation::Add(1, "a", 1, cart_test::kT0));
  cart_test::MustApply(cart, Mutation::Add(2, "b", 1, cart_test::kT0));
  const CartSplit good = SplitCart(cart);
  ASSERT_TRUE(AssembleStoredCart(good).ok());

  CartSplit sizes = good;
  sizes.head.sizes.lines = 3;
  test_support::ExpectCorruption(AssembleStoredCart(sizes).status(), "line sizes");

  CartSplit twice = good;
  twice.lines["b"].emplace(1, twice.lines["a"].at(1));  // tag 1 in two lines
  twice.head.sizes = SplitCart(cart).head.sizes;
  test_support::ExpectCorruption(AssembleStoredCart(twice).status(), "two lines");

  CartSplit uncovered = good;
  uncovered.head.context = CartContext();
  test_support::ExpectCorruption(AssembleStoredCart(uncovered).status(), "not in the head");

  std::string wrong = EncodeCartLine(good.lines.at("a"));
  wrong[0] = 'T';
  wrong[1] = 'H';  // a head's magic on a line
  test_support::ExpectCorruption(DecodeCartLine(wrong, "a").status(), "bad magic");
  std::string newer = EncodeCartHead(good.head);
  newer[2] = 9;
  EXPECT_EQ(DecodeCartHead(newer).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace trolley
