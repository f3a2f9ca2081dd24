// PostgresTarget: the Target for PostgreSQL 15 (Debian's postgresql-15),
// the store a team picks when it wants durability from one primary, in one
// of two layouts (target.h). Connect creates the tables if they do not exist.
//
// Per line (CartLayout::kPerLine), as the design documents build it:
//     carts (cart_id text PRIMARY KEY, created_at timestamptz)      -- `table`
//     cart_items (cart_id, sku, quantity integer CHECK (quantity > 0),
//                 attributes jsonb, PRIMARY KEY (cart_id, sku))     -- `items_table`
// Every operation is one prepared statement in its own (implicit)
// transaction, whatever the cart's size: an add is
//     WITH cart AS (INSERT INTO carts ... ON CONFLICT DO NOTHING)
//     INSERT INTO cart_items ... ON CONFLICT (cart_id, sku)
//       DO UPDATE SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, quantity_max)
// a set the same upsert with SET quantity = EXCLUDED.quantity, a remove a
// DELETE of the row, a get a SELECT of the cart's rows; a checkout is one
// transaction, pipelined in one round trip: BEGIN, SELECT ... FOR UPDATE of
// the cart's rows, DELETE of them, COMMIT (a line added meanwhile, a row the
// SELECT did not lock, stays).
//
// Whole cart (CartLayout::kWholeCart): a cart is one row of
//     CREATE TABLE carts (id text PRIMARY KEY, body jsonb NOT NULL)
// whose body is a PeerCart (peer_cart.h).
// Each operation is a read-modify-write in one transaction on one pooled
// connection, with synchronous_commit on (the server's setting; Connect
// checks it, and fsync, and refuses to run with either off): BEGIN; SELECT
// body FROM carts WHERE id = $1 FOR UPDATE; then UPDATE (or INSERT ... ON
// CONFLICT DO NOTHING for a new cart; an insert that lost the race to
// create the row inserts nothing, and the operation starts again); COMMIT.
// The statements are prepared on every connection and each round trip is
// pipelined (libpq pipeline mode): BEGIN + SELECT in one, UPDATE + COMMIT
// in the next. A get is one SELECT without a transaction. What an ack
// guarantees, in both layouts: the commit's WAL record is fsynced on the
// one server; there is no replica and no failover.
//
// I/O: libpq in non-blocking mode, its socket watched by the worker's
// io_context (asio::posix::stream_descriptor, released before libpq closes
// it); no threads. Use a numeric host in the conninfo: libpq resolves
// names synchronously. Operations wait in FIFO for a free connection (the
// queue holds at most what the driver keeps in flight); a connection that
// is down is dialled again when an operation waits for one. Errors:
//  - a lost connection, or one that cannot be opened, is "Unavailable"
//    (for the operation on it, or the oldest waiting for it);
//  - an operation not answered within `timeout` of Execute (queueing
//    included) is "Timeout", and its connection is dropped: its state is
//    unknown. A dial (connection startup and statement preparation) gets
//    max(timeout, 2 s);
//  - a server error is "PostgresError" with its SQLSTATE and message;
//  - serialization failures and deadlocks (40001, 40P01) and lost races
//    to create a cart are retried up to conflict_retries_max times in all,
//    then "Conflict";
//  - a body that is not a PeerCart is "Corruption".
// The two layouts share the pool, the pipelining, the checks and the
// errors; they differ only in their statements and batches.
//
// Threading and lifetime: as Target. Destroy the Target before its
// io_context; operations still outstanding then are dropped without their
// callbacks, and handlers still queued in the io_context do nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/target.h"

namespace trolley::bench {

struct PostgresTargetOptions {
  // libpq connection string, e.g. "host=127.0.0.1 port=5433 dbname=trolley user=postgres".
  std::string conninfo;
  size_t connections = 48;                  // pool size of this Target (one worker)
  std::chrono::milliseconds timeout{2000};  // per operation, all retries
  uint32_t conflict_retries_max = 16;
  uint32_t quantity_max = 999;             // as CartLimits::quantity_max
  std::string table = "carts";             // a plain identifier: [a-z_][a-z0-9_]*
  std::string items_table = "cart_items";  // per line: the lines' table
  CartLayout layout = CartLayout::kWholeCart;
};

class PostgresTarget : public Target {
 public:
  PostgresTarget(asio::io_context& io, PostgresTargetOptions options);
  ~PostgresTarget() override;

  // Opens every pool connection, checks synchronous_commit and fsync
  // (InvalidArgument when off), creates the table if needed and prepares
  // the statements. An unreachable server is Unavailable.
  void Connect(std::function<void(Status)> done) override;
  void Execute(const CartOp& op, std::function<void(OpOutcome)> done) override;
  void ReadCart(uint64_t cart,
                std::function<void(Result<std::vector<CartLineView>>)> done) override;

 private:
  struct Impl;
  // Shared: the io_context's handlers hold it weakly, so that those still
  // queued when the Target is gone find nothing to do.
  std::shared_ptr<Impl> impl_;
};

}  // namespace trolley::bench
