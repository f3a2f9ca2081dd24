// Target: one system under test, as the load generator drives it. Trolley
// implements it with the Cart API (trolley_target.h); the Redis and
// PostgreSQL adapters of issue 6's second half implement the same
// interface, so the driver, the workloads, the ledger check and the
// reports are shared and the comparison is like for like.
//
// What an adapter must do, so the comparison stays fair:
//  - each operation is a real read-modify-write of the whole cart (Redis:
//    WATCH/GET/MULTI/SET/EXEC then WAIT 1; PostgreSQL: one jsonb row per
//    cart, SELECT ... FOR UPDATE, UPDATE, COMMIT with synchronous_commit
//    on), returning only when the target acknowledged it durably in its
//    class;
//  - Add(n) adds n to the line (creating it), SetQuantity(q) sets it,
//    Remove deletes it; a conflict the adapter retries internally is not
//    an error, one it gives up on is (error kind e.g. "Conflict");
//  - connections are pooled and pipelined as far as the target allows,
//    sized from the same --concurrency;
//  - ReadCart returns the cart as a shopper would see it, for the check.
//
// Threading: a Target lives on one worker thread and its io_context; every
// call and every callback happen there. Callbacks may run inside the call
// (e.g. an immediate error). One Target per worker (TargetFactory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/workload.h"
#include "common/asio.h"
#include "common/status.h"

namespace trolley::bench {

struct CartLineView {
  std::string sku;
  uint32_t quantity = 0;
};

struct OpOutcome {
  bool ok = false;
  // When !ok: a short, stable name to count errors by: a StatusCode name
  // ("Timeout", "Unavailable", ...) or an adapter's own ("Conflict").
  std::string error_kind;
  std::string error_message;

  // Ok when `error_kind` is empty, else the failure it names.
  static OpOutcome Of(std::string error_kind, std::string error_message) {
    const bool ok = error_kind.empty();
    return OpOutcome{ok, std::move(error_kind), std::move(error_message)};
  }
};

class Target {
 public:
  virtual ~Target() = default;

  // Connects (and learns whatever it needs, e.g. namespaces); once, before
  // any operation.
  virtual void Connect(std::function<void(Status)> done) = 0;
  // Executes one cart operation; the cart id is CartIdOf(op.cart).
  virtual void Execute(const CartOp& op, std::function<void(OpOutcome)> done) = 0;
  // Reads a cart for the end-of-run check (found == false: no lines).
  virtual void ReadCart(uint64_t cart,
                        std::function<void(Result<std::vector<CartLineView>>)> done) = 0;
  // The size of a cart as the store holds it (its largest sibling's
  // bytes), for the cart-size workload's report. FailedPrecondition where
  // the target does not know it (the peers: their size is not a value's).
  virtual void StoredCartBytes(uint64_t cart, std::function<void(Result<size_t>)> done) {
    (void)cart;
    done(Status::FailedPrecondition("this target does not report a cart's stored size"));
  }
};

// Makes worker `worker`'s Target on its io_context. Called on the worker
// threads, concurrently: it must be thread-safe.
using TargetFactory =
    std::function<Result<std::unique_ptr<Target>>(asio::io_context& io, size_t worker)>;

// The deadline of one operation of a peer adapter (RedisTarget,
// PostgresTarget): waits on `timer` (already set to expire) and, if it
// fires, calls (impl->*on_timeout)(op) unless by then the adapter's Impl or
// the operation is gone, the Impl is closed or the operation finished.
// Holds both weakly, so a pending deadline keeps neither alive.
template <typename Impl, typename Op>
void WaitForDeadline(asio::steady_timer& timer, std::weak_ptr<Impl> impl, std::weak_ptr<Op> op,
                     void (Impl::*on_timeout)(const std::shared_ptr<Op>&)) {
  timer.async_wait(
      [impl = std::move(impl), op = std::move(op), on_timeout](boost::system::error_code ec) {
        if (ec) return;
        auto self = impl.lock();
        auto timed_out = op.lock();
        if (!self || self->closed || !timed_out || timed_out->finished) return;
        ((*self).*on_timeout)(timed_out);
      });
}

// How a peer stores a cart (issue 15: the peers as the design documents
// build them, the whole-cart layout kept as extra rows):
//  - kWholeCart: one value per cart (a JSON string in Redis, a jsonb row in
//    PostgreSQL); each operation is a read-modify-write of the whole cart.
//  - kPerLine: one field or row per line (a Redis hash per cart, PostgreSQL
//    rows of cart_items); each operation is one command or statement on
//    its line, whatever the cart's size. A checkout reads and deletes the
//    cart's lines in one transaction.
enum class CartLayout : uint8_t { kWholeCart, kPerLine };
std::string_view CartLayoutName(CartLayout layout);  // "whole-cart", "per-line"
// "whole-cart" or "per-line"; InvalidArgument naming both otherwise.
Result<CartLayout> ParseCartLayout(std::string_view text);

// What the report says about a target; filled by main from the options.
struct TargetInfo {
  std::string name;         // "trolley", later "redis", "postgres"
  std::string durability;   // e.g. "sync", "flush", "synchronous_commit=on"
  std::string description;  // what an ack guarantees, in a sentence
};

}  // namespace trolley::bench
