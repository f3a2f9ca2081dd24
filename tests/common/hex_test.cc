#include "common/hex.h"

#include <gtest/gtest.h>

#include <string>

namespace trolley {
namespace {

TEST(HexTest, EveryByteRoundTripsAsTwoLowercaseDigits) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string hex = Hex(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 6), "000102");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  for (char c : hex) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  Result<std::string> back = Unhex(hex);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, all);
  EXPECT_EQ(Hex(""), "");
  EXPECT_EQ(*Unhex(""), "");
}

TEST(HexTest, UnhexTakesUppercase) {
  Result<std::string> bytes = Unhex("ABcd0F");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, std::string("\xab\xcd\x0f", 3));
}

TEST(HexTest, UnhexRefusesOddLengthsAndNonDigits) {
  EXPECT_EQ(Unhex("abc").status().code(), StatusCode::kInvalidArgument);
  for (const char* bad : {"0g", "g0", " 0", "0/", ":0", "@0", "0G", "`0", "\xff\x30"}) {
    EXPECT_EQ(Unhex(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Unhex(std::string("0\0", 2)).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trolley
