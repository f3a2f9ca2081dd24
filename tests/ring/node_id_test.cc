// Goal: NodeId is a plain, ordered, hashable value and bad names are
// refused with a clear error. Method: table checks on a few names.
#include "ring/node_id.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <unordered_set>

namespace trolley {
namespace {

// Goal: order and hash follow the name. Method: compare, hash and insert
// a few ids into ordered and unordered sets.
TEST(NodeIdTest, OrderedAndHashedByName) {
  const NodeId n1{"n1"}, n2{"n2"}, n10{"n10"};
  EXPECT_EQ(n1, NodeId{"n1"});
  EXPECT_NE(n1, n2);
  EXPECT_LT(n1, n2);
  EXPECT_LT(n1, n10);  // byte-wise: "n10" < "n2"
  EXPECT_LT(n10, n2);
  EXPECT_EQ(std::hash<NodeId>{}(n1), std::hash<NodeId>{}(NodeId{"n1"}));
  const std::set<NodeId> ordered{n2, n10, n1, n1};
  EXPECT_EQ(ordered.size(), 3u);
  EXPECT_EQ(*ordered.begin(), n1);
  const std::unordered_set<NodeId> hashed{n2, n10, n1, n1};
  EXPECT_EQ(hashed.size(), 3u);
  std::ostringstream out;
  out << n10;
  EXPECT_EQ(out.str(), "n10");
}

// Goal: ValidateNodeId accepts ordinary names and refuses empty, overlong,
// spaced and non-ASCII ones. Method: one check per case.
TEST(NodeIdTest, ValidateRefusesBadNames) {
  EXPECT_TRUE(ValidateNodeId({"n1"}).ok());
  EXPECT_TRUE(ValidateNodeId({"cart-db-3.eu:7000"}).ok());
  EXPECT_TRUE(ValidateNodeId({std::string(kNodeNameBytesMax, 'x')}).ok());

  for (const std::string& bad :
       {std::string(), std::string(kNodeNameBytesMax + 1, 'x'), std::string("n 1"),
        std::string("n1\n"), std::string("n\xc3\xa9")}) {
    const Status s = ValidateNodeId({bad});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(s.message().empty());
  }
  EXPECT_NE(ValidateNodeId({""}).message().find("empty"), std::string::npos);
}

}  // namespace
}  // namespace trolley
