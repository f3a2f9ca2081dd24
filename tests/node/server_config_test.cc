#include "node/server/config.h"

#include <gtest/gtest.h>

namespace trolley {
namespace {

const char* kValid = R"(
node_id = "n1"
data_dir = "/tmp/x"
[[members]]
id = "n1"
address = "127.0.0.1:7101"
[[members]]
id = "n2"
address = "127.0.0.1:7102"
[[members]]
id = "n3"
address = "127.0.0.1:7103"
[[namespaces]]
name = "carts"
n = 3
r = 2
w = 2
merge = "or-set"
durability = "flush"
ttl_ms = 1000
[limits]
idle_frame_timeout_ms = 1500
)";

// The error of parsing kValid with `from` replaced by `to`.
std::string ErrorWith(const std::string& from, const std::string& to) {
  std::string text = kValid;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  auto parsed = ParseServerConfig(text, "node.toml");
  if (!parsed.ok()) return parsed.status().message();
  Status s = parsed->Validate();
  return s.ok() ? "" : s.message();
}

TEST(ServerConfigTest, ParsesEveryField) {
  auto c = ParseServerConfig(kValid, "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_EQ(c->node_id, "n1");
  EXPECT_EQ(c->members.size(), 3u);
  EXPECT_EQ(c->ListenAddress(), "127.0.0.1:7101");
  ASSERT_EQ(c->namespaces.size(), 1u);
  EXPECT_EQ(c->namespaces[0].merge, MergeSemantics::kOrSet);
  EXPECT_EQ(c->namespaces[0].durability, Durability::kFlush);
  EXPECT_EQ(c->namespaces[0].options.ttl_ms, 1000u);
  EXPECT_EQ(c->idle_frame_timeout_ms, 1500u);
}

TEST(ServerConfigTest, ErrorsNameTheField) {
  EXPECT_NE(ErrorWith("w = 2", "w = 4").find("namespaces[0].w: 4"), std::string::npos);
  EXPECT_NE(ErrorWith("r = 2", "r = 0").find("namespaces[0].r"), std::string::npos);
  EXPECT_NE(ErrorWith("\"flush\"", "\"fsync\"").find("namespaces[0].durability"),
            std::string::npos);
  EXPECT_NE(ErrorWith("\"or-set\"", "\"lww\"").find("namespaces[0].merge"), std::string::npos);
  EXPECT_NE(ErrorWith("idle_frame_timeout_ms", "idle_frame_timout_ms")
                .find("limits.idle_frame_timout_ms: unknown setting"),
            std::string::npos);
  EXPECT_NE(ErrorWith("node_id = \"n1\"", "node_id = \"n9\"").find("node_id: 'n9' is not one"),
            std::string::npos);
  EXPECT_NE(ErrorWith("\"127.0.0.1:7102\"", "\"127.0.0.1:99999\"").find("members[1].address"),
            std::string::npos);
  EXPECT_NE(ErrorWith("id = \"n2\"", "id = \"n1\"").find("listed twice"), std::string::npos);
  EXPECT_NE(ErrorWith("n = 3", "n = \"3\"").find("namespaces[0].n: must be an integer"),
            std::string::npos);
  EXPECT_NE(ErrorWith("n = 3", "n = -1").find("out of range"), std::string::npos);
}

TEST(ServerConfigTest, SyntaxErrorsGiveFileAndLine) {
  auto c = ParseServerConfig("node_id = \"n1\"\ndata_dir = \n", "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("bad.toml:2:", 0), 0u) << c.status().message();
}

TEST(ServerConfigTest, FlagsAddMembersAndNamespaces) {
  ServerConfig c;
  c.node_id = "n1";
  c.data_dir = "/tmp/x";
  ASSERT_TRUE(ApplyMemberFlag(c, "n1=127.0.0.1:7101").ok());
  ASSERT_TRUE(ApplyNamespaceFlag(c, "guest:n=1,r=1,w=1,ttl_ms=5,merge=or-set,durability=none").ok());
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.namespaces[0].options.name, "guest");
  EXPECT_EQ(c.namespaces[0].durability, Durability::kNone);
  EXPECT_FALSE(ApplyMemberFlag(c, "n2").ok());
  Status s = ApplyNamespaceFlag(c, "x:q=1");
  EXPECT_NE(s.message().find("unknown setting 'q'"), std::string::npos) << s.message();
  ASSERT_TRUE(ApplyNamespaceFlag(c, "y:n=2").ok());
  EXPECT_NE(c.Validate().message().find("namespaces[1].n"), std::string::npos)
      << c.Validate().message();  // n = 2 with one member
}

}  // namespace
}  // namespace trolley
