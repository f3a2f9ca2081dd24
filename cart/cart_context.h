// CartContext: the causal context of one cart value, the set of mutation
// ids it has seen (applied, merged in, or named by a removal it applied),
// kept compact (docs/design.md, 'Carts without tombstones').
//
// A mutation id is a dot (Almeida, Shoker, Baquero, "Delta State Replicated
// Data Types", 2018, §5): its top 48 bits name a session (one client's run
// of mutations to one cart), its low 16 bits count that session's mutations
// to this cart from 1. CartClient and the simulator's devices number them so
// (CartSession); any other nonzero 64-bit id (a random id, a checkout or
// guest-merge id derived by hashing, an id read from a version-2 cart) is a
// dot too, one that is unlikely to be next in its session.
//
// The set is held as a version vector plus a dot cloud: sessions() maps a
// session to its largest counter n, covering counters 1..n of that session;
// dots() holds the covered ids that do not extend a session contiguously.
// Canonical (equal sets give equal contexts): a session's entry is >= 1;
// no dot in the cloud is covered by sessions(), and none is the next counter
// of its session (it would have been absorbed). A session that numbers its
// mutations without gaps so costs 8 bytes however many mutations it made.
//
// Value type, pure; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace trolley {

inline constexpr int kMutationCounterBits = 16;
inline constexpr uint32_t kMutationCounterMax = (uint32_t{1} << kMutationCounterBits) - 1;

constexpr uint64_t MutationSession(uint64_t id) { return id >> kMutationCounterBits; }
constexpr uint32_t MutationCounter(uint64_t id) {
  return static_cast<uint32_t>(id & kMutationCounterMax);
}
// The id of counter `counter` (1..kMutationCounterMax) of `session` (< 2^48).
constexpr uint64_t MutationIdOf(uint64_t session, uint32_t counter) {
  return (session << kMutationCounterBits) | counter;
}

// CartSession: numbers one client's mutations to one cart, 1, 2, ... under
// one session (< 2^48; a random one per client and cart keeps sessions of
// different clients apart). After kMutationCounterMax ids it is exhausted:
// start another session. A client that loses track of whether a mutation
// landed (a failed request it will not retry) should start another session
// too: a gap in a session's ids leaves every later id in the cloud.
class CartSession {
 public:
  explicit CartSession(uint64_t session);
  uint64_t session() const { return session_; }
  bool exhausted() const { return next_ > kMutationCounterMax; }
  // The next id; asserts !exhausted().
  uint64_t Next();

 private:
  uint64_t session_;
  uint32_t next_ = 1;
};

class CartContext {
 public:
  bool Covers(uint64_t id) const;
  bool empty() const { return sessions_.empty() && dots_.empty(); }
  // Adds one id (nonzero).
  void Add(uint64_t id);
  // Set union.
  void Join(const CartContext& other);
  // Removes `id` from the set. Only the simulator's planted bug
  // remove-forgets-context calls it: a context that forgets a removed
  // contribution's id lets a sibling that still holds it bring it back.
  void Forget(uint64_t id);

  // session -> largest counter (>= 1): covers that session's 1..counter.
  const std::map<uint64_t, uint32_t>& sessions() const { return sessions_; }
  // The covered ids outside sessions(), ascending.
  const std::set<uint64_t>& dots() const { return dots_; }
  // Every covered id, ascending (tests, the simulator's checker; a session
  // expands to up to kMutationCounterMax ids).
  std::vector<uint64_t> Ids() const;

  // From decoded parts: `session_maxima` holds MutationIdOf(session, max) per
  // session, ascending; nullopt unless both are canonical (see above).
  static std::optional<CartContext> FromParts(const std::vector<uint64_t>& session_maxima,
                                              const std::vector<uint64_t>& dots);

  void CheckInvariants() const;
  friend bool operator==(const CartContext&, const CartContext&) = default;

 private:
  // Absorbs cloud dots that extend their session; drops covered ones.
  void Normalize();

  std::map<uint64_t, uint32_t> sessions_;
  std::set<uint64_t> dots_;
};

}  // namespace trolley
