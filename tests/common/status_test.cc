// Goal: Status and Result carry codes and messages a person can act on.
#include "common/status.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::IOError("disk full while committing to /tmp/x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.ToString(), "IOError: disk full while committing to /tmp/x");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(Status::NotFound("no such cart"));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsNotFound());
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> bad(Status::NotFound("x"));
  EXPECT_DEATH((void)bad.value(), "assertion failed");
}

}  // namespace
}  // namespace trolley
