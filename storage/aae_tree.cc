#include "storage/aae_tree.h"

#include <xxhash.h>

#include "common/assert.h"

namespace trolley {
namespace {

// Chains `words` into `seed`: one XXH3 call per record, nothing allocated.
template <size_t N>
uint64_t Chain(uint64_t seed, const uint64_t (&words)[N]) {
  unsigned char bytes[N * 8];
  for (size_t w = 0; w < N; ++w) {
    for (size_t i = 0; i < 8; ++i)
      bytes[w * 8 + i] = static_cast<unsigned char>(words[w] >> (8 * i));
  }
  return XXH3_64bits_withSeed(bytes, sizeof(bytes), seed);
}

}  // namespace

uint64_t VersionHash(const SiblingSet& state, uint64_t now_ms) {
  uint64_t h = 0;
  uint64_t live = 0;
  for (const Sibling& s : state.siblings()) {
    if (s.ExpiredAt(now_ms)) continue;
    ++live;
    h = Chain(h, {s.dot.actor, s.dot.counter, s.tombstone ? 1u : 0u, s.expiry_ms});
  }
  if (live == 0) return 0;
  h = Chain(h, {live});
  for (const VersionVector::Entry& e : state.context().entries())
    h = Chain(h, {e.actor, e.counter});
  return h == 0 ? 1 : h;  // 0 is reserved for "absent"
}

uint64_t KeyContribution(std::string_view raw_object_key, uint64_t version) {
  if (version == 0) return 0;
  return XXH3_64bits_withSeed(raw_object_key.data(), raw_object_key.size(), version);
}

AaeTree::AaeTree() : segments_(kSegments, 0), branches_(kBranches, 0) {}

uint64_t AaeTree::SegmentFirstHash(uint32_t segment) {
  TROLLEY_ASSERT(segment < kSegments);
  return static_cast<uint64_t>(segment) << (64 - kSegmentBits);
}

uint64_t AaeTree::SegmentLastHash(uint32_t segment) {
  return SegmentFirstHash(segment) | ((uint64_t{1} << (64 - kSegmentBits)) - 1);
}

void AaeTree::Apply(uint64_t key_hash, uint64_t delta) {
  const uint32_t s = SegmentOfHash(key_hash);
  segments_[s] ^= delta;
  branches_[s / kSegmentsPerBranch] ^= delta;
}

void AaeTree::XorWith(const AaeTree& other) {
  for (uint32_t s = 0; s < kSegments; ++s) segments_[s] ^= other.segments_[s];
  for (uint32_t b = 0; b < kBranches; ++b) branches_[b] ^= other.branches_[b];
}

void AaeTree::Clear() {
  std::fill(segments_.begin(), segments_.end(), 0);
  std::fill(branches_.begin(), branches_.end(), 0);
}

namespace {

std::vector<uint64_t> Slice(const std::vector<uint64_t>& level, uint32_t first, uint32_t count) {
  TROLLEY_ASSERT(first <= level.size());
  TROLLEY_ASSERT(count <= level.size() - first);
  return std::vector<uint64_t>(level.begin() + first, level.begin() + first + count);
}

}  // namespace

std::vector<uint64_t> AaeTree::Segments(uint32_t first, uint32_t count) const {
  return Slice(segments_, first, count);
}

std::vector<uint64_t> AaeTree::Branches(uint32_t first, uint32_t count) const {
  return Slice(branches_, first, count);
}

uint64_t AaeTree::RangeHash(uint32_t first_segment, uint32_t count) const {
  TROLLEY_ASSERT(first_segment + count <= kSegments);
  uint64_t h = 0;
  uint32_t s = first_segment;
  const uint32_t end = first_segment + count;
  while (s < end) {
    if (s % kSegmentsPerBranch == 0 && s + kSegmentsPerBranch <= end) {
      h ^= branches_[s / kSegmentsPerBranch];
      s += kSegmentsPerBranch;
    } else {
      h ^= segments_[s++];
    }
  }
  return h;
}

void AaeTree::CheckInvariants() const {
  TROLLEY_ASSERT(segments_.size() == kSegments && branches_.size() == kBranches);
  for (uint32_t b = 0; b < kBranches; ++b) {
    uint64_t h = 0;
    for (uint32_t i = 0; i < kSegmentsPerBranch; ++i) h ^= segments_[b * kSegmentsPerBranch + i];
    TROLLEY_ASSERT(h == branches_[b]);
  }
}

SegmentRange PartitionSegments(uint32_t partition, uint32_t log2_partitions) {
  TROLLEY_ASSERT(log2_partitions <= AaeTree::kSegmentBits);
  TROLLEY_ASSERT(partition < (1u << log2_partitions));
  const uint32_t count = 1u << (AaeTree::kSegmentBits - log2_partitions);
  return SegmentRange{partition * count, count};
}

}  // namespace trolley
