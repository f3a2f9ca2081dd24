// Goal: an EnumName table prints and parses the same names, lists them in
// messages, and says "unknown" for a value it lacks. Method: a local enum
// and a table that leaves one value out. (The tree's own tables are tested
// with their enums: round trips in the cart, storage and simulation tests.)
#include "common/enum_names.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

enum class Fruit { kApple, kPear, kPlum, kQuince };

// kQuince is left out on purpose.
constexpr EnumName<Fruit> kFruitNames[] = {
    {Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}, {Fruit::kPlum, "plum"}};

TEST(EnumNamesTest, NameOfEachValue) {
  static_assert(NameOf(kFruitNames, Fruit::kPear) == "pear");
  EXPECT_EQ(NameOf(kFruitNames, Fruit::kApple), "apple");
  EXPECT_EQ(NameOf(kFruitNames, Fruit::kPlum), "plum");
}

TEST(EnumNamesTest, ValueMissingFromTableIsUnknown) {
  EXPECT_EQ(NameOf(kFruitNames, Fruit::kQuince), "unknown");
}

TEST(EnumNamesTest, ListNamesJoinsWithCommasAndOr) {
  EXPECT_EQ(ListNames(kFruitNames), "apple, pear or plum");
  constexpr EnumName<Fruit> kOne[] = {{Fruit::kApple, "apple"}};
  EXPECT_EQ(ListNames(kOne), "apple");
  constexpr EnumName<Fruit> kTwo[] = {{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}};
  EXPECT_EQ(ListNames(kTwo), "apple or pear");
}

TEST(EnumNamesTest, ParseNameReadsEveryName) {
  for (const EnumName<Fruit>& entry : kFruitNames) {
    Result<Fruit> parsed = ParseName(kFruitNames, entry.name, "fruit");
    ASSERT_TRUE(parsed.ok()) << entry.name;
    EXPECT_EQ(*parsed, entry.value);
  }
}

TEST(EnumNamesTest, ParseNameRefusesOthersListingTheNames) {
  for (std::string_view text : {"", "Apple", "apple ", "quince", "unknown"}) {
    Result<Fruit> parsed = ParseName(kFruitNames, text, "fruit");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(),
              "unknown fruit '" + std::string(text) + "': use apple, pear or plum");
  }
}

}  // namespace
}  // namespace trolley
