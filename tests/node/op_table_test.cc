// Goal: ForEachStillPresent visits exactly the operations present when it
// starts and still present at their turn, in key order, while visits erase
// entries (themselves, later ones) and add new ones. Method: a std::map
// walked with visits that change it.
#include "node/op_table.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace trolley {
namespace {

TEST(OpTableTest, VisitsWhatWasThereAndStillIs) {
  std::map<int, std::string> ops = {{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}};
  std::vector<int> visited;
  ForEachStillPresent(ops, [&](std::map<int, std::string>::iterator it) {
    visited.push_back(it->first);
    if (it->first == 1) ops.erase(3);    // a later one: never visited
    if (it->first == 2) ops[6] = "new";  // added: not visited
    if (it->first == 4) ops.erase(it);   // itself
  });
  EXPECT_EQ(visited, (std::vector<int>{1, 2, 4, 5}));
  EXPECT_EQ(ops, (std::map<int, std::string>{{1, "a"}, {2, "b"}, {5, "e"}, {6, "new"}}));
}

TEST(OpTableTest, EmptyTableVisitsNothing) {
  std::map<int, int> ops;
  int visits = 0;
  ForEachStillPresent(ops, [&](std::map<int, int>::iterator) { ++visits; });
  EXPECT_EQ(visits, 0);
}

}  // namespace
}  // namespace trolley
