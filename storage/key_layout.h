// key_layout: the byte layout of the keys (and the fixed-size value
// headers) of LmdbEngine's data dir, and the key order it implies. The one
// statement of that layout: LmdbEngine writes and reads it, NamespaceRouter
// merges runs of several engines in its order, and the simulator's SimEngine
// keeps its maps in it, so the three cannot drift apart. The format is on
// disk: changing a byte here needs a new kDataFormatVersion and a migration.
//
//   objects  key = KeyHash (8, big-endian) | ns length (1) | ns | key
//            Hash first makes every ring partition a contiguous key range.
//   hints    key = target length (1) | target | object key as above
//            value = created_ms (8, little-endian) | SiblingSet record
//   aae_index  key = object key as above; value = the key's anti-entropy
//            version (storage/aae_tree.h, VersionHash) as of its last write
//            or verification (8, BE). Written in the transaction that
//            writes the object; no entry for an absent key (version 0).
//   meta     kMetaFormatVersion, kMetaActorEpoch, kMetaCleanShutdown:
//            8-byte big-endian values; kDotFloorPrefix | actor (8, BE):
//            that actor's dot counter floor (8, BE). kMetaAaeIndexBuilt
//            (8, BE, value 1): aae_index covers every object; absent, the
//            next open builds it from the objects (a dir from a build
//            without it, or one such a build wrote to: that build leaves
//            the index stale, and sweeps' verification repairs it).
//
// Format history: 1 kept a counter under kMetaIncarnationV1 (the actor id
// was derived from it, so an emptied or restored dir reissued old dots);
// 2 replaces it by kMetaActorEpoch, a random value new at every open
// (docs/design.md, 'The LMDB engine'). Opening a format 1 dir migrates it.
//
// Invariants:
//   1. Comparing two object keys (CompareObjectKeys) or two hint keys
//      (CompareHintKeys) gives the order of their encodings as unsigned bytes
//      (LMDB's default key order).
//   2. Decode(Encode(x)) == x for every valid key; a malformed key (written
//      by an older or broken build) decodes to a Corruption status, never a
//      crash.
// Pure functions: no LMDB, no I/O, no state; thread-safe.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/engine.h"

namespace trolley::key_layout {

// The layout of the data dir as a whole (stored under kMetaFormatVersion).
inline constexpr uint64_t kDataFormatVersion = 2;

inline constexpr size_t kHashBytes = 8;
// Hash and ns length: the bytes before the namespace in an object key.
inline constexpr size_t kObjectKeyHeaderBytes = kHashBytes + 1;
// created_ms before the SiblingSet record in a hint value.
inline constexpr size_t kHintValueHeaderBytes = 8;
// The most bytes a one-byte length prefix can count (hint targets).
inline constexpr size_t kLengthPrefixMax = 255;
static_assert(kNamespaceBytesMax <= kLengthPrefixMax, "ns length must fit its one byte");

// Meta keys.
inline constexpr std::string_view kMetaFormatVersion = "format_version";
// Random, nonzero, replaced at every open: this life's actor epoch.
inline constexpr std::string_view kMetaActorEpoch = "actor_epoch";
// Format 1 only: the incarnation counter; a migration deletes it.
inline constexpr std::string_view kMetaIncarnationV1 = "incarnation";
inline constexpr std::string_view kMetaCleanShutdown = "clean_shutdown";
inline constexpr std::string_view kMetaAaeIndexBuilt = "aae_index_built";
inline constexpr std::string_view kDotFloorPrefix = "dot/";
inline constexpr size_t kDotFloorKeyBytes = kDotFloorPrefix.size() + 8;

// ---- fixed-width integers ----

// Big-endian, so that byte order is numeric order.
void AppendU64Be(std::string& out, uint64_t value);
std::string EncodeU64Be(uint64_t value);
// Exactly 8 bytes, else Corruption naming `what`.
Result<uint64_t> DecodeU64Be(std::string_view bytes, std::string_view what);

// ---- objects ----

// Asserts the ns fits its length byte (ValidateObjectKey keeps it smaller).
std::string EncodeObjectKey(const ObjectKey& key);
// The smallest object key whose hash is `hash`: where a scan of a hash range starts.
std::string ObjectKeySeek(uint64_t hash);
// The smallest object key greater than `key`: where a scan resumes after it.
std::string ObjectKeySeekAfter(const ObjectKey& key);
// Corruption unless `raw` is hash | ns length | ns (1 or more bytes) | key (1 or more).
Result<ObjectKey> DecodeObjectKey(std::string_view raw);
// The hash an encoded object key starts with; Corruption if it is too short.
Result<uint64_t> ObjectKeyHash(std::string_view raw);

// The order of EncodeObjectKey's bytes, from the hashes (KeyHash of each
// key, computed by the caller when it has them) and the keys.
std::strong_ordering CompareObjectKeys(uint64_t hash_a, const ObjectKey& a, uint64_t hash_b,
                                       const ObjectKey& b);
std::strong_ordering CompareObjectKeys(const ObjectKey& a, const ObjectKey& b);

// ---- hints ----

// target length | target: the prefix every hint for `target` starts with.
// Asserts target size <= kLengthPrefixMax (ValidateHint keeps stored targets to 1..255).
std::string HintKeyPrefix(std::string_view target);
std::string EncodeHintKey(std::string_view target, const ObjectKey& key);

struct DecodedHintKey {
  std::string target;
  ObjectKey key;
};
Result<DecodedHintKey> DecodeHintKey(std::string_view raw);
// Just the target of an encoded hint key (no object key check).
Result<std::string> HintKeyTarget(std::string_view raw);

// The order of hint targets in the hints table: by length, then bytes.
std::strong_ordering CompareHintTargets(std::string_view a, std::string_view b);
// The order of EncodeHintKey's bytes.
std::strong_ordering CompareHintKeys(std::string_view target_a, uint64_t hash_a, const ObjectKey& a,
                                     std::string_view target_b, uint64_t hash_b,
                                     const ObjectKey& b);

// created_ms (8, little-endian), to which the caller appends the record.
std::string EncodeHintValueHeader(uint64_t created_ms);
// created_ms of a hint value; Corruption if shorter than its header.
Result<uint64_t> HintValueCreatedMs(std::string_view raw_value);
// The SiblingSet record after the header; asserts the header is there.
std::string_view HintValueRecord(std::string_view raw_value);

// ---- meta ----

std::string DotFloorKey(ActorId actor);
// Corruption unless `raw` is kDotFloorPrefix followed by 8 bytes.
Result<ActorId> DecodeDotFloorKey(std::string_view raw);

// ---- ranges ----

// The smallest byte string greater than `raw`: raw | 0x00. Where a cursor
// resumes after a key it has seen.
std::string ImmediateSuccessor(std::string_view raw);

// The smallest byte string greater than every string that starts with
// `prefix`; empty when there is none (prefix empty or all 0xff): the caller
// scans to the end.
std::string PrefixSuccessor(std::string prefix);

}  // namespace trolley::key_layout
