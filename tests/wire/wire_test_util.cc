#include "tests/wire/wire_test_util.h"

#include <map>
#include <string>

#include "common/assert.h"
#include "tests/support/random_state.h"

namespace trolley::wire_test {

using test_support::RandomBytes;
using test_support::RandomState;

namespace {

// Valid NodeId: printable ASCII without spaces.
std::string RandomNodeId(Random& rng) {
  std::string out(rng.Range(1, 24), 'n');
  for (char& c : out) c = static_cast<char>(rng.Range('!', '~'));
  return out;
}

std::string RandomText(Random& rng, size_t size_max) {
  std::string out(rng.Uniform(size_max + 1), ' ');
  for (char& c : out) c = static_cast<char>(rng.Range(' ', '~'));
  return out;
}

StatusCode RandomCode(Random& rng) {
  return static_cast<StatusCode>(
      rng.Uniform(static_cast<int>(StatusCode::kFailedPrecondition) + 1));
}

RequestId RandomId(Random& rng) { return RequestId{rng.Next()}; }
std::string RandomNs(Random& rng) { return RandomBytes(rng, 1, 64); }
std::string RandomKey(Random& rng) { return RandomBytes(rng, 1, 400); }

RingInfoReply RandomRingInfo(Random& rng) {
  RingInfoReply m{RandomId(rng), rng.Next(), {}, {}};
  const size_t members = 1 + rng.Uniform(8);
  for (size_t i = 0; i < members; ++i) {
    m.members.emplace_back(RandomNodeId(rng), "10.0.0." + std::to_string(i) + ":" +
                                                  std::to_string(rng.Range(1, 65535)));
  }
  const size_t partitions = size_t{1} << rng.Uniform(9);
  for (size_t p = 0; p < partitions; ++p) {
    m.owners.push_back(m.members[rng.Uniform(members)].first);
  }
  const size_t namespaces = rng.Uniform(4);
  for (size_t i = 0; i < namespaces; ++i) {
    const uint32_t n = 1 + static_cast<uint32_t>(rng.Uniform(5));
    m.namespaces.push_back(NamespaceInfo{RandomNs(rng), n,
                                         1 + static_cast<uint32_t>(rng.Uniform(n)),
                                         1 + static_cast<uint32_t>(rng.Uniform(n)), rng.Next(),
                                         rng.Uniform(2) ? "or-set" : "union-max"});
  }
  return m;
}

StatusReply RandomStatusReply(Random& rng) {
  const uint32_t partitions = uint32_t{1} << rng.Uniform(17);
  const auto replicated = static_cast<uint32_t>(rng.Uniform(uint64_t{partitions} + 1));
  StatusReply m{.id = RandomId(rng),
                .code = RandomCode(rng),
                .message = RandomText(rng, 80),
                .node_id = RandomNodeId(rng),
                .incarnation = rng.Next(),
                .actor = rng.Next(),
                .partitions = rng.Chance(0.1) ? 0 : partitions,
                .partitions_owned = static_cast<uint32_t>(rng.Uniform(uint64_t{replicated} + 1)),
                .partitions_replicated = replicated,
                .hints_pending = rng.Next(),
                .hints_oldest_ms = rng.Next(),
                .pending_requests = rng.Next(),
                .peers = {},
                .counters = {}};
  if (m.partitions == 0) m.partitions_owned = m.partitions_replicated = 0;
  const size_t counters = rng.Uniform(12);
  for (size_t i = 0; i < counters; ++i) {
    m.counters.push_back(NamedValue{"counter_" + std::to_string(i), rng.Next()});
  }
  const size_t peers = rng.Uniform(12);
  for (size_t i = 0; i < peers; ++i) {
    m.peers.push_back(
        PeerStatus{RandomNodeId(rng), rng.Chance(0.5), rng.Next() >> rng.Uniform(64)});
  }
  return m;
}

CartUpdate RandomCartUpdate(Random& rng) {
  CartUpdate m{.id = RandomId(rng),
               .ns = RandomNs(rng),
               .cart_id = RandomKey(rng),
               .kind = static_cast<CartMutationKind>(rng.Uniform(6)),
               .sku = RandomBytes(rng, 0, 64),
               .quantity = static_cast<uint32_t>(rng.Next()),
               .now_ms = rng.Next(),
               .mutation_id = rng.Next() | 1,
               .w = static_cast<uint32_t>(rng.Next()),
               .timeout_ms = static_cast<uint32_t>(rng.Next()),
               .forwarded = rng.Chance(0.5),
               .ttl_ms = rng.Next()};
  std::map<std::string, std::string> attributes;
  const size_t count = rng.Uniform(4);
  for (size_t i = 0; i < count; ++i) attributes[RandomBytes(rng, 1, 16)] = RandomBytes(rng, 0, 32);
  m.attributes.assign(attributes.begin(), attributes.end());
  const size_t tags = rng.Uniform(6);
  for (size_t i = 0; i < tags; ++i) m.observed.push_back(rng.Next() | 1);
  // Any bytes: the node decodes the guest cart as untrusted input.
  if (m.kind == CartMutationKind::kMergeGuest) m.guest = RandomBytes(rng, 0, 200);
  m.strategy = static_cast<CartMergeStrategy>(rng.Uniform(3));
  if (m.kind == CartMutationKind::kMarkMerged) m.merged_into = RandomBytes(rng, 0, 64);
  return m;
}

// A valid AaeHashRequest: a partition of a ring of up to 2^16, groups inside it.
AaeHashRequest RandomAaeHashRequest(Random& rng) {
  const auto log2 = static_cast<uint32_t>(rng.Uniform(kAaeLog2PartitionsMax + 1));
  const uint32_t segments = uint32_t{1} << (kAaeLog2PartitionsMax - log2);
  const uint32_t groups = segments / std::min<uint32_t>(64, segments);
  AaeHashRequest m{RandomId(rng),
                   static_cast<uint32_t>(rng.Uniform(uint64_t{1} << log2)),
                   log2,
                   static_cast<AaeLevel>(rng.Uniform(3)),
                   {}};
  if (m.level == AaeLevel::kSegments) {
    m.groups.resize(rng.Uniform(std::min<uint64_t>(groups, 16) + 1));
    for (uint32_t& g : m.groups) g = static_cast<uint32_t>(rng.Uniform(groups));
  }
  return m;
}

AaeKeysRequest RandomAaeKeysRequest(Random& rng) {
  const auto log2 = static_cast<uint32_t>(rng.Uniform(kAaeLog2PartitionsMax + 1));
  const uint32_t segments = uint32_t{1} << (kAaeLog2PartitionsMax - log2);
  AaeKeysRequest m{
      RandomId(rng), static_cast<uint32_t>(rng.Uniform(uint64_t{1} << log2)), log2, {}};
  m.segments.resize(rng.Uniform(std::min<uint64_t>(segments, kAaeSegmentsPerRequestMax) + 1));
  for (uint32_t& s : m.segments) s = static_cast<uint32_t>(rng.Uniform(segments));
  return m;
}

}  // namespace

Message RandomMessage(Random& rng, size_t index) {
  switch (index) {
    case 0:
      return Hello{static_cast<uint32_t>(rng.Next()), rng.Chance(0.3) ? "" : RandomNodeId(rng)};
    case 1:
      return HelloReply{static_cast<uint32_t>(rng.Next()), RandomNodeId(rng)};
    case 2:
      return ClientGet{RandomId(rng),
                       RandomNs(rng),
                       RandomKey(rng),
                       static_cast<uint32_t>(rng.Next()),
                       static_cast<uint32_t>(rng.Next()),
                       rng.Chance(0.5)};
    case 3:
      return ClientGetReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), RandomState(rng)};
    case 4: {
      // Designated initializers are evaluated in order, so the seed replays.
      ClientPut m{.id = RandomId(rng),
                  .ns = RandomNs(rng),
                  .key = RandomKey(rng),
                  .context = RandomState(rng).context(),
                  .tombstone = rng.Chance(0.2),
                  .write_id = rng.Next(),
                  .w = static_cast<uint32_t>(rng.Next()),
                  .timeout_ms = static_cast<uint32_t>(rng.Next()),
                  .ttl_ms = rng.Next(),
                  .forwarded = rng.Chance(0.5)};
      if (!m.tombstone) m.value = RandomBytes(rng, 0, 2000);
      return m;
    }
    case 5:
      return ClientPutReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), RandomState(rng)};
    case 6:
      return ReplicaGet{RandomId(rng), RandomNs(rng), RandomKey(rng)};
    case 7:
      return ReplicaGetReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), RandomState(rng),
                             rng.Chance(0.5)};
    case 8:
      return ReplicaWrite{RandomId(rng),
                          RandomNs(rng),
                          RandomKey(rng),
                          RandomState(rng),
                          rng.Chance(0.5) ? "" : RandomNodeId(rng),
                          rng.Chance(0.5)};
    case 9:
      return ReplicaWriteReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80)};
    case 10:
      return Ping{rng.Next()};
    case 11:
      return Pong{rng.Next()};
    case 12:
      return RingInfoRequest{RandomId(rng)};
    case 13:
      return RandomRingInfo(rng);
    case 14:
      return ErrorReply{RandomId(rng), RandomCode(rng), RandomText(rng, 200)};
    case 15:
      return StatusRequest{RandomId(rng)};
    case 16:
      return RandomStatusReply(rng);
    case 17:
      return RandomCartUpdate(rng);
    case 18:
      return CartUpdateReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), RandomState(rng)};
    case 19:
      return RandomAaeHashRequest(rng);
    case 20: {
      std::vector<uint64_t> hashes(rng.Uniform(200));
      for (uint64_t& h : hashes) h = rng.Next();
      return AaeHashReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), std::move(hashes)};
    }
    case 21:
      return RandomAaeKeysRequest(rng);
    case 22: {
      std::vector<AaeKeyEntry> keys(rng.Uniform(20));
      for (AaeKeyEntry& k : keys)
        k = AaeKeyEntry{RandomNs(rng), RandomKey(rng), 1 + rng.Uniform(~uint64_t{0} - 1)};
      return AaeKeysReply{RandomId(rng), RandomCode(rng), RandomText(rng, 80), std::move(keys)};
    }
  }
  TROLLEY_ASSERT(false);
  return Ping{};
}

}  // namespace trolley::wire_test
