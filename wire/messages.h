// Messages of the replication protocol, as plain C++ values.
//
// What: one struct per message a Trolley process sends, and `Message`, the
// variant of them all. The node core (sans-IO) consumes and produces these
// structs directly; the simulator passes them between nodes in memory; the
// real transport turns them into bytes with wire/message_codec.h and frames
// them with wire/frame.h. Nothing here knows about Cap'n Proto or sockets:
// this target links trolley_storage_versions (SiblingSet), trolley_ring,
// trolley_common, and privately the pure trolley_storage (ObjectKey limits).
//
// Who sends what (DESIGN.md §4):
//   - Hello / HelloReply open every connection (clients send an empty node id).
//   - ClientGet / ClientPut go from a client to any node. A node outside the
//     key's preference list forwards the request once, with forwarded = true,
//     to a node inside it; a forwarded request is never forwarded again.
//   - ReplicaGet / ReplicaWrite go from a coordinator to the replicas. A
//     ReplicaWrite always carries a full state to merge (replication after a
//     put, read repair, hint delivery); with hint_for set, the receiver is a
//     fallback and stores it as a hint for that node (sloppy quorum).
//   - Ping / Pong probe liveness; RingInfoRequest / RingInfoReply give a
//     client the claim so it can route to a coordinator directly.
//   - ErrorReply is sent, where possible, before a connection is closed for
//     bad input.
//
// Invariants of a valid message (ValidateMessage; the decoder applies it to
// every message from the network, and the node core may apply it to any
// message it did not build itself):
//   1. ns is 1..kNamespaceBytesMax bytes, key 1..kKeyBytesMax (storage/engine.h).
//   2. node ids are valid NodeIds (ring/node_id.h), except Hello's and
//      HelloReply's may be empty (a client) and ReplicaWrite::hint_for is
//      empty when the write is not a hint.
//   3. a ClientPut tombstone carries no value.
//   4. status messages are at most kStatusMessageBytesMax bytes.
//   5. RingInfoReply: owners is empty or a valid partition count of valid
//      node ids; at most kPartitionsMax members, each with a valid id and a
//      1..kAddressBytesMax address.
// SiblingSet and VersionVector keep their own invariants (see their headers);
// the decoder checks those while converting.
//
// Threading: value types, no shared state.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "storage/sibling_set.h"
#include "storage/version_vector.h"

namespace trolley {

// The protocol version this build speaks, sent in Hello and HelloReply.
inline constexpr uint32_t kProtocolVersion = 1;

// Limits on field contents beyond the storage and ring limits. Generous:
// they exist so that every field of an untrusted message is bounded.
inline constexpr size_t kStatusMessageBytesMax = 4096;
inline constexpr size_t kAddressBytesMax = 300;  // "host:port"; a DNS name is <= 253 bytes

// Every field has a default (zero, empty, kOk), so designated initializers
// name only what they set: ClientGet{.id = id, .ns = "carts", .key = k}.

// Names one request on one connection, chosen by its sender; the reply
// carries it back. A strong type so that it is never mixed up with a
// write id, a nonce or a ring version.
struct RequestId {
  uint64_t value = 0;
  friend auto operator<=>(const RequestId&, const RequestId&) = default;
};

struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  std::string node_id{};  // empty for clients
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct HelloReply {
  uint32_t protocol_version = kProtocolVersion;
  std::string node_id{};
  friend bool operator==(const HelloReply&, const HelloReply&) = default;
};

struct ClientGet {
  RequestId id{};
  std::string ns{};
  std::string key{};
  uint32_t r = 0;           // 0 = the namespace default
  uint32_t timeout_ms = 0;  // 0 = the node's default
  bool forwarded = false;   // set by the node that forwarded it; never forwarded again
  friend bool operator==(const ClientGet&, const ClientGet&) = default;
};

struct ClientGetReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  SiblingSet state{};  // empty with kNotFound when the key is absent
  friend bool operator==(const ClientGetReply&, const ClientGetReply&) = default;
};

struct ClientPut {
  RequestId id{};
  std::string ns{};
  std::string key{};
  VersionVector context{};  // what the client had read; empty for a blind write
  std::string value{};
  bool tombstone = false;   // a delete; value is then empty
  uint64_t write_id = 0;    // the client's id for this logical write; 0 = none
  uint32_t w = 0;           // 0 = the namespace default
  uint32_t timeout_ms = 0;  // 0 = the node's default
  uint64_t ttl_ms = 0;      // 0 = the namespace default
  bool forwarded = false;
  friend bool operator==(const ClientPut&, const ClientPut&) = default;
};

struct ClientPutReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  SiblingSet state{};  // the state after the write: the client's next context
  friend bool operator==(const ClientPutReply&, const ClientPutReply&) = default;
};

struct ReplicaGet {
  RequestId id{};
  std::string ns{};
  std::string key{};
  friend bool operator==(const ReplicaGet&, const ReplicaGet&) = default;
};

struct ReplicaGetReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  SiblingSet state{};
  bool found = false;
  friend bool operator==(const ReplicaGetReply&, const ReplicaGetReply&) = default;
};

struct ReplicaWrite {
  RequestId id{};
  std::string ns{};
  std::string key{};
  SiblingSet state{};      // merged into the receiver's state
  std::string hint_for{};  // non-empty: store as a hint for that node
  friend bool operator==(const ReplicaWrite&, const ReplicaWrite&) = default;
};

struct ReplicaWriteReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  friend bool operator==(const ReplicaWriteReply&, const ReplicaWriteReply&) = default;
};

struct Ping {
  uint64_t nonce = 0;
  friend bool operator==(const Ping&, const Ping&) = default;
};

struct Pong {
  uint64_t nonce = 0;
  friend bool operator==(const Pong&, const Pong&) = default;
};

struct RingInfoRequest {
  RequestId id{};
  friend bool operator==(const RingInfoRequest&, const RingInfoRequest&) = default;
};

struct RingInfoReply {
  RequestId id{};
  uint64_t ring_version = 0;
  // owners[p] owns partition p.
  std::vector<std::string> owners{};
  // (node id, "host:port") of every member.
  std::vector<std::pair<std::string, std::string>> members{};
  friend bool operator==(const RingInfoReply&, const RingInfoReply&) = default;
};

struct ErrorReply {
  RequestId id{};  // 0 when the bad input had no readable request id
  StatusCode code = StatusCode::kOk;
  std::string message{};
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

// Alternatives are never reordered (tests and logs use the index); new
// messages are appended.
using Message =
    std::variant<Hello, HelloReply, ClientGet, ClientGetReply, ClientPut, ClientPutReply,
                 ReplicaGet, ReplicaGetReply, ReplicaWrite, ReplicaWriteReply, Ping, Pong,
                 RingInfoRequest, RingInfoReply, ErrorReply>;

// "ClientPut", ...: for logs and error messages.
std::string_view MessageName(const Message& message);

// Ok, or InvalidArgument naming the message, the field and the limit it
// breaks (invariants 1-5 above). Does not re-check SiblingSet invariants.
Status ValidateMessage(const Message& message);

}  // namespace trolley

template <>
struct std::hash<trolley::RequestId> {
  size_t operator()(const trolley::RequestId& id) const noexcept {
    return std::hash<uint64_t>{}(id.value);
  }
};
