#include "wire/message_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "ring/ring.h"
#include "storage/record_capnp.h"
#include "wire/protocol.capnp.h"

namespace trolley {
namespace {

constexpr size_t kWordBytes = sizeof(capnp::word);
// A segment table word and a root pointer word.
constexpr size_t kPayloadBytesMin = 2 * kWordBytes;

// The wire enum mirrors trolley::StatusCode value for value.
static_assert(static_cast<int>(wire::StatusCode::OK) == static_cast<int>(StatusCode::kOk));
static_assert(static_cast<int>(wire::StatusCode::NOT_FOUND) ==
              static_cast<int>(StatusCode::kNotFound));
static_assert(static_cast<int>(wire::StatusCode::UNAVAILABLE) ==
              static_cast<int>(StatusCode::kUnavailable));
static_assert(static_cast<int>(wire::StatusCode::TIMEOUT) ==
              static_cast<int>(StatusCode::kTimeout));
static_assert(static_cast<int>(wire::StatusCode::BUSY) == static_cast<int>(StatusCode::kBusy));
static_assert(static_cast<int>(wire::StatusCode::CORRUPTION) ==
              static_cast<int>(StatusCode::kCorruption));
static_assert(static_cast<int>(wire::StatusCode::IO_ERROR) ==
              static_cast<int>(StatusCode::kIOError));
static_assert(static_cast<int>(wire::StatusCode::INVALID_ARGUMENT) ==
              static_cast<int>(StatusCode::kInvalidArgument));
static_assert(static_cast<int>(wire::StatusCode::LIMIT_EXCEEDED) ==
              static_cast<int>(StatusCode::kLimitExceeded));
static_assert(static_cast<int>(wire::StatusCode::FAILED_PRECONDITION) ==
              static_cast<int>(StatusCode::kFailedPrecondition));
constexpr uint16_t kStatusCodeLast = static_cast<uint16_t>(StatusCode::kFailedPrecondition);

// The union's ordinals are the variant's indices.
static_assert(static_cast<size_t>(wire::Envelope::AAE_KEYS_REPLY) + 1 ==
              std::variant_size_v<Message>);
static_assert(static_cast<size_t>(wire::Envelope::AAE_HASH_REQUEST) ==
              Message(AaeHashRequest{}).index());
static_assert(static_cast<int>(wire::AaeLevel::SEGMENTS) == static_cast<int>(AaeLevel::kSegments));
static_assert(static_cast<size_t>(wire::Envelope::CART_UPDATE) == Message(CartUpdate{}).index());
static_assert(static_cast<int>(wire::CartMutationKind::CLEAR) ==
              static_cast<int>(CartMutationKind::kClear));
static_assert(static_cast<int>(wire::CartMutationKind::MARK_MERGED) ==
              static_cast<int>(CartMutationKind::kMarkMerged));
static_assert(static_cast<int>(wire::CartMergeStrategy::KEEP_USER) ==
              static_cast<int>(CartMergeStrategy::kKeepUser));
static_assert(static_cast<size_t>(wire::Envelope::CLIENT_PUT) == Message(ClientPut{}).index());
static_assert(static_cast<size_t>(wire::Envelope::STATUS_REQUEST) ==
              Message(StatusRequest{}).index());

// ---- Encoding

// Cap'n Proto's limit on a blob (a 29-bit element count, Text's NUL included).
constexpr size_t kBlobBytesMax = (size_t{1} << 29) - 2;

// Blobs that large cannot be framed (kFrameBytesMax): a caller that tries
// to encode one has skipped its object-size limit.
capnp::Data::Reader AsData(const std::string& s) {
  TROLLEY_ASSERT(s.size() <= kBlobBytesMax);
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}
capnp::Text::Reader AsText(const std::string& s) {
  TROLLEY_ASSERT(s.size() <= kBlobBytesMax);
  return {s.c_str(), s.size()};
}
wire::StatusCode ToWire(StatusCode code) { return static_cast<wire::StatusCode>(code); }

// Leaves the field unset (it reads back as an empty set) when `set` is
// empty; empty lists stay null pointers.
template <typename InitState>
void WriteState(const SiblingSet& set, InitState init_state) {
  set.CheckInvariants();
  if (set.empty() && set.context().empty()) return;
  WriteSiblingSetRecord(set, init_state());
}

// The common head of every reply: id, code, message (the mirror of ReadReplyHead).
template <typename B, typename M>
void WriteReplyHead(B& b, const M& m) {
  b.setId(m.id.value);
  b.setCode(ToWire(m.code));
  if (!m.message.empty()) b.setMessage(AsText(m.message));
}

// A reply that carries a state (the mirror of ReadStateReply).
template <typename B, typename M>
void WriteStateReply(B& b, const M& m) {
  WriteReplyHead(b, m);
  WriteState(m.state, [&] { return b.initState(); });
}

template <typename L>
void WriteU32s(const std::vector<uint32_t>& values, L list) {
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, values[i]);
}

// Fills one union member of the envelope.
struct Writer {
  mutable wire::Envelope::Builder env;  // a handle; the visitor itself is const

  void operator()(const Hello& m) const {
    auto b = env.initHello();
    b.setProtocolVersion(m.protocol_version);
    b.setNodeId(AsText(m.node_id));
  }
  void operator()(const HelloReply& m) const {
    auto b = env.initHelloReply();
    b.setProtocolVersion(m.protocol_version);
    b.setNodeId(AsText(m.node_id));
  }
  void operator()(const ClientGet& m) const {
    auto b = env.initClientGet();
    b.setId(m.id.value);
    b.setNs(AsData(m.ns));
    b.setKey(AsData(m.key));
    b.setR(m.r);
    b.setTimeoutMs(m.timeout_ms);
    b.setForwarded(m.forwarded);
  }
  void operator()(const ClientGetReply& m) const {
    auto b = env.initClientGetReply();
    WriteStateReply(b, m);
  }
  void operator()(const ClientPut& m) const {
    auto b = env.initClientPut();
    b.setId(m.id.value);
    b.setNs(AsData(m.ns));
    b.setKey(AsData(m.key));
    if (!m.context.empty()) {
      WriteContextRecord(m.context, b.initContext(static_cast<unsigned>(m.context.size())));
    }
    if (!m.value.empty()) b.setValue(AsData(m.value));
    b.setTombstone(m.tombstone);
    b.setWriteId(m.write_id);
    b.setW(m.w);
    b.setTimeoutMs(m.timeout_ms);
    b.setTtlMs(m.ttl_ms);
    b.setForwarded(m.forwarded);
  }
  void operator()(const ClientPutReply& m) const {
    auto b = env.initClientPutReply();
    WriteStateReply(b, m);
  }
  void operator()(const CartUpdate& m) const {
    auto b = env.initCartUpdate();
    b.setId(m.id.value);
    b.setNs(AsData(m.ns));
    b.setCartId(AsData(m.cart_id));
    b.setKind(static_cast<wire::CartMutationKind>(m.kind));
    if (!m.sku.empty()) b.setSku(AsData(m.sku));
    b.setQuantity(m.quantity);
    if (!m.attributes.empty()) {
      auto list = b.initAttributes(static_cast<unsigned>(m.attributes.size()));
      for (unsigned i = 0; i < list.size(); ++i) {
        list[i].setKey(AsData(m.attributes[i].first));
        list[i].setValue(AsData(m.attributes[i].second));
      }
    }
    b.setNowMs(m.now_ms);
    b.setMutationId(m.mutation_id);
    if (!m.observed.empty()) {
      auto list = b.initObserved(static_cast<unsigned>(m.observed.size()));
      for (unsigned i = 0; i < list.size(); ++i) list.set(i, m.observed[i]);
    }
    b.setW(m.w);
    b.setTimeoutMs(m.timeout_ms);
    b.setForwarded(m.forwarded);
    b.setTtlMs(m.ttl_ms);
    if (!m.guest.empty()) b.setGuest(AsData(m.guest));
    b.setStrategy(static_cast<wire::CartMergeStrategy>(m.strategy));
    if (!m.merged_into.empty()) b.setMergedInto(AsData(m.merged_into));
  }
  void operator()(const CartUpdateReply& m) const {
    auto b = env.initCartUpdateReply();
    b.setId(m.id.value);
    b.setCode(ToWire(m.code));
    if (!m.message.empty()) b.setMessage(AsText(m.message));
    WriteState(m.state, [&] { return b.initState(); });
  }
  void operator()(const AaeHashRequest& m) const {
    auto b = env.initAaeHashRequest();
    b.setId(m.id.value);
    b.setPartition(m.partition);
    b.setLog2Partitions(m.log2_partitions);
    b.setLevel(static_cast<wire::AaeLevel>(m.level));
    if (!m.groups.empty())
      WriteU32s(m.groups, b.initGroups(static_cast<unsigned>(m.groups.size())));
  }
  void operator()(const AaeHashReply& m) const {
    auto b = env.initAaeHashReply();
    WriteReplyHead(b, m);
    if (m.hashes.empty()) return;
    auto list = b.initHashes(static_cast<unsigned>(m.hashes.size()));
    for (unsigned i = 0; i < list.size(); ++i) list.set(i, m.hashes[i]);
  }
  void operator()(const AaeKeysRequest& m) const {
    auto b = env.initAaeKeysRequest();
    b.setId(m.id.value);
    b.setPartition(m.partition);
    b.setLog2Partitions(m.log2_partitions);
    if (!m.segments.empty()) {
      WriteU32s(m.segments, b.initSegments(static_cast<unsigned>(m.segments.size())));
    }
  }
  void operator()(const AaeKeysReply& m) const {
    auto b = env.initAaeKeysReply();
    WriteReplyHead(b, m);
    if (m.keys.empty()) return;
    auto list = b.initKeys(static_cast<unsigned>(m.keys.size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setNs(AsData(m.keys[i].ns));
      list[i].setKey(AsData(m.keys[i].key));
      list[i].setVersion(m.keys[i].version);
    }
  }
  void operator()(const ReplicaGet& m) const {
    auto b = env.initReplicaGet();
    b.setId(m.id.value);
    b.setNs(AsData(m.ns));
    b.setKey(AsData(m.key));
  }
  void operator()(const ReplicaGetReply& m) const {
    auto b = env.initReplicaGetReply();
    WriteStateReply(b, m);
    b.setFound(m.found);
  }
  void operator()(const ReplicaWrite& m) const {
    auto b = env.initReplicaWrite();
    b.setId(m.id.value);
    b.setNs(AsData(m.ns));
    b.setKey(AsData(m.key));
    WriteState(m.state, [&] { return b.initState(); });
    if (!m.hint_for.empty()) b.setHintFor(AsText(m.hint_for));
    b.setDurable(m.durable);
  }
  void operator()(const ReplicaWriteReply& m) const {
    auto b = env.initReplicaWriteReply();
    WriteReplyHead(b, m);
  }
  void operator()(const Ping& m) const { env.initPing().setNonce(m.nonce); }
  void operator()(const Pong& m) const { env.initPong().setNonce(m.nonce); }
  void operator()(const RingInfoRequest& m) const { env.initRingInfoRequest().setId(m.id.value); }
  void operator()(const RingInfoReply& m) const {
    auto b = env.initRingInfoReply();
    b.setId(m.id.value);
    b.setRingVersion(m.ring_version);
    auto owners = b.initOwners(static_cast<unsigned>(m.owners.size()));
    for (unsigned i = 0; i < owners.size(); ++i) owners.set(i, AsText(m.owners[i]));
    auto members = b.initMembers(static_cast<unsigned>(m.members.size()));
    for (unsigned i = 0; i < members.size(); ++i) {
      members[i].setNodeId(AsText(m.members[i].first));
      members[i].setAddress(AsText(m.members[i].second));
    }
    auto namespaces = b.initNamespaces(static_cast<unsigned>(m.namespaces.size()));
    for (unsigned i = 0; i < namespaces.size(); ++i) {
      const NamespaceInfo& ns = m.namespaces[i];
      namespaces[i].setName(AsData(ns.name));
      namespaces[i].setN(ns.n);
      namespaces[i].setR(ns.r);
      namespaces[i].setW(ns.w);
      namespaces[i].setTtlMs(ns.ttl_ms);
      namespaces[i].setMerge(AsText(ns.merge));
    }
  }
  void operator()(const ErrorReply& m) const {
    auto b = env.initErrorReply();
    WriteReplyHead(b, m);
  }
  void operator()(const StatusRequest& m) const { env.initStatusRequest().setId(m.id.value); }
  void operator()(const StatusReply& m) const {
    auto b = env.initStatusReply();
    WriteReplyHead(b, m);
    b.setNodeId(AsText(m.node_id));
    b.setIncarnation(m.incarnation);
    b.setActor(m.actor);
    b.setPartitions(m.partitions);
    b.setPartitionsOwned(m.partitions_owned);
    b.setPartitionsReplicated(m.partitions_replicated);
    b.setHintsPending(m.hints_pending);
    b.setHintsOldestMs(m.hints_oldest_ms);
    b.setPendingRequests(m.pending_requests);
    if (!m.peers.empty()) {
      auto peers = b.initPeers(static_cast<unsigned>(m.peers.size()));
      for (unsigned i = 0; i < peers.size(); ++i) {
        peers[i].setNodeId(AsText(m.peers[i].node_id));
        peers[i].setUp(m.peers[i].up);
        peers[i].setHintsPending(m.peers[i].hints_pending);
      }
    }
    if (!m.counters.empty()) {
      auto counters = b.initCounters(static_cast<unsigned>(m.counters.size()));
      for (unsigned i = 0; i < counters.size(); ++i) {
        counters[i].setName(AsText(m.counters[i].name));
        counters[i].setValue(m.counters[i].value);
      }
    }
    b.setAaePairsTotal(m.aae_pairs_total);
    if (!m.aae_pairs.empty()) {
      auto pairs = b.initAaePairs(static_cast<unsigned>(m.aae_pairs.size()));
      for (unsigned i = 0; i < pairs.size(); ++i) {
        const AaePairStatus& in = m.aae_pairs[i];
        pairs[i].setPartition(in.partition);
        pairs[i].setPeer(AsText(in.peer));
        pairs[i].setLastExchangeMs(in.last_exchange_ms);
        pairs[i].setLastCleanExchangeMs(in.last_clean_exchange_ms);
        pairs[i].setExchanges(in.exchanges);
        pairs[i].setDifferingSegments(in.differing_segments);
        pairs[i].setKeysRepaired(in.keys_repaired);
      }
    }
  }
};

// Words of the variable parts, so that a message fits one segment. An
// overestimate wastes a little memory; an underestimate costs a second
// segment (8 more bytes on the wire), never correctness.
size_t Words(const std::string& s) { return 1 + (s.size() + kWordBytes) / kWordBytes; }
size_t Words(const VersionVector& vv) { return 2 + 2 * vv.size(); }
size_t Words(const SiblingSet& set) {
  size_t words = 3 + Words(set.context()) + 2 + 7 * set.size();
  for (const Sibling& s : set.siblings()) words += Words(s.value);
  return words;
}

struct Estimator {
  size_t operator()(const Hello& m) const { return Words(m.node_id); }
  size_t operator()(const HelloReply& m) const { return Words(m.node_id); }
  size_t operator()(const ClientGet& m) const { return Words(m.ns) + Words(m.key); }
  size_t operator()(const ClientGetReply& m) const { return Words(m.message) + Words(m.state); }
  size_t operator()(const ClientPut& m) const {
    return Words(m.ns) + Words(m.key) + Words(m.context) + Words(m.value);
  }
  size_t operator()(const ClientPutReply& m) const { return Words(m.message) + Words(m.state); }
  size_t operator()(const CartUpdate& m) const {
    size_t words = Words(m.ns) + Words(m.cart_id) + Words(m.sku) + 1 + m.observed.size() +
                   Words(m.guest) + Words(m.merged_into);
    for (const auto& [key, value] : m.attributes) words += 2 + Words(key) + Words(value);
    return words;
  }
  size_t operator()(const CartUpdateReply& m) const { return Words(m.message) + Words(m.state); }
  size_t operator()(const ReplicaGet& m) const { return Words(m.ns) + Words(m.key); }
  size_t operator()(const AaeHashRequest& m) const { return 1 + m.groups.size() / 2; }
  size_t operator()(const AaeHashReply& m) const { return Words(m.message) + 1 + m.hashes.size(); }
  size_t operator()(const AaeKeysRequest& m) const { return 1 + m.segments.size() / 2; }
  size_t operator()(const AaeKeysReply& m) const {
    size_t words = Words(m.message) + 1;
    for (const AaeKeyEntry& k : m.keys) words += 3 + Words(k.ns) + Words(k.key);
    return words;
  }
  size_t operator()(const ReplicaGetReply& m) const { return Words(m.message) + Words(m.state); }
  size_t operator()(const ReplicaWrite& m) const {
    return Words(m.ns) + Words(m.key) + Words(m.state) + Words(m.hint_for);
  }
  size_t operator()(const ReplicaWriteReply& m) const { return Words(m.message); }
  size_t operator()(const Ping&) const { return 0; }
  size_t operator()(const Pong&) const { return 0; }
  size_t operator()(const RingInfoRequest&) const { return 0; }
  size_t operator()(const RingInfoReply& m) const {
    size_t words = 2 + 2 + 3 * m.members.size();
    for (const std::string& owner : m.owners) words += Words(owner);
    for (const auto& [node, address] : m.members) words += Words(node) + Words(address);
    words += 1 + 5 * m.namespaces.size();  // list tag, then 3 data + 2 pointer words each
    for (const NamespaceInfo& ns : m.namespaces) words += Words(ns.name) + Words(ns.merge);
    return words;
  }
  size_t operator()(const ErrorReply& m) const { return Words(m.message); }
  size_t operator()(const StatusRequest&) const { return 0; }
  size_t operator()(const StatusReply& m) const {
    // Its fixed part is larger than kFixedWords allows for; then one
    // 3-word struct (2 data words, 1 pointer) per peer plus its id.
    using P = wire::StatusReply::_capnpPrivate;
    size_t words = P::dataWordSize + P::pointerCount + Words(m.message) + Words(m.node_id) + 1;
    for (const PeerStatus& peer : m.peers) words += 3 + Words(peer.node_id);
    // One 2-word struct (1 data word, 1 pointer) per counter plus its name.
    words += 1;
    for (const NamedValue& counter : m.counters) words += 2 + Words(counter.name);
    // One 7-word struct (6 data words, 1 pointer) per anti-entropy pair plus its peer.
    words += 1;
    for (const AaePairStatus& pair : m.aae_pairs) words += 7 + Words(pair.peer);
    return words;
  }
};

// Root pointer, the envelope, and the largest fixed part of a message.
constexpr size_t kFixedWords = 16;

unsigned EstimateWords(const Message& message) {
  const size_t words = kFixedWords + std::visit(Estimator{}, message);
  return static_cast<unsigned>(std::min<size_t>(words, std::numeric_limits<unsigned>::max()));
}

// Appends what capnp::writeMessage writes to a std::string.
class StringOutput final : public kj::OutputStream {
 public:
  explicit StringOutput(std::string& out) : out_(out) {}
  using kj::OutputStream::write;
  void write(const void* buffer, size_t size) override {
    out_.append(static_cast<const char*>(buffer), size);
  }

 private:
  std::string& out_;
};

// ---- Decoding

std::string Str(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}
std::string Str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

Result<StatusCode> ReadCode(wire::StatusCode code) {
  const auto raw = static_cast<uint16_t>(code);
  if (raw > kStatusCodeLast) {
    return Status::InvalidArgument("unknown status code " + std::to_string(raw));
  }
  return static_cast<StatusCode>(raw);
}

// The common head of every reply: id, code, message.
template <typename T, typename R>
Result<T> ReadReplyHead(R in) {
  Result<StatusCode> code = ReadCode(in.getCode());
  if (!code.ok()) return code.status();
  T out;
  out.id = RequestId{in.getId()};
  out.code = *code;
  out.message = Str(in.getMessage());
  return out;
}

// A reply that carries a state.
template <typename T, typename R>
Result<T> ReadStateReply(R in) {
  Result<T> out = ReadReplyHead<T>(in);
  if (!out.ok()) return out;
  Result<SiblingSet> state = ReadSiblingSetRecord(in.getState());
  if (!state.ok()) return state.status();
  out->state = std::move(state).value();
  return out;
}

Result<Hello> Read(wire::Hello::Reader in) {
  return Hello{in.getProtocolVersion(), Str(in.getNodeId())};
}
Result<HelloReply> Read(wire::HelloReply::Reader in) {
  return HelloReply{in.getProtocolVersion(), Str(in.getNodeId())};
}
Result<ClientGet> Read(wire::ClientGet::Reader in) {
  return ClientGet{.id = RequestId{in.getId()},
                   .ns = Str(in.getNs()),
                   .key = Str(in.getKey()),
                   .r = in.getR(),
                   .timeout_ms = in.getTimeoutMs(),
                   .forwarded = in.getForwarded()};
}
Result<ClientGetReply> Read(wire::ClientGetReply::Reader in) {
  return ReadStateReply<ClientGetReply>(in);
}
Result<ClientPut> Read(wire::ClientPut::Reader in) {
  Result<VersionVector> context = ReadContextRecord(in.getContext());
  if (!context.ok()) return context.status();
  ClientPut out;
  out.id = RequestId{in.getId()};
  out.ns = Str(in.getNs());
  out.key = Str(in.getKey());
  out.context = std::move(context).value();
  out.value = Str(in.getValue());
  out.tombstone = in.getTombstone();
  out.write_id = in.getWriteId();
  out.w = in.getW();
  out.timeout_ms = in.getTimeoutMs();
  out.ttl_ms = in.getTtlMs();
  out.forwarded = in.getForwarded();
  return out;
}
Result<ClientPutReply> Read(wire::ClientPutReply::Reader in) {
  return ReadStateReply<ClientPutReply>(in);
}
Result<CartUpdate> Read(wire::CartUpdate::Reader in) {
  const auto raw_kind = static_cast<uint16_t>(in.getKind());
  if (raw_kind > static_cast<uint16_t>(CartMutationKind::kMarkMerged)) {
    return Status::InvalidArgument("unknown mutation kind " + std::to_string(raw_kind));
  }
  const auto raw_strategy = static_cast<uint16_t>(in.getStrategy());
  if (raw_strategy > static_cast<uint16_t>(CartMergeStrategy::kKeepUser)) {
    return Status::InvalidArgument("unknown guest merge strategy " + std::to_string(raw_strategy));
  }
  // Bounded before copying; ValidateMessage gives the same error.
  if (in.getGuest().size() > kCartGuestBytesMax) {
    return Status::InvalidArgument("the guest cart is " + std::to_string(in.getGuest().size()) +
                                   " bytes; the limit is " + std::to_string(kCartGuestBytesMax));
  }
  const auto attributes = in.getAttributes();
  // Bounded before allocating; ValidateMessage gives the detailed error.
  if (attributes.size() > kCartAttributesMax) {
    return Status::InvalidArgument(std::to_string(attributes.size()) +
                                   " attributes exceed the limit of " +
                                   std::to_string(kCartAttributesMax));
  }
  const auto observed = in.getObserved();
  if (observed.size() > kCartObservedTagsMax) {
    return Status::InvalidArgument(std::to_string(observed.size()) +
                                   " observed tags exceed the limit of " +
                                   std::to_string(kCartObservedTagsMax));
  }
  CartUpdate out;
  out.id = RequestId{in.getId()};
  out.ns = Str(in.getNs());
  out.cart_id = Str(in.getCartId());
  out.kind = static_cast<CartMutationKind>(raw_kind);
  out.sku = Str(in.getSku());
  out.quantity = in.getQuantity();
  out.attributes.reserve(attributes.size());
  for (wire::CartAttribute::Reader a : attributes) {
    out.attributes.emplace_back(Str(a.getKey()), Str(a.getValue()));
  }
  out.now_ms = in.getNowMs();
  out.mutation_id = in.getMutationId();
  out.observed.reserve(observed.size());
  for (uint64_t tag : observed) out.observed.push_back(tag);
  out.w = in.getW();
  out.timeout_ms = in.getTimeoutMs();
  out.forwarded = in.getForwarded();
  out.ttl_ms = in.getTtlMs();
  out.guest = Str(in.getGuest());
  out.strategy = static_cast<CartMergeStrategy>(raw_strategy);
  out.merged_into = Str(in.getMergedInto());
  return out;
}
Result<CartUpdateReply> Read(wire::CartUpdateReply::Reader in) {
  return ReadStateReply<CartUpdateReply>(in);
}
// A bounded List(UInt32) (ValidateMessage checks the indices).
template <typename L>
Result<std::vector<uint32_t>> ReadU32s(L list, size_t max, std::string_view what) {
  if (list.size() > max) {
    return Status::InvalidArgument(std::to_string(list.size()) + " " + std::string(what) +
                                   " exceeds the limit of " + std::to_string(max));
  }
  std::vector<uint32_t> out;
  out.reserve(list.size());
  for (uint32_t v : list) out.push_back(v);
  return out;
}
Result<AaeHashRequest> Read(wire::AaeHashRequest::Reader in) {
  const auto level = static_cast<uint16_t>(in.getLevel());
  if (level > static_cast<uint16_t>(AaeLevel::kSegments)) {
    return Status::InvalidArgument("unknown level " + std::to_string(level));
  }
  Result<std::vector<uint32_t>> groups =
      ReadU32s(in.getGroups(), kAaeGroupsPerRequestMax, "groups");
  if (!groups.ok()) return groups.status();
  return AaeHashRequest{RequestId{in.getId()}, in.getPartition(), in.getLog2Partitions(),
                        static_cast<AaeLevel>(level), std::move(groups).value()};
}
Result<AaeHashReply> Read(wire::AaeHashReply::Reader in) {
  const auto hashes = in.getHashes();
  if (hashes.size() > 64 * kAaeGroupsPerRequestMax) {
    return Status::InvalidArgument(std::to_string(hashes.size()) + " hashes exceed the limit");
  }
  Result<AaeHashReply> out = ReadReplyHead<AaeHashReply>(in);
  if (!out.ok()) return out;
  out->hashes.reserve(hashes.size());
  for (uint64_t h : hashes) out->hashes.push_back(h);
  return out;
}
Result<AaeKeysRequest> Read(wire::AaeKeysRequest::Reader in) {
  Result<std::vector<uint32_t>> segments =
      ReadU32s(in.getSegments(), kAaeSegmentsPerRequestMax, "segments");
  if (!segments.ok()) return segments.status();
  return AaeKeysRequest{RequestId{in.getId()}, in.getPartition(), in.getLog2Partitions(),
                        std::move(segments).value()};
}
Result<AaeKeysReply> Read(wire::AaeKeysReply::Reader in) {
  const auto keys = in.getKeys();
  if (keys.size() > kAaeKeysPerReplyMax) {
    return Status::InvalidArgument(std::to_string(keys.size()) + " keys exceed the limit of " +
                                   std::to_string(kAaeKeysPerReplyMax));
  }
  Result<AaeKeysReply> out = ReadReplyHead<AaeKeysReply>(in);
  if (!out.ok()) return out;
  out->keys.reserve(keys.size());
  for (wire::AaeKeyVersion::Reader k : keys) {
    out->keys.push_back(AaeKeyEntry{Str(k.getNs()), Str(k.getKey()), k.getVersion()});
  }
  return out;
}
Result<ReplicaGet> Read(wire::ReplicaGet::Reader in) {
  return ReplicaGet{RequestId{in.getId()}, Str(in.getNs()), Str(in.getKey())};
}
Result<ReplicaGetReply> Read(wire::ReplicaGetReply::Reader in) {
  Result<ReplicaGetReply> out = ReadStateReply<ReplicaGetReply>(in);
  if (out.ok()) out->found = in.getFound();
  return out;
}
Result<ReplicaWrite> Read(wire::ReplicaWrite::Reader in) {
  Result<SiblingSet> state = ReadSiblingSetRecord(in.getState());
  if (!state.ok()) return state.status();
  return ReplicaWrite{RequestId{in.getId()},    Str(in.getNs()),      Str(in.getKey()),
                      std::move(state).value(), Str(in.getHintFor()), in.getDurable()};
}
Result<ReplicaWriteReply> Read(wire::ReplicaWriteReply::Reader in) {
  return ReadReplyHead<ReplicaWriteReply>(in);
}
Result<Ping> Read(wire::Ping::Reader in) { return Ping{in.getNonce()}; }
Result<Pong> Read(wire::Pong::Reader in) { return Pong{in.getNonce()}; }
Result<RingInfoRequest> Read(wire::RingInfoRequest::Reader in) {
  return RingInfoRequest{RequestId{in.getId()}};
}
Result<RingInfoReply> Read(wire::RingInfoReply::Reader in) {
  RingInfoReply out;
  out.id = RequestId{in.getId()};
  out.ring_version = in.getRingVersion();
  const auto owners = in.getOwners();
  const auto members = in.getMembers();
  // Bounded before allocating; ValidateMessage gives the detailed error.
  if (owners.size() > kPartitionsMax || members.size() > kPartitionsMax) {
    return Status::InvalidArgument("ring of " + std::to_string(owners.size()) + " partitions and " +
                                   std::to_string(members.size()) +
                                   " members exceeds the limit of " +
                                   std::to_string(kPartitionsMax));
  }
  out.owners.reserve(owners.size());
  for (capnp::Text::Reader owner : owners) out.owners.push_back(Str(owner));
  out.members.reserve(members.size());
  for (wire::Member::Reader m : members) {
    out.members.emplace_back(Str(m.getNodeId()), Str(m.getAddress()));
  }
  const auto namespaces = in.getNamespaces();
  if (namespaces.size() > kNamespacesMax) {
    return Status::InvalidArgument(std::to_string(namespaces.size()) +
                                   " namespaces exceed the limit of " +
                                   std::to_string(kNamespacesMax));
  }
  out.namespaces.reserve(namespaces.size());
  for (wire::NamespaceInfo::Reader ns : namespaces) {
    out.namespaces.push_back(NamespaceInfo{Str(ns.getName()), ns.getN(), ns.getR(), ns.getW(),
                                           ns.getTtlMs(), Str(ns.getMerge())});
  }
  return out;
}
Result<ErrorReply> Read(wire::ErrorReply::Reader in) { return ReadReplyHead<ErrorReply>(in); }
Result<StatusRequest> Read(wire::StatusRequest::Reader in) {
  return StatusRequest{RequestId{in.getId()}};
}
Result<StatusReply> Read(wire::StatusReply::Reader in) {
  const auto peers = in.getPeers();
  // Bounded before allocating; ValidateMessage gives the detailed error.
  if (peers.size() > kPartitionsMax) {
    return Status::InvalidArgument(std::to_string(peers.size()) + " peers exceeds the limit of " +
                                   std::to_string(kPartitionsMax));
  }
  const auto counters = in.getCounters();
  if (counters.size() > kStatusCountersMax) {
    return Status::InvalidArgument(std::to_string(counters.size()) +
                                   " counters exceeds the limit of " +
                                   std::to_string(kStatusCountersMax));
  }
  const auto aae_pairs = in.getAaePairs();
  if (aae_pairs.size() > kStatusAaePairsMax) {
    return Status::InvalidArgument(std::to_string(aae_pairs.size()) +
                                   " anti-entropy pairs exceeds the limit of " +
                                   std::to_string(kStatusAaePairsMax));
  }
  Result<StatusReply> out = ReadReplyHead<StatusReply>(in);
  if (!out.ok()) return out;
  out->node_id = Str(in.getNodeId());
  out->incarnation = in.getIncarnation();
  out->actor = in.getActor();
  out->partitions = in.getPartitions();
  out->partitions_owned = in.getPartitionsOwned();
  out->partitions_replicated = in.getPartitionsReplicated();
  out->hints_pending = in.getHintsPending();
  out->hints_oldest_ms = in.getHintsOldestMs();
  out->pending_requests = in.getPendingRequests();
  out->peers.reserve(peers.size());
  for (wire::PeerStatus::Reader peer : peers) {
    out->peers.push_back(PeerStatus{Str(peer.getNodeId()), peer.getUp(), peer.getHintsPending()});
  }
  out->counters.reserve(counters.size());
  for (wire::NamedCounter::Reader counter : counters) {
    out->counters.push_back(NamedValue{Str(counter.getName()), counter.getValue()});
  }
  out->aae_pairs_total = in.getAaePairsTotal();
  out->aae_pairs.reserve(aae_pairs.size());
  for (wire::AaePairStatus::Reader pair : aae_pairs) {
    out->aae_pairs.push_back(AaePairStatus{pair.getPartition(), Str(pair.getPeer()),
                                           pair.getLastExchangeMs(), pair.getLastCleanExchangeMs(),
                                           pair.getExchanges(), pair.getDifferingSegments(),
                                           pair.getKeysRepaired()});
  }
  return out;
}

// Reads one union member as T; errors are prefixed with the message name.
template <typename T, typename R>
Result<Message> Lift(R in) {
  Result<T> out = Read(in);
  if (!out.ok()) {
    return Status(out.status().code(),
                  std::string(MessageName(Message(T{}))) + ": " + out.status().message());
  }
  return Message(std::move(out).value());
}

Result<Message> ReadEnvelope(wire::Envelope::Reader env) {
  using E = wire::Envelope;
  switch (env.which()) {
    case E::HELLO:
      return Lift<Hello>(env.getHello());
    case E::HELLO_REPLY:
      return Lift<HelloReply>(env.getHelloReply());
    case E::CLIENT_GET:
      return Lift<ClientGet>(env.getClientGet());
    case E::CLIENT_GET_REPLY:
      return Lift<ClientGetReply>(env.getClientGetReply());
    case E::CLIENT_PUT:
      return Lift<ClientPut>(env.getClientPut());
    case E::CLIENT_PUT_REPLY:
      return Lift<ClientPutReply>(env.getClientPutReply());
    case E::REPLICA_GET:
      return Lift<ReplicaGet>(env.getReplicaGet());
    case E::REPLICA_GET_REPLY:
      return Lift<ReplicaGetReply>(env.getReplicaGetReply());
    case E::REPLICA_WRITE:
      return Lift<ReplicaWrite>(env.getReplicaWrite());
    case E::REPLICA_WRITE_REPLY:
      return Lift<ReplicaWriteReply>(env.getReplicaWriteReply());
    case E::PING:
      return Lift<Ping>(env.getPing());
    case E::PONG:
      return Lift<Pong>(env.getPong());
    case E::RING_INFO_REQUEST:
      return Lift<RingInfoRequest>(env.getRingInfoRequest());
    case E::RING_INFO_REPLY:
      return Lift<RingInfoReply>(env.getRingInfoReply());
    case E::ERROR_REPLY:
      return Lift<ErrorReply>(env.getErrorReply());
    case E::STATUS_REQUEST:
      return Lift<StatusRequest>(env.getStatusRequest());
    case E::STATUS_REPLY:
      return Lift<StatusReply>(env.getStatusReply());
    case E::CART_UPDATE:
      return Lift<CartUpdate>(env.getCartUpdate());
    case E::CART_UPDATE_REPLY:
      return Lift<CartUpdateReply>(env.getCartUpdateReply());
    case E::AAE_HASH_REQUEST:
      return Lift<AaeHashRequest>(env.getAaeHashRequest());
    case E::AAE_HASH_REPLY:
      return Lift<AaeHashReply>(env.getAaeHashReply());
    case E::AAE_KEYS_REQUEST:
      return Lift<AaeKeysRequest>(env.getAaeKeysRequest());
    case E::AAE_KEYS_REPLY:
      return Lift<AaeKeysReply>(env.getAaeKeysReply());
  }
  return Status::InvalidArgument("unknown message type " +
                                 std::to_string(static_cast<uint16_t>(env.which())));
}

Status CheckShape(std::string_view payload) {
  if (payload.size() < kPayloadBytesMin || payload.size() % kWordBytes != 0) {
    return Status::Corruption("message truncated: a " + std::to_string(payload.size()) +
                              "-byte payload is not a whole number of words, or shorter than " +
                              std::to_string(kPayloadBytesMin) + " bytes");
  }
  return Status::Ok();
}

// The payload as words: in place when it is aligned (a frame's own
// std::string usually is), otherwise copied into `copy`.
kj::ArrayPtr<const capnp::word> AlignedWords(std::string_view payload,
                                             kj::Array<capnp::word>& copy) {
  const size_t words = payload.size() / kWordBytes;
  if (reinterpret_cast<uintptr_t>(payload.data()) % alignof(capnp::word) == 0) {
    return {reinterpret_cast<const capnp::word*>(payload.data()), words};
  }
  copy = kj::heapArray<capnp::word>(words);
  std::memcpy(copy.begin(), payload.data(), payload.size());
  return {copy.begin(), copy.size()};
}

Result<Message> ReadPayload(kj::ArrayPtr<const capnp::word> words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      kMessageTraversalWordsMin + kMessageTraversalWordsPerWord * words.size();
  options.nestingLimit = kMessageNestingLimit;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      return Status::Corruption(std::to_string((words.end() - reader.getEnd()) * kWordBytes) +
                                " trailing bytes after the Cap'n Proto message");
    }
    return ReadEnvelope(reader.getRoot<wire::Envelope>());
  } catch (const kj::Exception& e) {
    return Status::Corruption(std::string("malformed Cap'n Proto message: ") +
                              e.getDescription().cStr());
  }
}

}  // namespace

std::string EncodeMessage(const Message& message) {
  capnp::MallocMessageBuilder builder(EstimateWords(message));
  std::visit(Writer{builder.initRoot<wire::Envelope>()}, message);
  std::string out;
  out.reserve(capnp::computeSerializedSizeInWords(builder) * kWordBytes);
  StringOutput stream(out);
  capnp::writeMessage(stream, builder);
  return out;
}

Result<Message> DecodeMessage(std::string_view payload) {
  Status shape = CheckShape(payload);
  if (!shape.ok()) return shape;
  kj::Array<capnp::word> copy;
  Result<Message> message = ReadPayload(AlignedWords(payload, copy));
  if (!message.ok()) return message;
  Status valid = ValidateMessage(*message);
  if (!valid.ok()) return valid;
  return message;
}

Status AppendMessageFrame(std::string& out, const Message& message, uint32_t frame_bytes_max) {
  capnp::MallocMessageBuilder builder(EstimateWords(message));
  std::visit(Writer{builder.initRoot<wire::Envelope>()}, message);
  const size_t bytes = capnp::computeSerializedSizeInWords(builder) * kWordBytes;
  if (bytes > frame_bytes_max) {
    return Status::LimitExceeded(std::string(MessageName(message)) + " of " +
                                 std::to_string(bytes) + " bytes exceeds the frame limit of " +
                                 std::to_string(frame_bytes_max));
  }
  AppendFrameHeader(out, static_cast<uint32_t>(bytes));
  StringOutput stream(out);
  capnp::writeMessage(stream, builder);
  return Status::Ok();
}

}  // namespace trolley
