// History and checkers: what the shoppers did, and whether the final carts
// keep it (docs/design.md, 'The simulator').
//
// The workload records every cart mutation it issues, with what it
// observed: the state the client read and merged before applying it. A
// mutation is "written" once a write of it was sent (it may have landed
// even if it failed) and "acked" once the Cart API would have reported
// success to the shopper.
//
// Causality, per semantics:
//   OR-Set     a remove, set or clear kills exactly the contribution tags
//              (add/set mutation ids) of the line(s) in the state it read;
//   union+max  a remove, set or clear "observed" an add or set of the same
//              line iff the read state's context covered that mutation's id
//              (every merge joins contexts, so this is the causal past of
//              the read).
// Retried mutations keep their id. Each attempt that applied the mutation
// to a read state is recorded with what it observed; any written attempt
// may have landed, so a contribution is excused if any written attempt of a
// remove observed it; what a remove certainly did is what its acknowledged
// attempt observed (or, acked without a write of its own because a read
// found it applied, what every written attempt observed).
//
// Checks on the final cart of every key (the converged replicas' state):
//   lost add (fails)   an acked add (or set > 0) that no written remove /
//                      set / clear observed is missing: OR-Set: its tag is not
//                      live; union+max: its line is absent.
//   removes undone (OR-Set; fails)   a tag an acked remove, set or clear
//                      observed is live again.
//   checkouts back (OR-Set; fails)   the same for a checkout (a clear of the
//                      tags of the view it bought, MarkCheckout): a bought
//                      contribution is live again. Counted apart from removes.
//   bought, read again (OR-Set; counted)   a read started after a checkout
//                      was acknowledged still shows a tag it bought
//                      (NoteRead). Not a failure: under sloppy quorums a read
//                      may miss every replica that took the checkout, as it may
//                      miss any acknowledged write; a final cart may not.
//   resurrection (union+max; counted)   an acked remove, set 0 or clear of a
//                      line that observed every add and set of that line
//                      ever written, yet the line is in the final cart.
//   lost increments (union+max; counted)   per final line, how far its
//                      quantity falls short of the acked adds no remove or set
//                      observed plus the largest such set (Dynamo's collapse of
//                      concurrent "+1"s).
//   phantom (fails)   the final cart holds a contribution or a context id
//                      that no device ever applied to this cart
//                      (another key's data, or bytes from nowhere).
// Power loss under `flush` durability may take acknowledged writes with it
// (the mode's contract: an OS crash of every replica inside the window loses
// up to flush_interval_ms of them). The simulator tells the history which
// mutations a power loss took from the last disk that held them
// (NoteLostToPowerLoss): a lost add or undone remove of such a mutation is
// counted as `lost_unsynced` instead of failing. One that some disk still
// held after every power loss (say, fsynced on another replica) still
// fails: that is the kv679 case. A lost disk, or one restored from an
// older copy of itself, is the same kind of loss (everything the old disk
// held, NoteLostToPowerLoss too): what another disk still holds must survive.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "storage/engine.h"

namespace trolley::sim {

// One mutation id. Usually every attempt of it is the same mutation, but
// the coordinators of a guest merge compute its adds (cart/guest_merge.h
// derives their ids from (merge, sku)) against their own copies, so their
// quantities differ and are recorded as 0; what an id did is the union
// over its attempts.
struct MutationRecord {
  struct Attempt {
    bool killer = false;             // a remove, set or clear
    bool written = false;            // a write of it was sent
    std::vector<uint64_t> observed;  // killer: what it observed (sorted, unique)
    std::set<std::string> skus;      // killer: the lines it acted on (clear: the read's lines)
  };
  uint64_t id = 0;
  Mutation::Kind kind = Mutation::Kind::kAdd;  // of the first attempt
  std::string sku;
  uint32_t quantity = 0;  // of the first contributing attempt
  bool written = false;
  bool acked = false;
  int acked_attempt = -1;     // the attempt whose write was acked; -1: none of its own
  bool contribution = false;  // some attempt adds a contribution (add, set > 0)
  bool killer = false;        // some attempt removes what it observed (remove, set, clear)
  bool removes_line = false;  // some attempt removes its line(s) (remove, set 0, clear)
  bool checkout = false;      // a checkout: what it observed was bought (MarkCheckout)
  std::vector<Attempt> attempts;

  bool IsContribution() const { return contribution; }
  bool IsKiller() const { return killer; }
  bool RemovesLine() const { return removes_line; }
  // What any written attempt observed (it may have landed).
  std::vector<uint64_t> MaybeObserved() const;
  // What the attempt that surely landed observed, and the lines it acted on.
  std::vector<uint64_t> SurelyObserved() const;
  std::set<std::string> SurelyActedOn() const;
};

inline constexpr uint32_t kNoAttempt = UINT32_MAX;

struct CartHistory {
  CartSemantics semantics = CartSemantics::kUnionMax;
  std::map<uint64_t, MutationRecord> mutations;  // by id
};

struct CheckResult {
  uint64_t acked_adds = 0;         // acked Add mutations
  uint64_t lost_adds = 0;          // failures
  uint64_t lost_unsynced = 0;      // lost to a power loss inside the flush window
  uint64_t removes_undone = 0;     // OR-Set failures
  uint64_t checkouts_acked = 0;    // OR-Set checkouts the shopper was told succeeded
  uint64_t checkouts_back = 0;     // OR-Set failures: a bought contribution live again
  uint64_t bought_read_again = 0;  // OR-Set, reported: NoteRead's count
  uint64_t resurrections = 0;      // union+max, reported
  uint64_t lost_increments = 0;    // union+max, reported
  uint64_t phantoms = 0;           // failures
  std::vector<std::string> failures;
  std::vector<std::string> notes;  // what was excused as lost_unsynced
};

class History {
 public:
  // Mutation `m` of cart `key` is about to be applied to `read` (the merged
  // state the client read; an OR-Set removal carrying `m.observed` observed
  // exactly those tags). Returns the attempt's number.
  uint32_t Observe(const ObjectKey& key, CartSemantics semantics, const Mutation& m,
                   const CartState& read);
  // A write carrying the mutation was sent; `attempt` is the Observe that
  // applied it, or kNoAttempt when the write applied nothing new (a read
  // found the mutation applied already, with siblings to resolve).
  void Written(const ObjectKey& key, uint64_t mutation_id, uint32_t attempt);
  // The shopper was told it succeeded, after the write of `attempt` was
  // acknowledged (kNoAttempt: a read found it applied).
  void Acked(const ObjectKey& key, uint64_t mutation_id, uint32_t attempt);
  // Mutation `mutation_id` of `key` (observed already) is a checkout: the
  // tags it observed are bought, and one live again is a checkout back.
  void MarkCheckout(const ObjectKey& key, uint64_t mutation_id);
  // The shopper was told checkout `mutation_id` of `key` succeeded at
  // virtual time `now_ns` (after Acked).
  void CheckoutAcked(const ObjectKey& key, uint64_t mutation_id, uint64_t now_ns);
  // A read of `key` started at `started_ns` returned `read`: counts the tags
  // of checkouts acknowledged before then that it shows live (returned, and
  // added to bought_read_again()).
  uint64_t NoteRead(const ObjectKey& key, const CartState& read, uint64_t started_ns);
  uint64_t bought_read_again() const { return bought_read_again_; }

  // A power loss took `mutation_id` of `key` from the last disk (object or
  // hint) that held it.
  void NoteLostToPowerLoss(const ObjectKey& key, uint64_t mutation_id) {
    lost_to_power_loss_.insert({key, mutation_id});
  }

  const std::map<ObjectKey, CartHistory>& carts() const { return carts_; }

  // Checks `final_cart` of `key` (see the file comment) into `result`.
  void Check(const ObjectKey& key, const CartState& final_cart, CheckResult& result) const;

 private:
  // The record of `mutation_id` of `key`, or nullptr if none was observed.
  MutationRecord* Find(const ObjectKey& key, uint64_t mutation_id);
  bool Fail(const ObjectKey& key, uint64_t id, std::string what, CheckResult& result) const;
  void CheckOrSetKills(const ObjectKey& key, const CartHistory& h,
                       const std::map<uint64_t, std::string>& live, CheckResult& result) const;

  std::map<ObjectKey, CartHistory> carts_;
  std::set<std::pair<ObjectKey, uint64_t>> lost_to_power_loss_;
  std::map<ObjectKey, std::vector<std::pair<uint64_t, uint64_t>>> checkout_acks_;  // (ns, id)
  uint64_t bought_read_again_ = 0;
};

}  // namespace trolley::sim
