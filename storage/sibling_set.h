// SiblingSet: the state of one key on one replica.
//
// A key's state is a set of siblings (values written concurrently), each
// tagged with the Dot of the write that made it, plus one causal context:
// a version vector of every dot this state has seen, alive or overwritten.
// This is the dotted-version-vector set of Preguiça, Baquero et al.,
// "Dotted Version Vectors" (2012), as in Riak 2.0's dvvset, in the
// "causal context + dot store" form of Almeida et al., "Delta State
// Replicated Data Types" (2018).
//
// Rules (docs/design.md, 'Versions: dotted version vector sets'):
//  1. A write whose context covers every sibling replaces them all.
//  2. Concurrent writes all survive, including two writes through the same
//     coordinator from the same context: each gets its own dot, and a dot
//     is only removed by a context that covers it. (With one vector clock
//     per object, the second would silently dominate the first.)
//  3. Merge is a join: commutative, associative, idempotent.
//  4. Re-delivery and repair never add siblings (merge is idempotent); a
//     retried write (same non-zero write_id, same value or both deletes)
//     through the same coordinator is absorbed by the sibling it already
//     made. The same id with other bytes is a new write.
//  5. Deletes are tombstone siblings with a context; they are ordinary
//     siblings for causality and are purged by age elsewhere (Engine::Sweep).
//
// Invariants, checked by CheckInvariants() (always on in tests):
//  - siblings are sorted by dot, no two share a dot;
//  - every sibling's dot is covered by the context;
//  - merges and writes never move the context backwards.
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/version_vector.h"

namespace trolley {

struct Sibling {
  Dot dot;
  std::string value;          // opaque bytes; empty for a tombstone
  bool tombstone = false;     // a delete
  uint64_t write_id = 0;      // the client's id for this logical write; 0 = none
  uint64_t timestamp_ms = 0;  // coordinator's wall clock when written
  uint64_t expiry_ms = 0;     // wall-clock expiry; 0 = never

  bool ExpiredAt(uint64_t now_ms) const { return expiry_ms != 0 && expiry_ms <= now_ms; }
  friend bool operator==(const Sibling&, const Sibling&) = default;
};

// What a writer asks for. `context` is what it had read (empty: a blind write).
class SiblingSet;

// A write whose value is computed from the key's state by the engine that
// applies it (Engine::Put), inside its queued write, so that no other write
// to the key comes between reading the state and writing the result. Given
// the key's state (expired siblings dropped, tombstones kept), it returns the
// new value or the error that refuses the write. It must be pure: an engine
// may call it more than once for one put (a batch retried after a map
// resize), and on any thread (LmdbEngine's writer thread).
using WriteTransform = std::function<Result<std::string>(const SiblingSet& current)>;

struct WriteIntent {
  VersionVector context;
  std::string value;
  bool tombstone = false;
  uint64_t write_id = 0;
  uint64_t timestamp_ms = 0;
  uint64_t expiry_ms = 0;
  // When set, `value` and `context` are replaced when the write is applied:
  // value = transform(state), context = the state's context (the new value
  // covers everything it was computed from). Resolved by the engine
  // (storage/engine_op.h, ResolveIntent); SiblingSet::ApplyWrite never sees one.
  WriteTransform transform;
};

struct WriteOutcome {
  Dot dot;                    // the dot of the sibling that holds the write
  bool deduplicated = false;  // a retry absorbed by an existing sibling
};

class SiblingSet {
 public:
  SiblingSet() = default;
  // From decoded parts; returns nullopt if they break the invariants
  // (used on bytes from disk or the network, which are untrusted).
  static std::optional<SiblingSet> FromParts(VersionVector context, std::vector<Sibling> siblings);

  // A write coordinated by `actor`. Siblings covered by intent.context are
  // replaced; the new sibling's counter is one above the largest of
  // `counter_floor` (the highest counter the actor issued for any key, so
  // counters are never reused after a tombstone purge), the actor's entry
  // in the intent's context and in this state's context.
  // The intent's value is moved into the new sibling.
  WriteOutcome ApplyWrite(WriteIntent intent, ActorId actor, uint64_t counter_floor);

  // Join with another replica's state of the same key.
  void Merge(const SiblingSet& other);

  // True if merging `other` in would change nothing.
  bool Covers(const SiblingSet& other) const;

  const VersionVector& context() const { return context_; }
  const std::vector<Sibling>& siblings() const { return siblings_; }
  bool empty() const { return siblings_.empty(); }
  size_t size() const { return siblings_.size(); }

  // Siblings a reader sees at `now_ms`: not tombstones and not expired.
  std::vector<const Sibling*> Visible(uint64_t now_ms) const;
  // Every sibling has expired (the key reads as absent and may be removed).
  bool FullyExpiredAt(uint64_t now_ms) const;
  // Removes the siblings expired at now_ms, keeping their dots in the
  // context: like a delete that observed them, so a replica that still
  // holds one (clock skew) cannot bring it back through a merge.
  void DropExpiredAt(uint64_t now_ms);
  // Every sibling is a tombstone written at or before `cutoff_ms`.
  bool OnlyTombstonesOlderThan(uint64_t cutoff_ms) const;
  // The latest expiry of a visible sibling; 0 if any visible sibling never
  // expires or none is visible.
  uint64_t ExpiryMs(uint64_t now_ms) const;
  // Sum of value sizes, for limits.
  size_t ValueBytes() const;

  // Aborts if an invariant is broken.
  void CheckInvariants() const;

  friend bool operator==(const SiblingSet&, const SiblingSet&) = default;
  std::string DebugString() const;

 private:
  VersionVector context_;
  std::vector<Sibling> siblings_;  // sorted by dot
};

}  // namespace trolley
