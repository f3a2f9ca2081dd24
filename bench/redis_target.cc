#include "bench/redis_target.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <deque>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/peer_cart.h"
#include "common/host_port.h"

namespace trolley::bench {
namespace {

using tcp = asio::ip::tcp;

constexpr size_t kWaitingOpsMax = size_t{1} << 16;  // then "Busy"
constexpr size_t kReadChunkBytes = 16 * 1024;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

// What one operation came to: ok with the cart it read (and, for an
// update, wrote), or an error kind and message as OpOutcome has them.
struct Answer {
  std::string error_kind;  // empty: ok
  std::string error_message;
  PeerCart cart;
  bool ok() const { return error_kind.empty(); }
};

Answer Failure(std::string kind, std::string message) {
  Answer a;
  a.error_kind = std::move(kind);
  a.error_message = std::move(message);
  return a;
}

Status StatusOf(const Answer& a) {
  TROLLEY_ASSERT(!a.ok());
  if (a.error_kind == "Timeout") return Status::Timeout(a.error_message);
  if (a.error_kind == "Corruption") return Status::Corruption(a.error_message);
  if (a.error_kind == "Busy") return Status::Busy(a.error_message);
  return Status::Unavailable(a.error_message);  // Unavailable, RedisError
}

// Appends one command, in RESP, to `out`.
void AppendCommand(std::string& out, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* command = nullptr;
  const int bytes =
      redisFormatCommandArgv(&command, static_cast<int>(argv.size()), argv.data(), lengths.data());
  TROLLEY_ASSERT(bytes > 0);
  TROLLEY_ASSERT(command != nullptr);
  out.append(command, static_cast<size_t>(bytes));
  redisFreeCommand(command);
}

std::string_view TextOf(const redisReply& r) {
  return r.str == nullptr ? std::string_view() : std::string_view(r.str, r.len);
}

bool IsStatus(const redisReply& r, std::string_view text) {
  return r.type == REDIS_REPLY_STATUS && TextOf(r) == text;
}

// A reply as a message shows it: "status OK", "integer 1", "array of 2", ...
std::string Describe(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING:
      return "string of " + std::to_string(r.len) + " bytes";
    case REDIS_REPLY_ARRAY:
      return "array of " + std::to_string(r.elements);
    case REDIS_REPLY_INTEGER:
      return "integer " + std::to_string(r.integer);
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status " + std::string(TextOf(r));
    case REDIS_REPLY_ERROR:
      return "error " + std::string(TextOf(r));
  }
  return "reply of type " + std::to_string(r.type);
}

// One TCP connection to Redis, from dial to close; a pool slot gets a new
// one on every dial. Handlers hold it by shared_ptr, so its socket and
// buffers outlive every operation started on them, and compare it with
// their slot's current one to know whether they are stale.
struct Link {
  explicit Link(asio::io_context& io) : socket(io), reader(redisReaderCreate()) {
    TROLLEY_ASSERT(reader != nullptr);
  }

  tcp::socket socket;
  std::unique_ptr<redisReader, ReaderFree> reader;
  bool up = false;  // connected
  bool writing = false;
  std::string out, writing_buf;  // to write next; being written
  size_t replies_wanted = 0;     // of the round trip in flight (0: none)
  std::vector<ReplyPtr> replies;
  std::array<char, kReadChunkBytes> chunk{};
};

struct Slot;

// One Execute, ReadCart or Connect's PING, from the call to its callback.
struct Op {
  // kUpdate: a whole-cart read-modify-write; kLineWrite: a per-line write
  // (one round trip).
  enum class Kind : uint8_t { kPing, kGet, kUpdate, kLineWrite };
  // The round trip in flight; its replies are, in order:
  //   kPing: PING; kGet: GET (per line: HGETALL); kWatchGet: WATCH, GET;
  //   kExec: MULTI, SET, EXEC and, with wait_replicas > 0, WAIT;
  //   kLineWrite: the commands named in line_commands, then WAIT if asked.
  enum class Step : uint8_t { kNone, kPing, kGet, kWatchGet, kExec, kLineWrite };

  explicit Op(asio::io_context& io) : timer(io) {}

  Kind kind = Kind::kGet;
  CartOp cart_op;
  std::string key;
  std::function<void(Answer)> done;
  asio::steady_timer timer;  // the deadline, from the call
  Step step = Step::kNone;
  Slot* slot = nullptr;  // while it has a connection
  uint32_t conflicts = 0;
  bool finished = false;
  PeerCart cart;                                // kExec: the cart being written
  std::vector<std::string_view> line_commands;  // kLineWrite: the names, for messages
};

// A place in the pool: a connection (or none: dial before use) and the
// operation running on it.
struct Slot {
  std::shared_ptr<Link> link;
  std::shared_ptr<Op> op;
};

// The command whose reply is the i-th of the round trip in flight.
std::string_view CommandOf(const Op& op, size_t i, CartLayout layout) {
  static constexpr std::array<std::string_view, 4> kExec = {"MULTI", "SET", "EXEC", "WAIT"};
  switch (op.step) {
    case Op::Step::kLineWrite:
      return i < op.line_commands.size() ? op.line_commands[i] : "WAIT";
    case Op::Step::kPing:
      return "PING";
    case Op::Step::kGet:
      return layout == CartLayout::kPerLine ? "HGETALL" : "GET";
    case Op::Step::kWatchGet:
      return i == 0 ? "WATCH" : "GET";
    case Op::Step::kExec:
      return kExec[std::min(i, kExec.size() - 1)];
    case Op::Step::kNone:
      break;
  }
  TROLLEY_ASSERT(false);
  return "";
}

struct ConnectState {
  size_t remaining = 0;
  std::function<void(Status)> done;  // null once called
};

}  // namespace

// The pool and the operations. Handlers hold a weak_ptr and return at once
// if the Impl is gone or closed; while one runs, its lock keeps the Impl
// alive even if a callback destroys the Target (which closes it). Slots are
// never freed before the Impl, so a Slot* in a handler stays valid.
struct RedisTarget::Impl : std::enable_shared_from_this<RedisTarget::Impl> {
  Impl(asio::io_context& io_ctx, RedisTargetOptions o) : io(io_ctx), options(std::move(o)) {
    TROLLEY_ASSERT(options.timeout.count() > 0);
    options.connections = std::max<size_t>(options.connections, 1);
    slots.resize(options.connections);
    for (auto& slot : slots) {
      slot = std::make_unique<Slot>();
      free.push_back(slot.get());
    }
    auto hp = ParseHostPort(options.primary, "redis primary");
    if (!hp.ok()) {
      address_status = hp.status();
      return;
    }
    boost::system::error_code ec;
    const asio::ip::address ip = asio::ip::make_address(hp->host, ec);
    if (!ec) endpoint = tcp::endpoint(ip, hp->port);
    host_port = *hp;
  }

  ~Impl() { Close(); }

  // Drops every pending callback uncalled and closes every connection.
  void Close() {
    if (closed) return;
    closed = true;
    auto drop = [](const std::shared_ptr<Op>& op) {
      op->finished = true;
      op->slot = nullptr;
      op->timer.cancel();
      op->done = nullptr;
    };
    for (auto& slot : slots) {
      if (slot->op) drop(slot->op);
      slot->op.reset();
      CloseLink(*slot);
    }
    for (auto& op : waiting) drop(op);
    waiting.clear();
  }

  void Connect(std::function<void(Status)> done) {
    if (!address_status.ok()) return done(address_status);
    if (!endpoint) {
      tcp::resolver resolver(io);
      boost::system::error_code ec;
      auto results = resolver.resolve(host_port.host, std::to_string(host_port.port), ec);
      if (ec || results.empty()) {
        return done(Status::Unavailable("redis at " + options.primary +
                                        ": cannot resolve the host: " + ec.message()));
      }
      endpoint = results.begin()->endpoint();
    }
    auto state = std::make_shared<ConnectState>();
    state->remaining = slots.size();
    state->done = std::move(done);
    // One PING per slot: every slot is free now, so each gets one.
    for (size_t i = 0; i < slots.size() && !closed; ++i) {
      Submit(Op::Kind::kPing, CartOp{}, [state](Answer a) {
        if (!state->done) return;
        if (!a.ok() || --state->remaining == 0) {
          auto connect_done = std::move(state->done);
          state->done = nullptr;
          connect_done(a.ok() ? Status::Ok() : StatusOf(a));
        }
      });
    }
  }

  void Submit(Op::Kind kind, const CartOp& cart_op, std::function<void(Answer)> done) {
    TROLLEY_ASSERT(!closed);
    if (waiting.size() >= kWaitingOpsMax) {
      return done(Failure("Busy", "redis at " + options.primary + ": " +
                                      std::to_string(kWaitingOpsMax) +
                                      " operations already wait for a connection"));
    }
    auto op = std::make_shared<Op>(io);
    op->kind = kind;
    op->cart_op = cart_op;
    op->key = options.key_prefix + CartIdOf(cart_op.cart);
    op->done = std::move(done);
    op->timer.expires_after(options.timeout);
    WaitForDeadline(op->timer, weak_from_this(), std::weak_ptr<Op>(op), &Impl::OnOpTimeout);
    waiting.push_back(std::move(op));
    Dispatch();
  }

  // Gives waiting operations free slots, in FIFO order.
  void Dispatch() {
    if (dispatching) return;  // the outer call's loop picks up what was added
    dispatching = true;
    while (!closed && !waiting.empty() && !free.empty()) {
      std::shared_ptr<Op> op = std::move(waiting.front());
      waiting.pop_front();
      Slot* slot = free.back();
      free.pop_back();
      TROLLEY_ASSERT(slot->op == nullptr);
      slot->op = op;
      op->slot = slot;
      if (slot->link != nullptr) {
        TROLLEY_ASSERT(slot->link->up);  // a slot is freed connected or closed
        Start(*slot);
      } else {
        Dial(*slot);
      }
    }
    dispatching = false;
  }

  void Dial(Slot& slot) {
    TROLLEY_ASSERT(slot.link == nullptr);
    if (!endpoint) {
      return Finish(slot.op,
                    Failure("Unavailable",
                            "redis at " + options.primary + ": not connected (call Connect first)"),
                    /*close=*/true);
    }
    auto link = std::make_shared<Link>(io);
    slot.link = link;
    link->socket.async_connect(
        *endpoint, [weak = weak_from_this(), s = &slot, link](boost::system::error_code ec) {
          auto self = weak.lock();
          if (!self || self->closed || s->link != link) return;
          if (ec) return self->FailLink(*s, self->ConnectError(ec));
          boost::system::error_code ignored;
          link->socket.set_option(tcp::no_delay(true), ignored);
          link->up = true;
          self->Read(*s, link);
          self->Start(*s);
        });
  }

  std::string ConnectError(const boost::system::error_code& ec) const {
    if (ec == asio::error::connection_refused) {
      return "redis at " + options.primary +
             ": connection refused; is redis-server running? "
             "(bench/peers/redis.sh start)";
    }
    return "redis at " + options.primary + ": connect: " + ec.message();
  }

  // Sends the first round trip of the slot's operation.
  void Start(Slot& slot) {
    Op& op = *slot.op;
    std::string commands;
    switch (op.kind) {
      case Op::Kind::kPing:
        AppendCommand(commands, {"PING"});
        return Send(slot, Op::Step::kPing, std::move(commands), 1);
      case Op::Kind::kGet:
        AppendCommand(commands,
                      {options.layout == CartLayout::kPerLine ? "HGETALL" : "GET", op.key});
        return Send(slot, Op::Step::kGet, std::move(commands), 1);
      case Op::Kind::kLineWrite:
        return SendLineWrite(slot);
      case Op::Kind::kUpdate:
        AppendCommand(commands, {"WATCH", op.key});
        AppendCommand(commands, {"GET", op.key});
        return Send(slot, Op::Step::kWatchGet, std::move(commands), 2);
    }
  }

  // A per-line write, in one round trip: the line's command(s), then WAIT
  // if asked (after EXEC, as for the whole cart). The workload sets no
  // attributes, so no add writes an item hash; a remove still deletes the
  // line's (a cart service's remove does not know whether one exists).
  void SendLineWrite(Slot& slot) {
    Op& op = *slot.op;
    const CartOp& c = op.cart_op;
    std::string commands;
    auto append = [&](std::initializer_list<std::string_view> args) {
      AppendCommand(commands, args);
      op.line_commands.push_back(*args.begin());
    };
    op.line_commands.clear();
    const std::string item_key = op.key + ":item:" + c.sku;
    switch (c.type) {
      case CartOp::Type::kAdd:
        append({"HINCRBY", op.key, c.sku, std::to_string(c.quantity)});
        break;
      case CartOp::Type::kSetQuantity:
        if (c.quantity > 0) {
          append(
              {"HSET", op.key, c.sku, std::to_string(std::min(c.quantity, options.quantity_max))});
          break;
        }
        [[fallthrough]];
      case CartOp::Type::kRemove:
        append({"HDEL", op.key, c.sku});
        append({"DEL", item_key});
        break;
      case CartOp::Type::kCheckout:
        // The lines bought and the cart's end, atomically.
        append({"MULTI"});
        append({"HGETALL", op.key});
        append({"DEL", op.key});
        append({"EXEC"});
        break;
      case CartOp::Type::kGet:
        TROLLEY_ASSERT(false);
    }
    size_t replies = op.line_commands.size();
    if (options.wait_replicas > 0) {
      AppendCommand(commands, {"WAIT", std::to_string(options.wait_replicas),
                               std::to_string(options.wait_timeout_ms)});
      ++replies;
    }
    Send(slot, Op::Step::kLineWrite, std::move(commands), replies);
  }

  void Send(Slot& slot, Op::Step step, std::string commands, size_t replies) {
    Link& link = *slot.link;
    TROLLEY_ASSERT(link.up);
    TROLLEY_ASSERT(link.replies_wanted == 0);
    slot.op->step = step;
    link.replies_wanted = replies;
    link.out += commands;
    Write(slot, slot.link);
  }

  void Write(Slot& slot, const std::shared_ptr<Link>& link) {
    if (link->writing || link->out.empty()) return;
    link->writing = true;
    link->writing_buf = std::move(link->out);
    link->out.clear();
    asio::async_write(
        link->socket, asio::buffer(link->writing_buf),
        [weak = weak_from_this(), s = &slot, link](boost::system::error_code ec, size_t) {
          link->writing = false;
          auto self = weak.lock();
          if (!self || self->closed || s->link != link) return;
          if (ec) {
            return self->FailLink(*s,
                                  "redis at " + self->options.primary + ": send: " + ec.message());
          }
          self->Write(*s, link);
        });
  }

  void Read(Slot& slot, std::shared_ptr<Link> link) {
    auto buffer = asio::buffer(link->chunk);
    link->socket.async_read_some(
        buffer, [weak = weak_from_this(), s = &slot, link](boost::system::error_code ec, size_t n) {
          auto self = weak.lock();
          if (!self || self->closed || s->link != link) return;
          if (ec) {
            return self->FailLink(*s, "redis at " + self->options.primary +
                                          " closed the connection: " + ec.message());
          }
          if (redisReaderFeed(link->reader.get(), link->chunk.data(), n) != REDIS_OK) {
            return self->FailLink(*s, self->BadReply(*link));
          }
          for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(link->reader.get(), &raw) != REDIS_OK) {
              return self->FailLink(*s, self->BadReply(*link));
            }
            if (raw == nullptr) break;
            ReplyPtr reply(static_cast<redisReply*>(raw));
            if (link->replies_wanted == 0) {
              return self->FailLink(*s, "redis at " + self->options.primary +
                                            ": reply without a request: " + Describe(*reply));
            }
            link->replies.push_back(std::move(reply));
            if (link->replies.size() < link->replies_wanted) continue;
            std::vector<ReplyPtr> replies = std::move(link->replies);
            link->replies.clear();
            link->replies_wanted = 0;
            self->OnReplies(*s, std::move(replies));
            if (self->closed || s->link != link) return;  // closed, or a callback ended it
          }
          self->Read(*s, std::move(link));
        });
  }

  std::string BadReply(const Link& link) const {
    return "redis at " + options.primary + ": unreadable reply: " + link.reader->errstr;
  }

  // All the replies of the slot's round trip are in.
  void OnReplies(Slot& slot, std::vector<ReplyPtr> replies) {
    std::shared_ptr<Op> op = slot.op;
    TROLLEY_ASSERT(op != nullptr);
    for (size_t i = 0; i < replies.size(); ++i) {
      const redisReply& r = *replies[i];
      const redisReply* error = r.type == REDIS_REPLY_ERROR ? &r : nullptr;
      if (r.type == REDIS_REPLY_ARRAY && r.elements > 0 &&
          r.element[0]->type == REDIS_REPLY_ERROR) {
        error = r.element[0];  // EXEC's SET
      }
      if (error != nullptr) {
        return Finish(op,
                      Failure("RedisError", "redis at " + options.primary + " answered " +
                                                std::string(CommandOf(*op, i, options.layout)) +
                                                " with " + std::string(TextOf(*error))),
                      /*close=*/true);
      }
    }
    switch (op->step) {
      case Op::Step::kPing:
        return OnPingReply(slot, *replies[0]);
      case Op::Step::kGet:
        return OnGetReply(slot, *replies[0]);
      case Op::Step::kWatchGet:
        return OnWatchGetReplies(slot, *replies[0], *replies[1]);
      case Op::Step::kExec:
        return OnExecReplies(slot, replies);
      case Op::Step::kLineWrite:
        return OnLineWriteReplies(slot, replies);
      case Op::Step::kNone:
        break;
    }
    TROLLEY_ASSERT(false);
  }

  void OnPingReply(Slot& slot, const redisReply& pong) {
    if (!IsStatus(pong, "PONG")) return Unexpected(slot, "PING", pong);
    Finish(slot.op, Answer{}, /*close=*/false);
  }

  void OnGetReply(Slot& slot, const redisReply& get) {
    std::optional<Result<PeerCart>> cart = CartOf(slot, get);
    if (!cart) return;
    if (!cart->ok())
      return Finish(slot.op, Corrupt(*slot.op, cart->status()),
                    /*close=*/false);
    Answer a;
    a.cart = std::move(**cart);
    Finish(slot.op, std::move(a), /*close=*/false);
  }

  void OnWatchGetReplies(Slot& slot, const redisReply& watch, const redisReply& get) {
    if (!IsStatus(watch, "OK")) return Unexpected(slot, "WATCH", watch);
    std::optional<Result<PeerCart>> cart = CartOf(slot, get);
    if (!cart) return;
    Op& op = *slot.op;
    // The key stays watched: close rather than reuse a connection in that
    // state.
    if (!cart->ok()) return Finish(slot.op, Corrupt(op, cart->status()), /*close=*/true);
    op.cart = std::move(**cart);
    op.cart.Apply(op.cart_op, options.quantity_max);
    std::string commands;
    AppendCommand(commands, {"MULTI"});
    AppendCommand(commands, {"SET", op.key, op.cart.Encode()});
    AppendCommand(commands, {"EXEC"});
    size_t replies = 3;
    if (options.wait_replicas > 0) {
      // Redis runs a connection's commands in order, so WAIT after EXEC in
      // the same write waits for EXEC's write (and answers at once if it
      // aborted).
      AppendCommand(commands, {"WAIT", std::to_string(options.wait_replicas),
                               std::to_string(options.wait_timeout_ms)});
      ++replies;
    }
    Send(slot, Op::Step::kExec, std::move(commands), replies);
  }

  void OnExecReplies(Slot& slot, const std::vector<ReplyPtr>& replies) {
    std::shared_ptr<Op> op = slot.op;
    if (!IsStatus(*replies[0], "OK")) return Unexpected(slot, "MULTI", *replies[0]);
    if (!IsStatus(*replies[1], "QUEUED")) return Unexpected(slot, "SET", *replies[1]);
    const redisReply& exec = *replies[2];
    if (exec.type == REDIS_REPLY_NIL) {
      // Another client wrote the key after WATCH; EXEC also ended the WATCH.
      if (++op->conflicts > options.conflict_retries_max) {
        return Finish(
            op,
            Failure("Conflict", "redis at " + options.primary + ": key " + op->key +
                                    " changed under WATCH on " + std::to_string(op->conflicts) +
                                    " attempts in a row (conflict_retries_max " +
                                    std::to_string(options.conflict_retries_max) + ")"),
            /*close=*/false);
      }
      return Start(slot);
    }
    if (exec.type != REDIS_REPLY_ARRAY || exec.elements != 1 || !IsStatus(*exec.element[0], "OK")) {
      return Unexpected(slot, "EXEC", exec);
    }
    if (options.wait_replicas > 0 && !WaitAnswered(slot, *replies[3])) return;
    Answer a;
    a.cart = std::move(op->cart);
    Finish(op, std::move(a), /*close=*/false);
  }

  // WAIT's reply: true if enough replicas acknowledged; else the operation
  // has failed (NotReplicated, or the connection for a malformed reply).
  bool WaitAnswered(Slot& slot, const redisReply& wait) {
    if (wait.type != REDIS_REPLY_INTEGER) {
      Unexpected(slot, "WAIT", wait);
      return false;
    }
    if (wait.integer >= static_cast<long long>(options.wait_replicas)) return true;
    Finish(
        slot.op,
        Failure("NotReplicated",
                "redis at " + options.primary + ": WAIT: " + std::to_string(wait.integer) + " of " +
                    std::to_string(options.wait_replicas) +
                    " replicas acknowledged the write within " +
                    std::to_string(options.wait_timeout_ms) + " ms (it is applied on the primary)"),
        /*close=*/false);
    return false;
  }

  // Error replies were caught by OnReplies; a checkout's EXEC carries the
  // lines it bought.
  void OnLineWriteReplies(Slot& slot, const std::vector<ReplyPtr>& replies) {
    std::shared_ptr<Op> op = slot.op;
    Answer a;
    if (op->cart_op.type == CartOp::Type::kCheckout) {
      const redisReply& exec = *replies[3];
      if (exec.type != REDIS_REPLY_ARRAY || exec.elements != 2) {
        return Unexpected(slot, "EXEC", exec);
      }
      std::optional<Result<PeerCart>> bought = CartOf(slot, *exec.element[0]);
      if (!bought) return;
      if (!bought->ok()) return Finish(op, Corrupt(*op, bought->status()), /*close=*/false);
      a.cart = std::move(**bought);
    }
    if (options.wait_replicas > 0 && !WaitAnswered(slot, *replies.back())) return;
    Finish(op, std::move(a), /*close=*/false);
  }

  // The cart in a GET reply (nil: an empty cart), or per line in an
  // HGETALL reply (field, value, ...); nullopt if the reply was of another
  // shape, in which case the operation has failed already.
  std::optional<Result<PeerCart>> CartOf(Slot& slot, const redisReply& get) {
    if (options.layout == CartLayout::kPerLine) {
      std::vector<std::pair<std::string, std::string>> lines;
      bool strings = get.type == REDIS_REPLY_ARRAY && get.elements % 2 == 0;
      for (size_t i = 0; strings && i < get.elements; i += 2) {
        strings = get.element[i]->type == REDIS_REPLY_STRING &&
                  get.element[i + 1]->type == REDIS_REPLY_STRING;
        if (strings) lines.emplace_back(TextOf(*get.element[i]), TextOf(*get.element[i + 1]));
      }
      if (!strings) {
        Unexpected(slot, "HGETALL", get);
        return std::nullopt;
      }
      return PeerCart::FromLines(lines);
    }
    if (get.type == REDIS_REPLY_NIL) return Result<PeerCart>(PeerCart());
    if (get.type != REDIS_REPLY_STRING) {
      Unexpected(slot, "GET", get);
      return std::nullopt;
    }
    return PeerCart::Decode(TextOf(get));
  }

  Answer Corrupt(const Op& op, const Status& decode) const {
    return Failure("Corruption",
                   "redis at " + options.primary + ": key " + op.key + ": " + decode.message());
  }

  // A reply of the wrong shape: the connection cannot be trusted any more.
  void Unexpected(Slot& slot, std::string_view command, const redisReply& r) {
    FailLink(slot, "redis at " + options.primary + ": unexpected reply to " + std::string(command) +
                       ": " + Describe(r));
  }

  void OnOpTimeout(const std::shared_ptr<Op>& op) {
    const std::string timeout_ms = std::to_string(options.timeout.count());
    std::string why;
    if (op->slot == nullptr) {
      why = "no free connection within " + timeout_ms + " ms (all " + std::to_string(slots.size()) +
            " busy)";
    } else if (op->slot->link == nullptr || !op->slot->link->up) {
      why = "connect did not complete within " + timeout_ms + " ms";
    } else {
      why = "no reply within " + timeout_ms +
            " ms; connection closed (the operation may still have happened)";
    }
    Finish(op, Failure("Timeout", "redis at " + options.primary + ": " + why),
           /*close=*/true);
  }

  // The slot's connection failed: its operation, if any, is Unavailable.
  void FailLink(Slot& slot, std::string why) {
    if (slot.op != nullptr) {
      return Finish(slot.op, Failure("Unavailable", std::move(why)),
                    /*close=*/true);
    }
    CloseLink(slot);
  }

  void CloseLink(Slot& slot) {
    if (slot.link == nullptr) return;
    boost::system::error_code ignored;
    slot.link->socket.close(ignored);
    slot.link->up = false;
    slot.link.reset();
  }

  // Ends `op` once: frees its slot (closing the connection if asked: its
  // state is unknown), calls back, and hands the slot on.
  void Finish(std::shared_ptr<Op> op, Answer answer, bool close) {
    if (op->finished) return;
    op->finished = true;
    op->timer.cancel();
    if (Slot* slot = op->slot) {
      op->slot = nullptr;
      slot->op.reset();
      if (close) CloseLink(*slot);
      free.push_back(slot);
    } else {
      auto it = std::find(waiting.begin(), waiting.end(), op);
      if (it != waiting.end()) waiting.erase(it);
    }
    auto done = std::move(op->done);
    op->done = nullptr;
    done(std::move(answer));
    Dispatch();
  }

  asio::io_context& io;
  RedisTargetOptions options;
  HostPort host_port;
  Status address_status;
  std::optional<tcp::endpoint> endpoint;  // known once Connect resolved it (or an IP)
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<Slot*> free;  // LIFO: the most recently used, still connected, first
  std::deque<std::shared_ptr<Op>> waiting;
  bool closed = false;
  bool dispatching = false;
};

RedisTarget::RedisTarget(asio::io_context& io, RedisTargetOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

RedisTarget::~RedisTarget() { impl_->Close(); }

void RedisTarget::Connect(std::function<void(Status)> done) {
  std::shared_ptr<Impl> impl = impl_;  // `done` may destroy *this
  impl->Connect(std::move(done));
}

void RedisTarget::Execute(const CartOp& op, std::function<void(OpOutcome)> done) {
  std::shared_ptr<Impl> impl = impl_;
  Op::Kind kind = Op::Kind::kGet;
  if (op.type != CartOp::Type::kGet) {
    kind = impl->options.layout == CartLayout::kPerLine ? Op::Kind::kLineWrite : Op::Kind::kUpdate;
  }
  impl->Submit(kind, op, [done = std::move(done)](Answer a) {
    done(OpOutcome::Of(std::move(a.error_kind), std::move(a.error_message)));
  });
}

void RedisTarget::ReadCart(uint64_t cart,
                           std::function<void(Result<std::vector<CartLineView>>)> done) {
  std::shared_ptr<Impl> impl = impl_;
  impl->Submit(Op::Kind::kGet, CartOp::Get(cart), [done = std::move(done)](Answer a) {
    if (!a.ok()) return done(StatusOf(a));
    done(a.cart.View());
  });
}

}  // namespace trolley::bench
