// Workload: shoppers, each with several devices, using their carts.
//
// Every device runs one cart operation at a time, with a think time
// between operations: add, set quantity, remove, clear, get, an OR-Set
// checkout (3% of OR-Set operations), and (when the
// seed has guests) adds to a guest cart and one guest-to-user merge at
// login, in both namespaces (union+max "carts", OR-Set "or-carts"). The
// devices of one shopper share the shopper's carts, so they race. A
// shopper's session ends after 10..80 operations; the next one uses new
// carts (as real carts are short-lived). Mutation ids are numbered per
// cart by a session, as CartClient numbers them (cart/cart_context.h).
//
// Cart semantics are the real ones (cart/), and a mutation is exactly
// CartClient::Mutate (client/cart_client.cc): an add, and any OR-Set
// mutation, is one CartUpdate that the node applies to its own copy
// (node/cart_update.h), an OR-Set removal carrying the tags of the
// device's last view of the cart (read first when it has none); a
// union+max removal is a read-modify-write: read the key, decode and
// merge every sibling, Apply, write the result back with the read's
// context and a fresh write id. A checkout is CartClient::Checkout: the
// clear of the device's last view (its tags) under the order's mutation
// id (CheckoutMutationId, wire/cart_mutation.h; the order is the device's
// and its count), retried with that id. A read that finds
// siblings writes their merge back (CartClient::Get); a guest merge is
// CartClient::MergeGuest: the guest cart's lines (the device's view, or a
// read of one replica) in one CartUpdate that the user cart's coordinator
// merges into its copy (node/cart_update.h), then the guest cart marked
// merged_into by another; the user cart is not read. The Asio client itself cannot run here,
// so its request logic is modelled on client/client.cc: each request goes
// to the key's coordinator (walk order of the ring; with probability
// any_node_p first to a random node, which forwards), and a kTimeout,
// kUnavailable or kBusy answer, a refused or reset connection, or silence
// until the deadline is retried on the next node of the route after a
// full-jitter exponential backoff (10 ms doubling, capped at 200 ms), for
// at most 4 attempts within one 2 s deadline; each attempt asks the node
// to answer within 90% of what is left; a node whose connection failed is
// tried last for 1 s. On top, a device whose operation failed retries the
// whole operation with the same mutation id (so it is applied once) up to
// device_retries times.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "simulation/checker.h"
#include "simulation/cluster.h"
#include "simulation/event_loop.h"
#include "simulation/sim_config.h"
#include "simulation/trace.h"

namespace trolley::sim {

// Write attempts (a ClientPut sent to a node), and those sent while the
// node was up and could reach W nodes (itself included) over unblocked
// links (eligible), overall and while some partition was in place; and
// how eligible attempts failed: kUnavailable or kTimeout from the node, no
// answer before the client's deadline (lost messages, pauses), or a
// refused or reset connection. One seed's (WorkloadStats) or a sweep's
// (SweepSummary).
struct WriteAvailability {
  uint64_t write_attempts = 0, write_attempts_ok = 0;
  uint64_t eligible_writes = 0, eligible_writes_ok = 0;
  uint64_t partition_writes = 0, partition_writes_ok = 0;
  uint64_t eligible_writes_unavailable = 0, eligible_writes_timeout = 0, eligible_writes_silent = 0,
           eligible_writes_conn_failed = 0;
  void Add(const WriteAvailability& other);
};

struct WorkloadStats {
  uint64_t ops_started = 0, ops_acked = 0, ops_failed = 0, ops_refused = 0;
  uint64_t mutations = 0, gets = 0, merges = 0, device_retries = 0;
  uint64_t requests = 0, attempts = 0;
  // Cart adds as the shopper issued them (retries are the same add).
  uint64_t adds_acked = 0, adds_gave_up = 0;
  // Guest merges as the shopper issued them, and the merge adds (one per
  // guest line the coordinator merged) the history holds as acknowledged.
  uint64_t merges_acked = 0, merges_gave_up = 0, merge_adds_acked = 0;
  // OR-Set checkouts as the shopper issued them (retries are the same
  // order), and the lines the acknowledged ones returned as bought.
  uint64_t checkouts = 0, checkouts_acked = 0, checkouts_gave_up = 0, checkout_lines_bought = 0;
  WriteAvailability writes;
  // Successful reads that found 1, 2, 3, 4, 5+ versions.
  uint64_t siblings[5] = {0, 0, 0, 0, 0};
  std::vector<std::string> failures;  // e.g. a stored value that is not a cart
};

class Workload {
 public:
  Workload(const SeedConfig& config, EventLoop& loop, Trace& trace, Cluster& cluster,
           History& history);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Devices start; none starts a new operation at or after `stop_ns`.
  void Start(uint64_t stop_ns);
  // No device is in the middle of an operation (retries included).
  bool Idle() const;
  // Every cart key of the run, sorted.
  std::vector<ObjectKey> Keys() const;
  const WorkloadStats& stats() const { return stats_; }

  // From the cluster.
  void Deliver(uint64_t conn, Message m);
  void ConnectionFailed(uint64_t conn, int node);
  void NodeCrashed(int node);

  struct Device;

 private:
  const SeedConfig& config_;
  EventLoop& loop_;
  Trace& trace_;
  Cluster& cluster_;
  History& history_;
  std::vector<std::unique_ptr<Device>> devices_;
  WorkloadStats stats_;
  uint64_t stop_ns_ = 0;
  // A shopper's session: carts "u<shopper>-<session>" and
  // "g<shopper>-<session>"; after ops_max operations the shopper's devices
  // move on to a new session (new carts), so carts stay as small as real
  // ones while the devices of a session still race on them.
  struct Session {
    uint32_t number = 1;
    uint32_t ops = 0;
    uint32_t ops_max = 0;
    std::vector<bool> merged;  // per namespace: the guest merge has started
  };
  std::vector<Session> sessions_;  // per shopper
  std::unique_ptr<Random> session_rng_;
  void NewSession(int shopper);

  friend struct Device;
};

}  // namespace trolley::sim
