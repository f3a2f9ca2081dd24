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
// Who sends what (docs/design.md, 'The node core'):
//   - Hello / HelloReply open every connection (clients send an empty node id).
//   - ClientGet / ClientPut go from a client to any node. A node outside the
//     key's preference list forwards the request once, with forwarded = true,
//     to a node inside it; a forwarded request is never forwarded again.
//   - CartUpdate goes from a client to any node and travels like a
//     ClientPut (forwarded once, coordinated by a primary); its reply
//     carries the cart's new state like a ClientPutReply.
//   - ReplicaGet / ReplicaWrite go from a coordinator to the replicas. A
//     ReplicaWrite always carries a full state to merge (replication after a
//     put, read repair, hint delivery); with hint_for set, the receiver is a
//     fallback and stores it as a hint for that node (sloppy quorum). With
//     durable set (hint delivery), the receiver replies only once the
//     write is on disk (Engine::Sync): the sender deletes its hint on that
//     reply. A peer that predates the field ignores it and replies on
//     commit, as before.
//   - AaeHashRequest / AaeKeysRequest and their replies go between the
//     replicas of a partition, for anti-entropy: tree hashes, then the
//     (key, version) lists of differing segments; repairs then travel as
//     ReplicaGet and ReplicaWrite. Never from a client.
//   - Ping / Pong probe liveness; RingInfoRequest / RingInfoReply give a
//     client the claim so it can route to a coordinator directly.
//   - ErrorReply is sent, where possible, before a connection is closed for
//     bad input.
//   - StatusRequest / StatusReply: an admin tool (`trolley status`) or a test
//     asks any node, over a client connection or as a node, for that node's
//     own state (ring share, hints, peers as it sees them, counters). Nodes
//     never send StatusRequest to each other, so a peer of an older protocol
//     never receives one. A client may also send ReplicaGet to read one
//     replica's local state without a quorum (admin tools, tests).
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
//      1..kAddressBytesMax address; at most kNamespacesMax namespaces, each
//      with a valid name, 1 <= r, w <= n, and a merge name of at most
//      kMergeNameBytesMax bytes.
//   6. StatusReply: node_id is a valid NodeId; partitions is 0 or a valid
//      partition count, and partitions_owned <= partitions_replicated <=
//      partitions; at most kPartitionsMax peers, each with a valid id; at
//      most kStatusCountersMax counters, each named 1..kCounterNameBytesMax
//      bytes of [a-z0-9_]; at most kStatusAaePairsMax aae_pairs, no more
//      than aae_pairs_total, each with a valid peer id and a partition
//      below partitions (when partitions is set).
//   7. CartUpdate: a valid kind and strategy, a nonzero mutation_id, a sku
//      of at most kCartSkuBytesMax bytes, at most kCartAttributesMax
//      attributes, keys sorted and unique, each key + value at most
//      kCartAttributeBytesMax; guest at most kCartGuestBytesMax and
//      merged_into at most kCartMergedIntoBytesMax bytes.
//   8. Aae*: log2_partitions <= kAaeLog2PartitionsMax, partition below
//      2^log2_partitions, at most kAaeGroupsPerRequestMax groups and
//      kAaeSegmentsPerRequestMax segments, each within the partition; at
//      most kAaeKeysPerReplyMax keys, each a valid key with a nonzero version.
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

#include "common/metrics.h"
#include "common/status.h"
#include "storage/sibling_set.h"
#include "storage/version_vector.h"

namespace trolley {

// The protocol version this build speaks, sent in Hello and HelloReply.
inline constexpr uint32_t kProtocolVersion = 1;

// Limits on field contents beyond the storage and ring limits. Generous:
// they exist so that every field of an untrusted message is bounded.
inline constexpr size_t kStatusMessageBytesMax = 4096;
inline constexpr size_t kStatusCountersMax = 256;   // StatusReply::counters
inline constexpr size_t kCounterNameBytesMax = 64;  // one counter's name
// StatusReply::aae_pairs: about 80 bytes each, so at most ~1.3 MB of the
// 8 MiB frame (kFrameBytesMax). A node with more (partition, peer) pairs
// reports the first ones by partition and says how many it has.
inline constexpr size_t kStatusAaePairsMax = 16384;
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

// A cart mutation, coordinated on the node like a ClientPut: the
// coordinator applies it to its local state of the cart inside its engine
// write (docs/design.md, 'The Cart API'). The fields mirror cart/'s
// Mutation; wire/ does not depend on cart/, the node converts.
// kMergeGuest and kMarkMerged are the two steps of a guest-cart merge at
// login (docs/design.md, 'Cart updates on the node'): the first merges the
// guest cart's lines (`guest`, with `strategy`, under merge id
// `mutation_id`) into the cart `cart_id`; the second marks the guest cart
// `cart_id` as merged into `merged_into` ("ns/cart_id").
enum class CartMutationKind : uint8_t {
  kAdd,
  kSetQuantity,
  kRemove,
  kClear,
  kMergeGuest,
  kMarkMerged
};
// cart/guest_merge.h's GuestMergeStrategy, on the wire.
enum class CartMergeStrategy : uint8_t { kSum, kMax, kKeepUser };
inline constexpr size_t kCartSkuBytesMax = 1024;        // cart/ applies its own, smaller limit
inline constexpr size_t kCartAttributesMax = 64;        // per mutation
inline constexpr size_t kCartAttributeBytesMax = 4096;  // key + value of one attribute
inline constexpr size_t kCartObservedTagsMax = 8192;    // CartLimits::observed_tags_max
// kMergeGuest: the guest cart's encoded state (CartLimits::encoded_bytes_max
// by default; the node applies the namespace's limits on top).
inline constexpr size_t kCartGuestBytesMax = 256 * 1024;
// kMarkMerged: the user cart's "ns/cart_id" (cart/ applies its own, smaller
// limit, kCartKeyBytesMax).
inline constexpr size_t kCartMergedIntoBytesMax = 1024;

struct CartUpdate {
  RequestId id{};
  std::string ns{};
  std::string cart_id{};  // the key
  CartMutationKind kind = CartMutationKind::kAdd;
  std::string sku{};
  uint32_t quantity = 0;
  std::vector<std::pair<std::string, std::string>> attributes{};  // sorted, unique keys
  uint64_t now_ms = 0;       // the client's wall clock, Unix ms
  uint64_t mutation_id = 0;  // nonzero; the same on every retry
  // OR-Set remove, set and clear: the contribution tags of the view the
  // shopper acted on (cart/cart_state.h, Mutation::observed); at most
  // kCartObservedTagsMax.
  std::vector<uint64_t> observed{};
  // kMergeGuest: the guest cart's state (cart/ format, untrusted), at most
  // kCartGuestBytesMax, and how its lines merge.
  std::string guest{};
  CartMergeStrategy strategy = CartMergeStrategy::kSum;
  // kMarkMerged: the cart the guest cart was merged into, "ns/cart_id", at
  // most kCartMergedIntoBytesMax.
  std::string merged_into{};
  uint32_t w = 0;           // 0 = the namespace default
  uint32_t timeout_ms = 0;  // 0 = the node's default
  bool forwarded = false;
  uint64_t ttl_ms = 0;  // 0 = the namespace default; every update refreshes the expiry
  friend bool operator==(const CartUpdate&, const CartUpdate&) = default;
};

struct CartUpdateReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  SiblingSet state{};  // the cart's state after the write, as a ClientPutReply's
  friend bool operator==(const CartUpdateReply&, const CartUpdateReply&) = default;
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
  bool durable = false;    // reply once the write is durable, not just committed
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

// A namespace as the nodes are configured with it, for clients.
struct NamespaceInfo {
  std::string name{};
  uint32_t n = 0, r = 0, w = 0;  // replicas, default read and write quorums
  uint64_t ttl_ms = 0;           // default expiry; 0 = never
  std::string merge{};           // how clients resolve siblings: "union-max" | "or-set"
  friend bool operator==(const NamespaceInfo&, const NamespaceInfo&) = default;
};
inline constexpr size_t kNamespacesMax = 1024;
inline constexpr size_t kMergeNameBytesMax = 32;

struct RingInfoReply {
  RequestId id{};
  uint64_t ring_version = 0;
  // owners[p] owns partition p.
  std::vector<std::string> owners{};
  // (node id, "host:port") of every member.
  std::vector<std::pair<std::string, std::string>> members{};
  // The namespaces the answering node serves (the same on every node).
  std::vector<NamespaceInfo> namespaces{};
  friend bool operator==(const RingInfoReply&, const RingInfoReply&) = default;
};

struct ErrorReply {
  RequestId id{};  // 0 when the bad input had no readable request id
  StatusCode code = StatusCode::kOk;
  std::string message{};
  friend bool operator==(const ErrorReply&, const ErrorReply&) = default;
};

struct StatusRequest {
  RequestId id{};
  friend bool operator==(const StatusRequest&, const StatusRequest&) = default;
};

// One peer as the replying node sees it.
struct PeerStatus {
  std::string node_id{};
  bool up = false;  // not suspected by the replying node's failure detector
  // Hints the replying node holds for this peer. Counting means reading
  // them (HintStore has no per-target count), so trolleyd counts at most
  // kStatusPeerHintsCountedMax (node/status.h) per peer: a lower bound when
  // it is reached. StatusReply::hints_pending is the exact total.
  uint64_t hints_pending = 0;
  friend bool operator==(const PeerStatus&, const PeerStatus&) = default;
};

// What a node knows of its anti-entropy with one peer over one partition
// (docs/design.md, 'Active anti-entropy'), for `trolley aae`. Times are the
// replying node's wall clock.
struct AaePairStatus {
  uint32_t partition = 0;
  std::string peer{};
  uint64_t last_exchange_ms = 0;        // start of the last exchange, clean or not; 0 = never
  uint64_t last_clean_exchange_ms = 0;  // start of the last clean one; 0 = never
  uint64_t exchanges = 0;               // exchanges that finished, clean or not
  uint64_t differing_segments = 0;      // tree segments the last exchange found differing
  uint64_t keys_repaired = 0;           // over every exchange
  friend bool operator==(const AaePairStatus&, const AaePairStatus&) = default;
};

// The replying node's state when it handled the request. code is kOk, or
// the error of a hint store read that failed: the hint figures it would have
// given are then 0 and message says which read failed; every other field is
// still filled in.
struct StatusReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  std::string node_id{};
  uint64_t incarnation = 0;            // of the node's data (Engine::incarnation)
  uint64_t actor = 0;                  // the ActorId its writes are versioned with
  uint32_t partitions = 0;             // the ring's partition count
  uint32_t partitions_owned = 0;       // partitions this node is the first owner of
  uint32_t partitions_replicated = 0;  // partitions whose preference list names this
                                       // node among the first N, N = max over namespaces
  uint64_t hints_pending = 0;          // hints held for other nodes
  uint64_t hints_oldest_ms = 0;        // created_ms of the oldest of them; 0 if none
  uint64_t pending_requests = 0;       // gets, puts and forwards still tracked
  std::vector<PeerStatus> peers{};     // every other ring member, by node id
  // Every counter of the node's metric registry since the process started
  // (common/metrics.h; the names are in node/node_metrics.h), in
  // registration order. Read one with FindValue(counters, name).
  std::vector<NamedValue> counters{};
  // Anti-entropy per (partition, peer) this node exchanges with, by
  // partition: at most kStatusAaePairsMax of aae_pairs_total.
  // Empty from a node that runs no anti-entropy or predates it.
  std::vector<AaePairStatus> aae_pairs{};
  uint32_t aae_pairs_total = 0;
  friend bool operator==(const StatusReply&, const StatusReply&) = default;
};

// Anti-entropy (docs/design.md, 'Active anti-entropy'), node to node only
// (never ClientMayAsk). A partition of a ring of 2^log2_partitions
// (<= kAaeLog2PartitionsMax) is a run of C tree segments (storage/aae_tree.h);
// a group is min(64, C) consecutive segments of it.
enum class AaeLevel : uint8_t {
  kRoot = 0,      // one hash, the partition's
  kGroups = 1,    // every group's hash, in order
  kSegments = 2,  // the segments of the groups named, group after group
};
inline constexpr uint32_t kAaeLog2PartitionsMax = 16;
inline constexpr size_t kAaeGroupsPerRequestMax = 1024;
inline constexpr size_t kAaeSegmentsPerRequestMax = 256;
inline constexpr size_t kAaeKeysPerReplyMax = 16384;

struct AaeHashRequest {
  RequestId id{};
  uint32_t partition = 0;
  uint32_t log2_partitions = 0;
  AaeLevel level = AaeLevel::kRoot;
  std::vector<uint32_t> groups{};  // kSegments: group indices within the partition
  friend bool operator==(const AaeHashRequest&, const AaeHashRequest&) = default;
};

struct AaeHashReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  std::vector<uint64_t> hashes{};
  friend bool operator==(const AaeHashReply&, const AaeHashReply&) = default;
};

struct AaeKeysRequest {
  RequestId id{};
  uint32_t partition = 0;
  uint32_t log2_partitions = 0;
  std::vector<uint32_t> segments{};  // indices within the partition
  friend bool operator==(const AaeKeysRequest&, const AaeKeysRequest&) = default;
};

struct AaeKeyEntry {
  std::string ns{};
  std::string key{};
  uint64_t version = 0;  // nonzero: the key's live version
  friend bool operator==(const AaeKeyEntry&, const AaeKeyEntry&) = default;
};

struct AaeKeysReply {
  RequestId id{};
  StatusCode code = StatusCode::kOk;
  std::string message{};
  std::vector<AaeKeyEntry> keys{};  // in key order, at most kAaeKeysPerReplyMax
  friend bool operator==(const AaeKeysReply&, const AaeKeysReply&) = default;
};

// Alternatives are never reordered (tests and logs use the index); new
// messages are appended.
using Message =
    std::variant<Hello, HelloReply, ClientGet, ClientGetReply, ClientPut, ClientPutReply,
                 ReplicaGet, ReplicaGetReply, ReplicaWrite, ReplicaWriteReply, Ping, Pong,
                 RingInfoRequest, RingInfoReply, ErrorReply, StatusRequest, StatusReply, CartUpdate,
                 CartUpdateReply, AaeHashRequest, AaeHashReply, AaeKeysRequest, AaeKeysReply>;

// "ClientPut", ...: for logs and error messages.
std::string_view MessageName(const Message& message);

// The request id a message carries; RequestId{} (0) for those without one
// (Hello, HelloReply, Ping, Pong).
RequestId RequestIdOf(const Message& message);

// The outcome a reply carries: Status(code, message) for the messages
// with a code (replies), Ok for the others.
Status StatusOf(const Message& message);

// Ok, or InvalidArgument naming the message, the field and the limit it
// breaks (invariants 1-7 above). Does not re-check SiblingSet invariants.
Status ValidateMessage(const Message& message);

}  // namespace trolley

template <>
struct std::hash<trolley::RequestId> {
  size_t operator()(const trolley::RequestId& id) const noexcept {
    return std::hash<uint64_t>{}(id.value);
  }
};
