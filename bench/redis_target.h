// RedisTarget: the Target for Redis (7.0, Debian's redis-server), the store
// a team picks when it wants speed, in one of two layouts (target.h):
//
// Per line (CartLayout::kPerLine), as the design documents build it: a cart
// is a hash "<key_prefix><cart id>", one field per sku holding its
// quantity (and, for a line with attributes, a hash "<cart key>:item:<sku>";
// the workload sets none). Every operation is one round trip, whatever the
// cart's size: an add is HINCRBY (not capped at quantity_max: one command
// cannot cap), a set HSET, a remove HDEL plus DEL of the item hash, a get
// HGETALL, a checkout MULTI, HGETALL, DEL, EXEC (the lines bought and the
// cart's end, atomically); then WAIT as below.
//
// Whole cart (CartLayout::kWholeCart): a cart is one string key
// "<key_prefix><cart id>" holding a PeerCart (peer_cart.h) as JSON.
// Each operation is a read-modify-write in an optimistic transaction on one
// pooled connection: WATCH key, GET key, then MULTI, SET key, EXEC; EXEC
// answering nil (another client changed the key) aborts and the adapter
// retries from WATCH, up to conflict_retries_max times (then error kind
// "Conflict"). A get is a plain GET. With wait_replicas > 0, after EXEC it
// sends WAIT <wait_replicas> <wait_timeout_ms>, Redis's closest thing to
// W=2; fewer replicas than asked is error kind "NotReplicated". What an ack
// guarantees, in both layouts: the primary applied it in memory and (with
// WAIT) that many replicas received it; replication is asynchronous and a
// failover may still lose acknowledged writes; nothing is on disk.
//
// Protocol: RESP through hiredis (its redisReader parses replies, its
// redisFormatCommandArgv builds commands) over Asio sockets of the worker's
// io_context; no hiredis I/O, no threads. Each connection runs one
// operation at a time (WATCH is per connection) and pipelines each round
// trip: WATCH + GET in one write, MULTI + SET + EXEC (+ WAIT) in the next;
// per line, the operation's commands and WAIT in one write.
// A conflict retries at once from WATCH on the same connection. Every add,
// set and remove writes, even one that leaves the cart as it was (a remove
// of an absent line), as Trolley's Cart API does. Operations wait in FIFO for
// a free connection (at most 65536 waiting, then error kind "Busy").
//
// Errors (error kinds):
//  - "Unavailable": the connection was refused, reset or closed; the
//    message names host:port; the connection is redialled by the next
//    operation that gets it.
//  - "Timeout": the operation was not answered within `timeout` of the
//    Execute call, queueing included; its connection (if it had one) is
//    closed, as its state is unknown, and redialled later. The write may
//    still have happened.
//  - "RedisError": Redis answered with an error (its text follows); the
//    connection is closed too, as its WATCH/MULTI state is unknown.
//  - "Corruption": the stored value is not a PeerCart (per line: a field's
//    value is not a quantity).
//  - "Conflict", "NotReplicated", "Busy": as above.
//
// Lifetime: destroying the Target drops every pending callback uncalled
// and closes the sockets; handlers still queued in the io_context touch
// only what they own. Destroy it before its io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/target.h"

namespace trolley::bench {

struct RedisTargetOptions {
  std::string primary = "127.0.0.1:6379";  // host:port
  size_t connections = 48;                 // pool size of this Target (one worker)
  uint32_t wait_replicas = 0;              // 0: no WAIT (standalone)
  uint32_t wait_timeout_ms = 1000;
  std::chrono::milliseconds timeout{2000};  // per operation, all retries
  uint32_t conflict_retries_max = 16;
  uint32_t quantity_max = 999;  // as CartLimits::quantity_max
  std::string key_prefix = "cart:";
  CartLayout layout = CartLayout::kWholeCart;
};

class RedisTarget : public Target {
 public:
  RedisTarget(asio::io_context& io, RedisTargetOptions options);
  ~RedisTarget() override;

  // Dials every pool connection and checks each answers PING; done once
  // all have, or at the first failure: InvalidArgument for a `primary` that
  // is not host:port, else Unavailable or Timeout naming the address.
  void Connect(std::function<void(Status)> done) override;
  void Execute(const CartOp& op, std::function<void(OpOutcome)> done) override;
  // A plain GET (per line: HGETALL); errors as Status: Unavailable, Timeout, Corruption, and
  // Unavailable for a Redis error reply.
  void ReadCart(uint64_t cart,
                std::function<void(Result<std::vector<CartLineView>>)> done) override;

 private:
  struct Impl;
  // Shared so that a call can keep it alive while a callback destroys the
  // Target; asynchronous handlers hold only weak references.
  std::shared_ptr<Impl> impl_;
};

}  // namespace trolley::bench
