#include <gtest/gtest.h>

#include "node/server/config.h"

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

TEST(ServerConfigTest, MergeSemanticsNamesParseBack) {
  for (MergeSemantics m : {MergeSemantics::kUnionMax, MergeSemantics::kOrSet}) {
    EXPECT_EQ(ParseMergeSemantics(MergeSemanticsName(m)).value(), m);
  }
  EXPECT_EQ(MergeSemanticsName(MergeSemantics::kOrSet), "or-set");
  EXPECT_EQ(ParseMergeSemantics("lww").status().message(),
            "unknown merge semantics 'lww': use union-max or or-set");
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
  ASSERT_TRUE(
      ApplyNamespaceFlag(c, "guest:n=1,r=1,w=1,ttl_ms=5,merge=or-set,durability=none").ok());
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

// Every [limits] and [storage] setting DescribeSettings() lists is accepted
// by the parser and lands in its field: the list trolleyd --list-settings
// prints (and scripts/check-docs.sh holds the docs to) is the parser's.
TEST(ServerConfigTest, EveryDescribedSettingIsAccepted) {
  std::string limits = "[limits]\n", storage = "[storage]\n";
  size_t described = 0;
  for (const SettingDescription& s : DescribeSettings()) {
    ++described;
    for (auto [prefix, out] : {std::pair{std::string("limits."), &limits},
                               std::pair{std::string("storage."), &storage}}) {
      if (s.name.rfind(prefix, 0) != 0) continue;
      // One more than the default, so that the test sees the field change.
      *out += s.name.substr(prefix.size()) + " = " +
              std::to_string(std::stoull(s.default_value) + 1) + "\n";
    }
  }
  EXPECT_GE(described, 30u);
  std::string text = std::string(kValid);
  text.replace(text.find("[limits]\nidle_frame_timeout_ms = 1500\n"),
               std::string("[limits]\nidle_frame_timeout_ms = 1500\n").size(), limits + storage);
  auto c = ParseServerConfig(text, "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << text;
  ASSERT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  const ServerConfig defaults;
  EXPECT_EQ(c->siblings_max, defaults.siblings_max + 1);
  EXPECT_EQ(c->object_bytes_max, defaults.object_bytes_max + 1);
  EXPECT_EQ(c->ping_interval_ms, defaults.ping_interval_ms + 1);
  EXPECT_EQ(c->hint_delivery_interval_ms, defaults.hint_delivery_interval_ms + 1);
  EXPECT_EQ(c->hint_backoff_max_ms, defaults.hint_backoff_max_ms + 1);
  EXPECT_EQ(c->sweep_interval_ms, defaults.sweep_interval_ms + 1);
  EXPECT_EQ(c->tombstone_grace_ms, defaults.tombstone_grace_ms + 1);
  EXPECT_EQ(c->request_timeout_ms, defaults.request_timeout_ms + 1);
}

TEST(ServerConfigTest, NewSettingsAreChecked) {
  const std::string limits = "[limits]\nidle_frame_timeout_ms = 1500\n";
  EXPECT_NE(ErrorWith(limits, "[storage]\nsiblings_max = 0\n").find("storage.siblings_max"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, "[storage]\nobject_bytes_max = 8388608\n")
                .find("storage.object_bytes_max: 8388608 must be between 1 and"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, "[limits]\nping_interval_ms = 0\n")
                .find("limits.ping_interval_ms: must be positive"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, "[limits]\nhint_backoff_max_ms = 100\n")
                .find("limits.hint_backoff_max_ms: must be >= limits.hint_delivery_interval_ms"),
            std::string::npos);
  EXPECT_NE(
      ErrorWith(limits, "[storage]\nsweep_interval_ms = 0\n").find("storage.sweep_interval_ms"),
      std::string::npos);
  EXPECT_NE(ErrorWith(limits, "[limits]\noutput_bytes_max = 1000\n")
                .find("limits.output_bytes_max: must be >= 1048576"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, "[storage]\nsiblings_maxx = 3\n").find("unknown setting"),
            std::string::npos);
}

// The per-object warning levels are settings too, and never above their
// limits; the slow-request threshold may be 0 (off).
TEST(ServerConfigTest, WarningLevelsAndSlowRequestThreshold) {
  const std::string limits = "[limits]\nidle_frame_timeout_ms = 1500\n";
  auto c = ParseServerConfig(std::string(kValid) +
                                 "slow_request_ms = 0\n[storage]\nsiblings_warn = 10\n"
                                 "object_bytes_warn = 2048\n",
                             "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_EQ(c->slow_request_ms, 0u);
  EXPECT_EQ(c->siblings_warn, 10u);
  EXPECT_EQ(c->object_bytes_warn, 2048u);
  EXPECT_NE(ErrorWith(limits, limits + "[storage]\nsiblings_warn = 101\n")
                .find("storage.siblings_warn: 101 must be at most storage.siblings_max = 100"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, limits + "[storage]\nobject_bytes_max = 1000\n")
                .find("storage.object_bytes_warn: 1048576 must be at most "
                      "storage.object_bytes_max = 1000"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, limits + "[storage]\nsiblings_warn = 0\n")
                .find("storage.siblings_warn: must be positive"),
            std::string::npos);
}

// [admin]: off by default, loopback unless host says otherwise, a real
// port of its own.
TEST(ServerConfigTest, AdminListener) {
  auto c = ParseServerConfig(std::string(kValid), "node.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->admin_port, 0u);
  EXPECT_EQ(c->AdminAddress(), "");
  c = ParseServerConfig(std::string(kValid) + "[admin]\nport = 9101\n", "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_EQ(c->AdminAddress(), "127.0.0.1:9101");
  c = ParseServerConfig(std::string(kValid) + "[admin]\nhost = \"::1\"\nport = 9101\n",
                        "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->AdminAddress(), "[::1]:9101");
  const std::string limits = "[limits]\nidle_frame_timeout_ms = 1500\n";
  EXPECT_NE(
      ErrorWith(limits, limits + "[admin]\nport = 70000\n").find("admin.port: 70000 is not a port"),
      std::string::npos);
  EXPECT_NE(ErrorWith(limits, limits + "[admin]\nport = 7101\n")
                .find("admin.port: is the port the node listens on"),
            std::string::npos);
  EXPECT_NE(ErrorWith(limits, limits + "[admin]\nlisten = 3\n").find("unknown setting"),
            std::string::npos);
}

// The node listens on its member address, the one interface peers dial;
// every interface only when listen says so.
TEST(ServerConfigTest, ListensOnTheMemberAddressNeverOnEveryInterfaceUnasked) {
  for (const char* wildcard : {"0.0.0.0:7101", "[::]:7101", ":::7101", "0:7101"}) {
    EXPECT_NE(ErrorWith("\"127.0.0.1:7101\"", std::string("\"") + wildcard + "\"")
                  .find("members[0].address: '" + std::string(wildcard) +
                        "' is not an address a peer can dial"),
              std::string::npos)
        << wildcard;
  }
  EXPECT_EQ(
      ErrorWith("node_id = \"n1\"", "node_id = \"n1\"\nlisten = \"0.0.0.0:7101\"\ninsecure = true"),
      "");
  auto c = ParseServerConfig(std::string(kValid), "node.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ListenAddress(), "127.0.0.1:7101");
  c->listen = "0.0.0.0:7101";
  EXPECT_EQ(c->ListenAddress(), "0.0.0.0:7101");
}

// Without TLS a node serves only loopback, unless insecure = true; the
// refusal says what to set.
TEST(ServerConfigTest, NonLoopbackListenNeedsTlsOrInsecure) {
  for (const char* listen :
       {"0.0.0.0:7101", "10.0.0.1:7101", "[::]:7101", "db1.example:7101", "128.0.0.1:7101"}) {
    const std::string error =
        ErrorWith("node_id = \"n1\"", "node_id = \"n1\"\nlisten = \"" + std::string(listen) + "\"");
    EXPECT_NE(error.find("listen: '" + std::string(listen) +
                         "' is not a loopback address and TLS is off: set [tls] ca_file, "
                         "cert_file and key_file"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("or insecure = true"), std::string::npos) << error;
  }
  for (const char* listen : {"127.0.0.1:7101", "127.3.2.1:7101", "localhost:7101", "[::1]:7101"}) {
    EXPECT_EQ(
        ErrorWith("node_id = \"n1\"", "node_id = \"n1\"\nlisten = \"" + std::string(listen) + "\""),
        "")
        << listen;
  }
  // A member address that is not loopback is the default listen address.
  EXPECT_NE(ErrorWith("\"127.0.0.1:7101\"", "\"10.0.0.1:7101\"").find("listen: '10.0.0.1:7101'"),
            std::string::npos);
  // [tls] must come after the top-level keys: put it at the end.
  std::string text = kValid;
  const std::string node_id = "node_id = \"n1\"";
  text.replace(text.find(node_id), node_id.size(), node_id + "\nlisten = \"10.0.0.1:7101\"");
  text += "[tls]\nca_file = \"ca.pem\"\ncert_file = \"n1.pem\"\nkey_file = \"n1.key\"\n";
  auto c = ParseServerConfig(text, "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate().ToString();
  EXPECT_TRUE(c->tls());
  EXPECT_EQ(c->tls_ca_file, "ca.pem");
  EXPECT_EQ(c->tls_key_file, "n1.key");
}

TEST(ServerConfigTest, TlsFilesComeTogether) {
  std::string text = std::string(kValid) + "[tls]\ncert_file = \"n1.pem\"\n";
  auto c = ParseServerConfig(text, "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->Validate().message().find("tls.ca_file: is required with the other [tls] files"),
            std::string::npos)
      << c->Validate().ToString();
  auto unknown = ParseServerConfig(std::string(kValid) + "[tls]\nca = \"x\"\n", "node.toml");
  EXPECT_NE(unknown.status().message().find("tls.ca: unknown setting"), std::string::npos)
      << unknown.status().ToString();
  auto not_bool = ParseServerConfig("insecure = \"yes\"\n" + std::string(kValid), "node.toml");
  EXPECT_NE(not_bool.status().message().find("insecure: must be true or false"), std::string::npos);
}

TEST(ServerConfigTest, LoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.255.0.9"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example"));
  EXPECT_FALSE(IsLoopbackHost("::"));
}

}  // namespace
}  // namespace trolley
