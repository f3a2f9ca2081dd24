// Goal: ValidateMessage accepts messages at every limit and refuses each
// field just past it with an InvalidArgument naming the message and field.
// Method: tables of hand-built structs; no Cap'n Proto involved (this is
// the check the node core can run on messages the simulator hands it).
#include "wire/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ring/ring.h"

namespace trolley {
namespace {

void ExpectRefused(const Message& m, std::string_view prefix) {
  const Status s = ValidateMessage(m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << MessageName(m);
  EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << s.message();
}

TEST(MessagesTest, ValidMessagesAtTheLimits) {
  const std::vector<Message> ok = {
      Hello{},  // a client
      HelloReply{kProtocolVersion, "n1"},
      ClientGet{RequestId{1}, std::string(64, 'n'), std::string(400, 'k'), 0, 0, false},
      ClientPut{.id = RequestId{1}, .ns = "n", .key = "k", .tombstone = true},
      ReplicaWrite{RequestId{1}, "n", "k", SiblingSet(), std::string(255, 'h')},
      ErrorReply{RequestId{0}, StatusCode::kCorruption, std::string(kStatusMessageBytesMax, 'm')},
      RingInfoReply{RequestId{1},
                    3,
                    std::vector<std::string>(64, "n1"),
                    {{"n1", std::string(kAddressBytesMax, 'a')}}},
      RingInfoReply{},
      StatusRequest{},
      StatusReply{.node_id = "n1"},
      StatusReply{.node_id = std::string(255, 'n'),
                  .partitions = kPartitionsMax,
                  .partitions_owned = kPartitionsMax,
                  .partitions_replicated = kPartitionsMax,
                  .peers = std::vector<PeerStatus>(kPartitionsMax, PeerStatus{"n2", true, 1})},
  };
  for (const Message& m : ok) EXPECT_TRUE(ValidateMessage(m).ok()) << ValidateMessage(m).ToString();
}

TEST(MessagesTest, FieldsPastTheirLimitsAreRefused) {
  ExpectRefused(Hello{1, "has space"}, "Hello: node_id: node name");
  ExpectRefused(HelloReply{1, std::string(256, 'n')}, "HelloReply: node_id:");
  ExpectRefused(ClientGet{RequestId{1}, "", "k", 0, 0, false},
                "ClientGet: ns/key: namespace must be 1 to 64 bytes, got 0");
  ExpectRefused(ClientGet{RequestId{1}, "n", std::string(401, 'k'), 0, 0, false},
                "ClientGet: ns/key: key must be 1 to 400 bytes, got 401");
  ExpectRefused(
      ClientPut{.id = RequestId{1}, .ns = "n", .key = "k", .value = "v", .tombstone = true},
      "ClientPut: a delete (tombstone) carries a 1-byte value");
  ExpectRefused(ReplicaGet{RequestId{1}, std::string(65, 'n'), "k"}, "ReplicaGet: ns/key:");
  ExpectRefused(ReplicaWrite{RequestId{1}, "n", "k", SiblingSet(), "bad\nname"},
                "ReplicaWrite: hint_for:");
  ExpectRefused(ReplicaWriteReply{RequestId{1}, StatusCode::kOk,
                                  std::string(kStatusMessageBytesMax + 1, 'm')},
                "ReplicaWriteReply: status message is 4097 bytes");
  ExpectRefused(RingInfoReply{RequestId{1}, 3, {"n1", "n2", "n3"}, {}}, "RingInfoReply: owners:");
  ExpectRefused(RingInfoReply{RequestId{1}, 3, {"n1", ""}, {}}, "RingInfoReply: owner:");
  ExpectRefused(RingInfoReply{RequestId{1}, 3, {}, {{"n1", ""}}},
                "RingInfoReply: address of member n1 must be 1 to 300 bytes, got 0");
  ExpectRefused(RingInfoReply{RequestId{1}, 3, {}, {{"", "h:1"}}}, "RingInfoReply: member:");
  ExpectRefused(
      RingInfoReply{RequestId{1}, 3, {}, {}, {NamespaceInfo{"carts", 3, 4, 2, 0, "or-set"}}},
      "RingInfoReply: namespace quorums must satisfy 1 <= r, w <= n, got n=3 r=4 w=2");
  ExpectRefused(RingInfoReply{RequestId{1}, 3, {}, {}, {NamespaceInfo{"", 3, 2, 2, 0, "or-set"}}},
                "RingInfoReply: namespace name must be 1 to 64 bytes, got 0");
  ExpectRefused(StatusReply{}, "StatusReply: node_id: ");
  ExpectRefused(StatusReply{.node_id = "n 1"}, "StatusReply: node_id: ");
  ExpectRefused(
      StatusReply{.message = std::string(kStatusMessageBytesMax + 1, 'm'), .node_id = "n1"},
      "StatusReply: status message is 4097 bytes");
  ExpectRefused(StatusReply{.node_id = "n1", .partitions = 48}, "StatusReply: partitions: ");
  ExpectRefused(StatusReply{.node_id = "n1", .partitions_owned = 1, .partitions_replicated = 1},
                "StatusReply: partitions: need owned <= replicated <= partitions, got 1, 1, 0");
  ExpectRefused(
      StatusReply{
          .node_id = "n1", .partitions = 8, .partitions_owned = 3, .partitions_replicated = 2},
      "StatusReply: partitions: need owned <= replicated <= partitions, got 3, 2, 8");
  ExpectRefused(StatusReply{.node_id = "n1", .peers = {{"n2", true, 0}, {"", false, 0}}},
                "StatusReply: peer: ");
  ExpectRefused(
      StatusReply{.node_id = "n1",
                  .peers = std::vector<PeerStatus>(kPartitionsMax + 1, PeerStatus{"n2", true, 0})},
      "StatusReply: 65537 peers; the limit is 65536");
}

TEST(MessagesTest, AaeMessagesStayInsideTheirPartitionAndLimits) {
  // 2^6 partitions: 1024 segments each, 16 groups of 64.
  const std::vector<Message> ok = {
      AaeHashRequest{RequestId{1}, 63, 6, AaeLevel::kSegments, {0, 15}},
      AaeHashRequest{RequestId{1}, 0, 16, AaeLevel::kSegments, {0}},  // one segment, one group
      AaeKeysRequest{RequestId{1}, 0, 6, {0, 1023}},
      AaeKeysReply{RequestId{1}, StatusCode::kOk, "", {AaeKeyEntry{"n", "k", 1}}},
  };
  for (const Message& m : ok) EXPECT_TRUE(ValidateMessage(m).ok()) << ValidateMessage(m).ToString();
  ExpectRefused(AaeHashRequest{RequestId{1}, 64, 6, AaeLevel::kRoot, {}},
                "AaeHashRequest: partition 64 is outside");
  ExpectRefused(AaeHashRequest{RequestId{1}, 0, 17, AaeLevel::kRoot, {}},
                "AaeHashRequest: log2_partitions 17 exceeds 16");
  ExpectRefused(AaeHashRequest{RequestId{1}, 0, 6, AaeLevel::kSegments, {16}},
                "AaeHashRequest: groups index 16 is outside");
  ExpectRefused(AaeHashRequest{RequestId{1}, 0, 6, static_cast<AaeLevel>(3), {}},
                "AaeHashRequest: unknown level 3");
  ExpectRefused(AaeKeysRequest{RequestId{1}, 0, 6, {1024}},
                "AaeKeysRequest: segments index 1024 is outside");
  ExpectRefused(
      AaeKeysRequest{RequestId{1}, 0, 6, std::vector<uint32_t>(kAaeSegmentsPerRequestMax + 1, 0)},
      "AaeKeysRequest: 257 segments");
  ExpectRefused(AaeKeysReply{RequestId{1}, StatusCode::kOk, "", {AaeKeyEntry{"n", "k", 0}}},
                "AaeKeysReply: key with version 0");
  ExpectRefused(AaeKeysReply{RequestId{1}, StatusCode::kOk, "", {AaeKeyEntry{"", "k", 1}}},
                "AaeKeysReply: ns/key:");
}

TEST(MessagesTest, RequestIdIsAStrongOrderedType) {
  EXPECT_LT(RequestId{1}, RequestId{2});
  EXPECT_EQ(RequestId{7}, RequestId{7});
  EXPECT_EQ(std::hash<RequestId>{}(RequestId{7}), std::hash<uint64_t>{}(7));
}

}  // namespace
}  // namespace trolley
