#include "bench/postgres_target.h"

#include <libpq-fe.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "bench/peer_cart.h"

namespace trolley::bench {
namespace {

using ms = std::chrono::milliseconds;

constexpr ms kDialTimeoutMin{2000};

// The prepared statements, by name; Impl::Impl writes their SQL.
constexpr const char* kStmtBegin = "trolley_begin";
constexpr const char* kStmtCommit = "trolley_commit";
constexpr const char* kStmtRollback = "trolley_rollback";
constexpr const char* kStmtGet = "trolley_get";
constexpr const char* kStmtLock = "trolley_lock";
constexpr const char* kStmtUpdate = "trolley_update";
constexpr const char* kStmtInsert = "trolley_insert";
// The per-line layout's.
constexpr const char* kStmtLineAdd = "trolley_line_add";
constexpr const char* kStmtLineSet = "trolley_line_set";
constexpr const char* kStmtLineRemove = "trolley_line_remove";
constexpr const char* kStmtLines = "trolley_lines";
constexpr const char* kStmtLinesLock = "trolley_lines_lock";
constexpr const char* kStmtLinesDelete = "trolley_lines_delete";

// One statement's answer within a pipelined batch.
struct QueryResult {
  ExecStatusType status = PGRES_EMPTY_QUERY;
  std::string sqlstate, message;     // when status is an error
  int rows = 0;                      // rows returned
  std::optional<std::string> value;  // column 0 of row 0, unless null
  std::string rows_affected;         // PQcmdTuples: "1", "0", or "" for utility statements
  // Every row's columns 0 and 1, for two-column results (a cart's lines).
  std::vector<std::pair<std::string, std::string>> pairs;
};

QueryResult ResultOf(const PGresult* r) {
  QueryResult q;
  q.status = PQresultStatus(r);
  if (q.status == PGRES_FATAL_ERROR || q.status == PGRES_NONFATAL_ERROR ||
      q.status == PGRES_BAD_RESPONSE) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    q.sqlstate = state != nullptr ? state : "";
    q.message = primary != nullptr ? primary : PQresultErrorMessage(r);
  }
  q.rows = PQntuples(r);
  if (q.rows > 0 && PQnfields(r) > 0 && PQgetisnull(r, 0, 0) == 0) {
    q.value.emplace(PQgetvalue(r, 0, 0), static_cast<size_t>(PQgetlength(r, 0, 0)));
  }
  q.rows_affected = PQcmdTuples(const_cast<PGresult*>(r));
  if (PQnfields(r) == 2) {
    for (int row = 0; row < q.rows; ++row) {
      q.pairs.emplace_back(PQgetvalue(r, row, 0), PQgetvalue(r, row, 1));
    }
  }
  return q;
}

bool IsRetryable(const std::string& sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization_failure, deadlock_detected
}

// libpq's messages end in a newline and continue lines with "\n\t".
std::string OneLine(std::string text) {
  for (char& ch : text) {
    if (ch == '\n' || ch == '\t') ch = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  std::string out;
  for (char ch : text) {
    if (ch == ' ' && !out.empty() && out.back() == ' ') continue;
    out += ch;
  }
  return out;
}

bool IsPlainIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
  });
}

// The server's address as the conninfo names it ("127.0.0.1:5433"), for messages.
Result<std::pair<std::string, std::string>> AddressOf(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? OneLine(error) : "out of memory";
    PQfreemem(error);
    return Status::InvalidArgument("PostgreSQL conninfo '" + conninfo + "': " + message);
  }
  std::string host, hostaddr, port;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string keyword = o->keyword;
    if (keyword == "host") host = o->val;
    if (keyword == "hostaddr") hostaddr = o->val;
    if (keyword == "port") port = o->val;
  }
  PQconninfoFree(options);
  if (host.empty()) host = hostaddr.empty() ? "the default unix socket" : hostaddr;
  if (port.empty()) port = "5432";
  return std::make_pair(host, port);
}

void IgnoreNotice(void*, const char*) {}  // e.g. "relation already exists, skipping"

// What an operation ended with: ok when kind is empty.
struct Outcome {
  std::string kind;  // OpOutcome::error_kind
  Status status;     // not ok when kind is not empty
  PeerCart cart;     // the cart read, or as written

  static Outcome Ok(PeerCart cart) { return {"", Status::Ok(), std::move(cart)}; }
  static Outcome Error(std::string kind, Status status) {
    return {std::move(kind), std::move(status), PeerCart()};
  }
  static Outcome Error(Status status) {  // kind = the code's name
    std::string kind(StatusCodeName(status.code()));
    return Error(std::move(kind), std::move(status));
  }
};

// One operation, from Execute (or ReadCart) to its callback.
struct Task {
  CartOp op;
  std::string cart_id;
  bool read_only = false;
  uint32_t retries = 0;
  bool exists = false;  // the row was there when round trip 1 locked it
  PeerCart cart;        // after round trip 1: the cart as it will be written
  std::optional<asio::steady_timer> timer;
  std::function<void(Outcome)> done;
  bool finished = false;
};

// One pooled libpq connection. States:
//   kDown    no PGconn;
//   kDialing PQconnectPoll steps;
//   kSetup   pipeline mode entered, the setup batches (checks, prepares) in flight;
//   kIdle    ready, no task; a read wait notices the server closing it;
//   kBusy    one task's batch in flight, or being built.
// Invariants: (1) a task only in kBusy; (2) socket, when set, wraps
// PQsocket(pg) and is released, never closed, by us; (3) handlers carry
// socket_gen (waits) or life (the dial timer) and do nothing when it moved.
struct Conn {
  enum class State { kDown, kDialing, kSetup, kIdle, kBusy };
  // kLine: a per-line write, one batch (a checkout's is a transaction).
  enum class Phase { kCheck, kPrepare, kLock, kWrite, kGet, kLine };

  Conn(asio::io_context& io, size_t i) : index(i), dial_timer(io) {}

  const size_t index;
  State state = State::kDown;
  PGconn* pg = nullptr;
  std::optional<asio::posix::stream_descriptor> socket;
  uint64_t socket_gen = 0;
  uint64_t life = 0;
  bool read_armed = false, write_armed = false;
  asio::steady_timer dial_timer;

  // The batch in flight: `expected` statements then a sync.
  Phase phase = Phase::kGet;
  bool batch_in_flight = false;
  bool rollback_first = false;  // the batch opens with a ROLLBACK (BeginBatch)
  size_t expected = 0;
  std::vector<QueryResult> results;
  std::shared_ptr<Task> task;
};

}  // namespace

struct PostgresTarget::Impl : std::enable_shared_from_this<Impl> {
  using State = Conn::State;
  using Phase = Conn::Phase;

  struct Statement {
    const char* name;
    std::string sql;
    int params;
  };

  Impl(asio::io_context& io_context, PostgresTargetOptions o)
      : io(io_context),
        options(std::move(o)),
        dial_timeout(std::max<ms>(options.timeout, kDialTimeoutMin)) {
    const size_t n = std::max<size_t>(options.connections, 1);
    for (size_t i = 0; i < n; ++i) conns.push_back(std::make_unique<Conn>(io, i));
    statements =
        options.layout == CartLayout::kPerLine ? PerLineStatements() : WholeCartStatements();
    auto address = AddressOf(options.conninfo);
    if (address.ok()) {
      server = address->first + ":" + address->second;
      port = address->second;
    } else {
      conninfo_error = address.status();
    }
  }

  ~Impl() { Close(); }

  std::vector<Statement> WholeCartStatements() const {
    const std::string& t = options.table;
    return {
        {kStmtBegin, "BEGIN", 0},
        {kStmtCommit, "COMMIT", 0},
        {kStmtRollback, "ROLLBACK", 0},
        {kStmtGet, "SELECT body FROM " + t + " WHERE id = $1", 1},
        {kStmtLock, "SELECT body FROM " + t + " WHERE id = $1 FOR UPDATE", 1},
        {kStmtUpdate, "UPDATE " + t + " SET body = $2 WHERE id = $1", 2},
        {kStmtInsert,
         "INSERT INTO " + t + " (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", 2},
    };
  }

  // One statement per add, set and remove; the cart's row is created by
  // the first write's CTE. $4 is quantity_max.
  std::vector<Statement> PerLineStatements() const {
    const std::string& c = options.table;
    const std::string& i = options.items_table;
    const std::string upsert = "WITH cart AS (INSERT INTO " + c +
                               " (cart_id) VALUES ($1) ON CONFLICT (cart_id) DO NOTHING) "
                               "INSERT INTO " +
                               i +
                               " (cart_id, sku, quantity) VALUES ($1, $2, LEAST($3::integer, "
                               "$4::integer)) ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = ";
    return {
        {kStmtBegin, "BEGIN", 0},
        {kStmtCommit, "COMMIT", 0},
        {kStmtRollback, "ROLLBACK", 0},
        {kStmtLineAdd, upsert + "LEAST(" + i + ".quantity + EXCLUDED.quantity, $4::integer)", 4},
        {kStmtLineSet, upsert + "EXCLUDED.quantity", 4},
        {kStmtLineRemove, "DELETE FROM " + i + " WHERE cart_id = $1 AND sku = $2", 2},
        {kStmtLines, "SELECT sku, quantity FROM " + i + " WHERE cart_id = $1", 1},
        {kStmtLinesLock, "SELECT sku, quantity FROM " + i + " WHERE cart_id = $1 FOR UPDATE", 1},
        {kStmtLinesDelete, "DELETE FROM " + i + " WHERE cart_id = $1", 1},
    };
  }

  // The tables, created at Connect if they do not exist.
  std::vector<std::string> CreateTables() const {
    if (options.layout == CartLayout::kWholeCart) {
      return {"CREATE TABLE IF NOT EXISTS " + options.table +
              " (id text PRIMARY KEY, body jsonb NOT NULL)"};
    }
    return {"CREATE TABLE IF NOT EXISTS " + options.table +
                " (cart_id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE IF NOT EXISTS " + options.items_table +
                " (cart_id text NOT NULL, sku text NOT NULL, quantity integer NOT NULL CHECK "
                "(quantity > 0), attributes jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (cart_id, "
                "sku))"};
  }

  // Drops everything without calling back.
  void Close() {
    closed = true;
    connect_done = nullptr;
    for (auto& c : conns) {
      c->task.reset();
      Teardown(*c);
    }
    for (auto& t : queue) t->timer->cancel();
    queue.clear();
  }

  // --- Connect ---

  void Connect(std::function<void(Status)> done) {
    TROLLEY_ASSERT(!connect_done);
    for (const std::string& table : {options.table, options.items_table}) {
      if (!IsPlainIdentifier(table)) {
        return done(Status::InvalidArgument("PostgreSQL table '" + table +
                                            "': use a plain identifier ([a-z_][a-z0-9_]*)"));
      }
    }
    if (!conninfo_error.ok()) return done(conninfo_error);
    connect_done = std::move(done);
    connect_remaining = conns.size();
    Dial(*conns[0]);  // the others once it has checked the server and created the table
  }

  void FailConnect(Status status) {
    for (auto& c : conns) Teardown(*c);
    auto done = std::move(connect_done);
    connect_done = nullptr;
    done(std::move(status));
  }

  // --- Operations ---

  void Submit(CartOp op, bool read_only, std::function<void(Outcome)> done) {
    auto task = std::make_shared<Task>();
    task->cart_id = CartIdOf(op.cart);
    task->op = std::move(op);
    task->read_only = read_only;
    task->done = std::move(done);
    task->timer.emplace(io, options.timeout);
    WaitForDeadline(*task->timer, weak_from_this(), std::weak_ptr<Task>(task),
                    &Impl::OnTaskTimeout);
    queue.push_back(std::move(task));
    Dispatch();
  }

  // Hands waiting tasks to idle connections, and dials connections that
  // are down for the tasks no dialling connection will serve. Not while Connect
  // runs: it owns the connections until it calls back.
  void Dispatch() {
    if (connect_done) return;
    if (dispatching) {
      dispatch_again = true;
      return;
    }
    dispatching = true;
    do {
      dispatch_again = false;
      while (!closed && !queue.empty()) {
        auto idle = std::find_if(conns.begin(), conns.end(),
                                 [](const auto& c) { return c->state == State::kIdle; });
        if (idle == conns.end()) break;
        std::shared_ptr<Task> task = std::move(queue.front());
        queue.pop_front();
        Start(**idle, std::move(task));
      }
      if (closed) break;
      size_t dialing = std::count_if(conns.begin(), conns.end(), [](const auto& c) {
        return c->state == State::kDialing || c->state == State::kSetup;
      });
      for (auto& c : conns) {
        if (queue.size() <= dialing) break;
        if (c->state != State::kDown) continue;
        Dial(*c);
        ++dialing;
      }
    } while (dispatch_again && !closed);
    dispatching = false;
  }

  void Start(Conn& c, std::shared_ptr<Task> task) {
    TROLLEY_ASSERT(c.state == State::kIdle);
    TROLLEY_ASSERT(!c.task);
    c.task = std::move(task);
    c.state = State::kBusy;
    if (c.task->read_only) {
      BeginBatch(c, Phase::kGet, /*fresh=*/true);
      const bool per_line = options.layout == CartLayout::kPerLine;
      return EndBatch(c, SendPrepared(c, per_line ? kStmtLines : kStmtGet, {&c.task->cart_id}));
    }
    StartWrite(c);
  }

  void StartWrite(Conn& c) {
    if (options.layout == CartLayout::kPerLine) return SendLine(c);
    SendLock(c);
  }

  // A per-line write in one batch: one statement (autocommit), or for a
  // checkout BEGIN, SELECT ... FOR UPDATE, DELETE, COMMIT.
  void SendLine(Conn& c) {
    const Task& t = *c.task;
    const CartOp& op = t.op;
    BeginBatch(c, Phase::kLine, /*fresh=*/true);
    const std::string quantity = std::to_string(op.quantity);
    const std::string quantity_max = std::to_string(options.quantity_max);
    bool sent = false;
    switch (op.type) {
      case CartOp::Type::kAdd:
        sent = SendPrepared(c, kStmtLineAdd, {&t.cart_id, &op.sku, &quantity, &quantity_max});
        break;
      case CartOp::Type::kSetQuantity:
        if (op.quantity > 0) {
          sent = SendPrepared(c, kStmtLineSet, {&t.cart_id, &op.sku, &quantity, &quantity_max});
          break;
        }
        [[fallthrough]];
      case CartOp::Type::kRemove:
        sent = SendPrepared(c, kStmtLineRemove, {&t.cart_id, &op.sku});
        break;
      case CartOp::Type::kCheckout:
        sent = SendPrepared(c, kStmtBegin, {}) && SendPrepared(c, kStmtLinesLock, {&t.cart_id}) &&
               SendPrepared(c, kStmtLinesDelete, {&t.cart_id}) && SendPrepared(c, kStmtCommit, {});
        break;
      case CartOp::Type::kGet:
        TROLLEY_ASSERT(false);
    }
    EndBatch(c, sent);
  }

  void OnLineDone(Conn& c) {
    if (const QueryResult* e = FirstError(c)) return OnStatementError(c, *e);
    PeerCart bought;  // a checkout's lines
    if (c.task->op.type == CartOp::Type::kCheckout) {
      auto lines = LinesOf(c, c.results[1]);
      if (!lines.ok()) return Finish(c, Outcome::Error("Corruption", lines.status()));
      bought = std::move(*lines);
    }
    Finish(c, Outcome::Ok(std::move(bought)));
  }

  Result<PeerCart> LinesOf(const Conn& c, const QueryResult& q) const {
    auto cart = PeerCart::FromLines(q.pairs);
    if (!cart.ok()) {
      return Status::Corruption(c.task->cart_id + " in table " + options.items_table + ": " +
                                cart.status().message());
    }
    return cart;
  }

  // Round trip 1 of a write: BEGIN, SELECT ... FOR UPDATE.
  void SendLock(Conn& c) {
    BeginBatch(c, Phase::kLock, /*fresh=*/true);
    EndBatch(c, SendPrepared(c, kStmtBegin, {}) && SendPrepared(c, kStmtLock, {&c.task->cart_id}));
  }

  void OnLockDone(Conn& c) {
    Task& t = *c.task;
    if (const QueryResult* e = FirstError(c)) return OnStatementError(c, *e);
    const QueryResult& lock = c.results.back();
    auto cart = PeerCart::Decode(lock.value.value_or(""));
    if (!cart.ok()) {
      return Finish(c, Outcome::Error("Corruption",
                                      Status::Corruption(t.cart_id + " in table " + options.table +
                                                         ": " + cart.status().message())));
    }
    t.exists = lock.rows > 0;
    t.cart = std::move(*cart);
    t.cart.Apply(t.op, options.quantity_max);
    const std::string body = t.cart.Encode();
    BeginBatch(c, Phase::kWrite, /*fresh=*/false);
    EndBatch(c, SendPrepared(c, t.exists ? kStmtUpdate : kStmtInsert, {&t.cart_id, &body}) &&
                    SendPrepared(c, kStmtCommit, {}));
  }

  void OnWriteDone(Conn& c) {
    if (const QueryResult* e = FirstError(c)) return OnStatementError(c, *e);
    // 0 rows: the insert lost the race to create the row (the COMMIT then
    // ended a transaction that wrote nothing, as a ROLLBACK would).
    if (c.results.front().rows_affected != "1") {
      return Retry(c, "another transaction created " + c.task->cart_id + " first");
    }
    Finish(c, Outcome::Ok(std::move(c.task->cart)));
  }

  void OnGetDone(Conn& c) {
    if (const QueryResult* e = FirstError(c)) return OnStatementError(c, *e);
    if (options.layout == CartLayout::kPerLine) {
      auto lines = LinesOf(c, c.results.back());
      if (!lines.ok()) return Finish(c, Outcome::Error("Corruption", lines.status()));
      return Finish(c, Outcome::Ok(std::move(*lines)));
    }
    auto cart = PeerCart::Decode(c.results.back().value.value_or(""));
    if (!cart.ok()) {
      return Finish(
          c, Outcome::Error("Corruption",
                            Status::Corruption(c.task->cart_id + " in table " + options.table +
                                               ": " + cart.status().message())));
    }
    Finish(c, Outcome::Ok(std::move(*cart)));
  }

  // A statement failed; the transaction, if any, is rolled back by the
  // next batch on this connection (BeginBatch).
  void OnStatementError(Conn& c, const QueryResult& e) {
    if (IsRetryable(e.sqlstate) && !c.task->read_only) {
      return Retry(c, "SQLSTATE " + e.sqlstate + ": " + e.message);
    }
    Finish(c, Outcome::Error("PostgresError",
                             Status::IOError("PostgreSQL at " + server + " answered SQLSTATE " +
                                             e.sqlstate + ": " + e.message)));
  }

  void Retry(Conn& c, const std::string& why) {
    Task& t = *c.task;
    if (t.retries >= options.conflict_retries_max) {
      return Finish(
          c, Outcome::Error("Conflict",
                            Status::Busy("gave up on " + t.cart_id + " after " +
                                         std::to_string(t.retries) + " retries; last: " + why)));
    }
    ++t.retries;
    StartWrite(c);
  }

  void OnTaskTimeout(const std::shared_ptr<Task>& task) {
    const std::string limit = std::to_string(options.timeout.count()) + " ms";
    auto waiting = std::find(queue.begin(), queue.end(), task);
    if (waiting != queue.end()) {
      queue.erase(waiting);
      return Complete(task, Outcome::Error(Status::Timeout(
                                "no connection to PostgreSQL at " + server + " free within " +
                                limit + " (pool of " + std::to_string(conns.size()) + ")")));
    }
    for (auto& c : conns) {
      if (c->task != task) continue;
      return Drop(
          *c, Outcome::Error(Status::Timeout("no answer from PostgreSQL at " + server + " within " +
                                             limit + "; the connection was dropped")));
    }
  }

  // --- Completion ---
  // The callback may run anything, even destroy the Target (closed is
  // then set): callers touch no connection after it, and return.

  void Complete(const std::shared_ptr<Task>& task, Outcome outcome) {
    TROLLEY_ASSERT(!task->finished);
    task->finished = true;
    task->timer->cancel();
    auto done = std::move(task->done);
    done(std::move(outcome));
  }

  // The task on c is over; c stays open for the next.
  void Finish(Conn& c, Outcome outcome) {
    std::shared_ptr<Task> task = std::move(c.task);
    BecomeIdle(c);
    Complete(task, std::move(outcome));
    if (!closed) Dispatch();
  }

  // An idle connection keeps a read armed: it notices the server closing
  // it, and its wait is work that keeps the io_context's run loops going
  // (a run with no work left stops the io_context).
  void BecomeIdle(Conn& c) {
    c.state = State::kIdle;
    ArmRead(c);
  }

  // c is unusable: closed; its task, if any, ends with `outcome`.
  void Drop(Conn& c, Outcome outcome) {
    std::shared_ptr<Task> task = std::move(c.task);
    Teardown(c);
    if (task) Complete(task, std::move(outcome));
    if (!closed) Dispatch();
  }

  // The connection (or the socket) failed or closed.
  void Lost(Conn& c, const std::string& what) {
    std::string message = "connection to PostgreSQL at " + server + " lost (" + what + ")";
    if (c.pg != nullptr && PQerrorMessage(c.pg)[0] != '\0') {
      message += ": " + OneLine(PQerrorMessage(c.pg));
    }
    switch (c.state) {
      case State::kDialing:
      case State::kSetup:
        return DialFailed(c, Status::Unavailable(message));
      case State::kBusy:
        return Drop(c, Outcome::Error(Status::Unavailable(message)));
      case State::kIdle:
      case State::kDown:
        return Teardown(c);
    }
  }

  // --- Dialling ---

  // Never completes inside the call: failures are posted.
  void Dial(Conn& c) {
    TROLLEY_ASSERT(c.state == State::kDown);
    TROLLEY_ASSERT(c.pg == nullptr);
    ++c.life;
    c.state = State::kDialing;
    c.dial_timer.expires_after(dial_timeout);
    c.dial_timer.async_wait(
        [w = weak_from_this(), i = c.index, life = c.life](boost::system::error_code ec) {
          auto self = w.lock();
          if (ec || !self || self->closed) return;
          Conn& dialing = *self->conns[i];
          if (dialing.life != life ||
              (dialing.state != State::kDialing && dialing.state != State::kSetup)) {
            return;
          }
          self->DialFailed(dialing,
                           Status::Timeout("PostgreSQL at " + self->server +
                                           " did not complete a connection within " +
                                           std::to_string(self->dial_timeout.count()) + " ms"));
        });
    c.pg = PQconnectStart(options.conninfo.c_str());
    std::string error;
    if (c.pg == nullptr) {
      error = "out of memory";
    } else if (PQstatus(c.pg) == CONNECTION_BAD) {
      error = OneLine(PQerrorMessage(c.pg));
    } else {
      PQsetNoticeProcessor(c.pg, IgnoreNotice, nullptr);
      if (!ResetSocket(c)) error = "no socket";
    }
    if (!error.empty()) {
      asio::post(io, [w = weak_from_this(), i = c.index, life = c.life, error] {
        auto self = w.lock();
        if (!self || self->closed) return;
        Conn& dialing = *self->conns[i];
        if (dialing.life != life || dialing.state != State::kDialing) return;
        self->DialFailed(dialing, self->Unreachable(error));
      });
      return;
    }
    ArmWrite(c);  // libpq: start as if PQconnectPoll had said PGRES_POLLING_WRITING
  }

  void ContinueDial(Conn& c) {
    const PostgresPollingStatusType poll = PQconnectPoll(c.pg);
    if (poll == PGRES_POLLING_FAILED) {
      return DialFailed(c, Unreachable(OneLine(PQerrorMessage(c.pg))));
    }
    // libpq may have closed its socket and opened another (next address,
    // SSL fallback), possibly under the same number: always wrap it anew.
    if (!ResetSocket(c)) return DialFailed(c, Unreachable("libpq has no socket"));
    if (poll == PGRES_POLLING_READING) return ArmRead(c);
    if (poll == PGRES_POLLING_WRITING) return ArmWrite(c);
    TROLLEY_ASSERT(poll == PGRES_POLLING_OK);
    c.state = State::kSetup;
    if (PQsetnonblocking(c.pg, 1) != 0 || PQenterPipelineMode(c.pg) != 1) {
      return Lost(c, "entering pipeline mode");
    }
    if (connect_done && c.index == 0) {
      BeginBatch(c, Phase::kCheck, /*fresh=*/false);
      bool sent = SendQuery(c, "SHOW synchronous_commit") && SendQuery(c, "SHOW fsync");
      for (const std::string& create : CreateTables()) sent = sent && SendQuery(c, create);
      return EndBatch(c, sent);
    }
    SendPrepares(c);
  }

  Status Unreachable(const std::string& error) const {
    return Status::Unavailable("cannot connect to PostgreSQL at " + server + ": " + error +
                               " (start one with `bash bench/peers/postgres.sh start DIR --port " +
                               port + "`, or fix the conninfo)");
  }

  void OnCheckDone(Conn& c) {
    const std::vector<QueryResult>& r = c.results;
    for (const QueryResult& q : r) {
      if (q.status == PGRES_COMMAND_OK || q.status == PGRES_TUPLES_OK) continue;
      // Two load threads creating the table at once: the loser sees
      // duplicate_table or unique_violation, and the table exists.
      if (&q >= &r[2] && (q.sqlstate == "42P07" || q.sqlstate == "23505")) continue;
      return FailConnect(Status::IOError("PostgreSQL at " + server + ": SQLSTATE " + q.sqlstate +
                                         ": " + q.message + " (checking settings, creating table " +
                                         options.table + ")"));
    }
    const std::string sync = r[0].value.value_or("");
    const std::string fsync = r[1].value.value_or("");
    if (sync != "on" || fsync != "on") {
      return FailConnect(Status::InvalidArgument(
          "PostgreSQL at " + server + " runs with synchronous_commit=" + sync +
          " and fsync=" + fsync +
          "; the benchmark compares stores that acknowledge a write once it is durable, so both "
          "must be on (bench/peers/postgres.sh sets them; check the conninfo's options and "
          "postgresql.conf)"));
    }
    SendPrepares(c);
  }

  void SendPrepares(Conn& c) {
    BeginBatch(c, Phase::kPrepare, /*fresh=*/false);
    bool sent = true;
    for (const Statement& s : statements) {
      sent = sent && PQsendPrepare(c.pg, s.name, s.sql.c_str(), s.params, nullptr) == 1;
      ++c.expected;
    }
    EndBatch(c, sent);
  }

  void OnPrepareDone(Conn& c) {
    if (const QueryResult* e = FirstError(c)) {
      return DialFailed(c, Status::IOError("PostgreSQL at " + server +
                                           " refused to prepare the statements: SQLSTATE " +
                                           e->sqlstate + ": " + e->message));
    }
    c.dial_timer.cancel();
    BecomeIdle(c);
    if (connect_done) {
      if (c.index == 0) {
        for (size_t i = 1; i < conns.size(); ++i) Dial(*conns[i]);
      }
      if (--connect_remaining > 0) return;
      auto done = std::move(connect_done);
      connect_done = nullptr;
      done(Status::Ok());
    }
    if (!closed) Dispatch();
  }

  void DialFailed(Conn& c, Status status) {
    Teardown(c);
    if (connect_done) return FailConnect(std::move(status));
    // The dial was for the queue: its oldest task learns why.
    if (!queue.empty()) {
      std::shared_ptr<Task> task = std::move(queue.front());
      queue.pop_front();
      Complete(task, Outcome::Error(std::move(status)));
    }
    if (!closed) Dispatch();
  }

  // --- Sockets ---

  bool ResetSocket(Conn& c) {
    ReleaseSocket(c);
    const int fd = PQsocket(c.pg);
    if (fd < 0) return false;
    c.socket.emplace(io);
    boost::system::error_code ec;
    c.socket->assign(fd, ec);
    if (ec) {
      c.socket.reset();
      return false;
    }
    return true;
  }

  // Stops watching the socket without closing it: libpq owns it.
  void ReleaseSocket(Conn& c) {
    ++c.socket_gen;
    c.read_armed = c.write_armed = false;
    if (!c.socket) return;
    if (c.socket->is_open()) (void)c.socket->release();
    c.socket.reset();
  }

  void Teardown(Conn& c) {
    TROLLEY_ASSERT(!c.task);
    ++c.life;
    ReleaseSocket(c);
    if (c.pg != nullptr) PQfinish(c.pg);
    c.pg = nullptr;
    c.state = State::kDown;
    c.dial_timer.cancel();
    c.batch_in_flight = false;
    c.results.clear();
  }

  void ArmRead(Conn& c) { Arm(c, asio::posix::descriptor_base::wait_read, c.read_armed); }
  void ArmWrite(Conn& c) { Arm(c, asio::posix::descriptor_base::wait_write, c.write_armed); }

  void Arm(Conn& c, asio::posix::descriptor_base::wait_type type, bool& armed) {
    if (armed || !c.socket) return;
    armed = true;
    c.socket->async_wait(type, [w = weak_from_this(), i = c.index, gen = c.socket_gen,
                                type](boost::system::error_code ec) {
      auto self = w.lock();
      if (!self || self->closed) return;
      Conn& conn = *self->conns[i];
      if (conn.socket_gen != gen) return;
      (type == asio::posix::descriptor_base::wait_read ? conn.read_armed : conn.write_armed) =
          false;
      if (ec) return self->Lost(conn, "waiting on its socket: " + ec.message());
      if (conn.state == State::kDialing) return self->ContinueDial(conn);
      self->Pump(conn);
    });
  }

  // --- Batches: statements pipelined, then a sync ---

  // fresh: the batch starts a unit of work; a transaction an earlier
  // failure left open on this connection is rolled back first.
  void BeginBatch(Conn& c, Phase phase, bool fresh) {
    TROLLEY_ASSERT(!c.batch_in_flight);
    c.phase = phase;
    c.expected = 0;
    c.results.clear();
    c.rollback_first = false;
    if (!fresh) return;
    const PGTransactionStatusType txn = PQtransactionStatus(c.pg);
    if (txn == PQTRANS_INTRANS || txn == PQTRANS_INERROR) {
      c.rollback_first = true;
      (void)SendPrepared(c, kStmtRollback, {});  // a failure shows again in the next send
    }
  }

  bool SendPrepared(Conn& c, const char* name, std::initializer_list<const std::string*> params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string* p : params) values.push_back(p->c_str());
    ++c.expected;
    return PQsendQueryPrepared(c.pg, name, static_cast<int>(values.size()), values.data(), nullptr,
                               nullptr, 0) == 1;
  }

  bool SendQuery(Conn& c, const std::string& sql) {
    ++c.expected;
    return PQsendQueryParams(c.pg, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
  }

  void EndBatch(Conn& c, bool sent) {
    if (!sent || PQpipelineSync(c.pg) != 1) return Lost(c, "sending");
    c.batch_in_flight = true;
    Pump(c);
  }

  // Sends what libpq holds, reads what arrived, and hands a complete batch
  // on; else waits for the socket.
  void Pump(Conn& c) {
    const int flush = PQflush(c.pg);
    if (flush < 0) return Lost(c, "sending");
    if (PQconsumeInput(c.pg) != 1) return Lost(c, "receiving");
    if (c.batch_in_flight) {
      bool last_was_null = false;
      while (PQisBusy(c.pg) == 0) {
        PGresult* r = PQgetResult(c.pg);
        if (r == nullptr) {  // the end of one statement's results
          if (last_was_null) break;
          last_was_null = true;
          continue;
        }
        last_was_null = false;
        const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        if (!sync) c.results.push_back(ResultOf(r));
        PQclear(r);
        if (sync) {
          c.batch_in_flight = false;
          break;
        }
      }
      if (!c.batch_in_flight) {
        if (c.results.size() != c.expected) {
          return Lost(c, std::to_string(c.results.size()) + " results to a batch of " +
                             std::to_string(c.expected));
        }
        // A failed ROLLBACK stays, as the batch's first error.
        if (c.rollback_first && FirstError(c) != &c.results.front()) {
          c.results.erase(c.results.begin());
        }
        return OnBatchDone(c);
      }
    }
    if (PQstatus(c.pg) == CONNECTION_BAD) return Lost(c, "closed");
    if (flush == 1) ArmWrite(c);
    ArmRead(c);
  }

  void OnBatchDone(Conn& c) {
    switch (c.phase) {
      case Phase::kCheck:
        return OnCheckDone(c);
      case Phase::kPrepare:
        return OnPrepareDone(c);
      case Phase::kLock:
        return OnLockDone(c);
      case Phase::kWrite:
        return OnWriteDone(c);
      case Phase::kGet:
        return OnGetDone(c);
      case Phase::kLine:
        return OnLineDone(c);
    }
  }

  static const QueryResult* FirstError(const Conn& c) {
    for (const QueryResult& q : c.results) {
      if (q.status != PGRES_COMMAND_OK && q.status != PGRES_TUPLES_OK) return &q;
    }
    return nullptr;
  }

  asio::io_context& io;
  const PostgresTargetOptions options;
  const ms dial_timeout;
  std::vector<Statement> statements;
  std::string server = "(unparsable conninfo)", port = "5432";  // for messages
  Status conninfo_error;
  std::vector<std::unique_ptr<Conn>> conns;  // never resized: handlers name them by index
  std::deque<std::shared_ptr<Task>> queue;   // FIFO of tasks waiting for a connection
  bool closed = false;
  std::function<void(Status)> connect_done;  // set while Connect runs
  size_t connect_remaining = 0;
  bool dispatching = false, dispatch_again = false;
};

PostgresTarget::PostgresTarget(asio::io_context& io, PostgresTargetOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

PostgresTarget::~PostgresTarget() { impl_->Close(); }

void PostgresTarget::Connect(std::function<void(Status)> done) {
  std::shared_ptr<Impl> impl = impl_;  // alive even if a callback destroys the Target
  impl->Connect(std::move(done));
}

void PostgresTarget::Execute(const CartOp& op, std::function<void(OpOutcome)> done) {
  std::shared_ptr<Impl> impl = impl_;
  impl->Submit(op, op.type == CartOp::Type::kGet, [done = std::move(done)](Outcome outcome) {
    done(OpOutcome::Of(std::move(outcome.kind), outcome.status.message()));
  });
}

void PostgresTarget::ReadCart(uint64_t cart,
                              std::function<void(Result<std::vector<CartLineView>>)> done) {
  std::shared_ptr<Impl> impl = impl_;
  impl->Submit(CartOp::Get(cart), true, [done = std::move(done)](Outcome outcome) {
    if (!outcome.kind.empty()) return done(std::move(outcome.status));
    done(outcome.cart.View());
  });
}

}  // namespace trolley::bench
