// Goal: PostgresTarget performs every cart operation on a real PostgreSQL
// 15, in both layouts: as a serialised read-modify-write of a jsonb row,
// or as one statement on a cart_items row (a checkout: one transaction
// that locks and deletes the cart's rows); it keeps exact counts under
// contention (row locks, races to create a cart), and turns each failure
// the header lists into its error kind without crashing or leaking.
// Method: one throwaway server per test process (bench/peers/postgres.sh
// on 127.0.0.1, a free port below the ephemeral range); psql plays the other client
// where a test needs one (a corrupt row, a lock held); a silent Asio
// acceptor plays a server that never answers. The io_context runs in the
// test thread in bounded loops. Skipped when PostgreSQL 15 is not installed.
#include "bench/postgres_target.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/loopback_ports.h"

extern char** environ;

namespace trolley::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kPgBin = "/usr/lib/postgresql/15/bin";

struct CommandResult {
  int status = -1;  // as from pclose
  std::string output;
};

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  result.status = ::pclose(pipe);
  return result;
}

// Adds, sets, removes (one of an absent line, one by a set to 0), an add
// beyond quantity_max, a get: the one-cart test of both layouts; the cart
// ends as {sku-2: 5, sku-4: 999}.
std::vector<CartOp> OneCartOps(uint64_t cart) {
  return {CartOp::Add(cart, "sku-1", 2),
          CartOp::Add(cart, "sku-1"),
          CartOp::Add(cart, "sku-2"),
          CartOp::SetQuantity(cart, "sku-2", 5),
          CartOp::Add(cart, "sku-3", 4),
          CartOp::Remove(cart, "sku-1"),
          CartOp::SetQuantity(cart, "sku-3", 0),
          CartOp::Remove(cart, "sku-absent"),
          CartOp::Add(cart, "sku-4", 1000),
          CartOp::Get(cart)};
}

class PostgresTargetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kPgBin + "/postgres") ||
        !std::filesystem::exists(kPgBin + "/initdb")) {
      skip_ = "PostgreSQL 15 is not installed (scripts/install-deps.sh)";
      return;
    }
    std::string tmpl = "/tmp/trolley-pg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    // A free port below the ephemeral range; a few more tries if another
    // process binds it first.
    CommandResult start;
    for (int attempt = 0; attempt < 4; ++attempt) {
      port_ = test_support::FreeLoopbackPorts(1);
      if (port_ == 0) continue;
      start = RunCommand("bash " TROLLEY_PEERS_DIR "/postgres.sh start " + dir_ + " --port " +
                         std::to_string(port_));
      if (start.status == 0) break;
    }
    if (start.status != 0) {
      error_ = "bench/peers/postgres.sh start failed:\n" + start.output;
      return;
    }
    // The last line is the conninfo.
    std::string out = start.output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    conninfo_ = out.substr(out.rfind('\n') + 1);
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    const CommandResult stop = RunCommand("bash " TROLLEY_PEERS_DIR "/postgres.sh stop " + dir_);
    if (stop.status != 0) std::fprintf(stderr, "postgres.sh stop: %s\n", stop.output.c_str());
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    dir_.clear();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
    ASSERT_NE(conninfo_.find("port=" + std::to_string(port_)), std::string::npos) << conninfo_;
  }

  PostgresTargetOptions Options(size_t connections = 4) const {
    PostgresTargetOptions o;
    o.conninfo = conninfo_;
    o.connections = connections;
    o.timeout = 5000ms;
    return o;
  }

  // Runs the io_context until `done` or `limit`; true if done.
  template <typename Done>
  bool RunUntil(Done done, std::chrono::milliseconds limit = 20s) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) io_.run_one_for(20ms);
    return done();
  }

  Status ConnectTarget(PostgresTarget& target) {
    std::optional<Status> result;
    target.Connect([&](Status s) { result = std::move(s); });
    if (!RunUntil([&] { return result.has_value(); }))
      return Status::FailedPrecondition("test: the target never called back");
    return *result;
  }

  OpOutcome Do(PostgresTarget& target, const CartOp& op) {
    std::optional<OpOutcome> result;
    target.Execute(op, [&](OpOutcome o) { result = std::move(o); });
    if (!RunUntil([&] { return result.has_value(); })) return {false, "TestTimeout", ""};
    return *result;
  }

  Result<std::map<std::string, uint32_t>> Read(PostgresTarget& target, uint64_t cart) {
    std::optional<Result<std::vector<CartLineView>>> result;
    target.ReadCart(cart, [&](Result<std::vector<CartLineView>> r) { result = std::move(r); });
    if (!RunUntil([&] { return result.has_value(); }))
      return Status::FailedPrecondition("test: the target never called back");
    if (!result->ok()) return result->status();
    std::map<std::string, uint32_t> lines;
    for (const CartLineView& line : result->value()) lines[line.sku] = line.quantity;
    return lines;
  }

  // Runs OneCartOps(cart), each ok, and reads the cart back.
  void RunOneCartOps(PostgresTarget& target, uint64_t cart) {
    for (const CartOp& op : OneCartOps(cart)) {
      const OpOutcome out = Do(target, op);
      EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
    }
    auto lines = Read(target, cart);
    ASSERT_TRUE(lines.ok()) << lines.status().ToString();
    const std::map<std::string, uint32_t> want = {{"sku-2", 5}, {"sku-4", 999}};  // 999: the cap
    EXPECT_EQ(*lines, want);
  }

  // One SQL command through psql, as another client of the server.
  static CommandResult Psql(const std::string& sql) {
    return RunCommand(kPgBin + "/psql \"" + conninfo_ + "\" -X -q -t -A -v ON_ERROR_STOP=1 -c \"" +
                      sql + "\"");
  }

  // A port nothing listens on (bound, then closed).
  uint16_t FreePort() {
    asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
    const uint16_t port = probe.local_endpoint().port();
    probe.close();
    return port;
  }

  inline static std::string skip_, error_, dir_, conninfo_;
  inline static int port_ = 0;

  asio::io_context io_{1};  // as the load generator's workers
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
};

TEST_F(PostgresTargetTest, ConnectFailsClearlyWhenNothingListens) {
  const uint16_t port = FreePort();
  PostgresTargetOptions o = Options();
  o.conninfo = "host=127.0.0.1 port=" + std::to_string(port) + " dbname=trolley user=postgres";
  PostgresTarget target(io_, o);
  const Status s = ConnectTarget(target);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("bench/peers/postgres.sh start"), std::string::npos) << s.message();

  // An operation after the failed Connect dials again and fails the same way.
  const OpOutcome out = Do(target, CartOp::Add(1, "sku-1"));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, "Unavailable") << out.error_message;
}

TEST_F(PostgresTargetTest, ConnectRefusesSynchronousCommitOff) {
  PostgresTargetOptions o = Options();
  o.conninfo += " options='-c synchronous_commit=off'";
  PostgresTarget target(io_, o);
  const Status s = ConnectTarget(target);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("synchronous_commit=off"), std::string::npos) << s.message();
}

TEST_F(PostgresTargetTest, ConnectRefusesAnUnsafeTableName) {
  PostgresTargetOptions o = Options();
  o.table = "carts; DROP TABLE carts";
  PostgresTarget target(io_, o);
  EXPECT_EQ(ConnectTarget(target).code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresTargetTest, OperationsOnOneCart) {
  PostgresTarget target(io_, Options());
  ASSERT_TRUE(ConnectTarget(target).ok());
  const uint64_t cart = 1000;
  RunOneCartOps(target, cart);

  auto missing = Read(target, cart + 1);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_TRUE(missing->empty());
  EXPECT_TRUE(Do(target, CartOp::Get(cart + 1)).ok);
}

TEST_F(PostgresTargetTest, CorruptBodyIsReportedAndTheConnectionStaysUsable) {
  PostgresTarget target(io_, Options(/*connections=*/1));  // one connection: it must recover
  ASSERT_TRUE(ConnectTarget(target).ok());                 // creates the table
  const CommandResult insert = Psql("INSERT INTO carts VALUES ('cart-1500', '[1, 2]')");
  ASSERT_EQ(insert.status, 0) << insert.output;
  const OpOutcome add = Do(target, CartOp::Add(1500, "sku-1"));
  EXPECT_FALSE(add.ok);
  EXPECT_EQ(add.error_kind, "Corruption") << add.error_message;
  // The add left its transaction open (the row locked) on the one
  // connection; the next operation rolls it back first.
  const std::string idle_in_transaction =
      "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'";
  EXPECT_EQ(Psql(idle_in_transaction).output, "1\n");
  auto read = Read(target, 1500);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Psql(idle_in_transaction).output, "0\n");
  const OpOutcome next = Do(target, CartOp::Add(1501, "sku-1"));
  EXPECT_TRUE(next.ok) << next.error_kind << ": " << next.error_message;
  auto lines = Read(target, 1501);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(lines->at("sku-1"), 1u);
}

TEST_F(PostgresTargetTest, ConcurrentOperationsKeepExactQuantities) {
  PostgresTarget target(io_, Options(/*connections=*/8));
  ASSERT_TRUE(ConnectTarget(target).ok());
  // 200 operations on 20 new carts, all issued at once: runs of five share
  // a cart, so the first eight in flight are five and three first-adds to
  // two new carts (the insert race) and every cart sees row-lock waits.
  constexpr uint64_t kBase = 2000, kCarts = 20;
  constexpr int kOps = 200;
  std::map<uint64_t, std::map<std::string, uint32_t>> want;
  int answered = 0;
  std::vector<OpOutcome> failures;
  for (int i = 0; i < kOps; ++i) {
    const uint64_t cart = kBase + (i / 5) % kCarts;
    CartOp op = i % 10 == 9 ? CartOp::Get(cart) : CartOp::Add(cart, "sku-" + std::to_string(i % 3));
    if (op.type == CartOp::Type::kAdd) ++want[cart][op.sku];
    target.Execute(op, [&](OpOutcome o) {
      ++answered;
      if (!o.ok) failures.push_back(std::move(o));
    });
  }
  ASSERT_TRUE(RunUntil([&] { return answered == kOps; }, 60s)) << answered << " answered";
  for (const OpOutcome& f : failures) ADD_FAILURE() << f.error_kind << ": " << f.error_message;
  for (uint64_t cart = kBase; cart < kBase + kCarts; ++cart) {
    auto lines = Read(target, cart);
    ASSERT_TRUE(lines.ok()) << lines.status().ToString();
    EXPECT_EQ(*lines, want[cart]) << CartIdOf(cart);
  }
}

TEST_F(PostgresTargetTest, WholeCartCheckoutEmptiesTheCart) {
  PostgresTarget target(io_, Options(/*connections=*/1));
  ASSERT_TRUE(ConnectTarget(target).ok());
  ASSERT_TRUE(Do(target, CartOp::Add(2500, "sku-1", 2)).ok);
  const OpOutcome out = Do(target, CartOp::Checkout(2500));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
  auto lines = Read(target, 2500);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_TRUE(lines->empty());
}

// Per-line targets use tables of their own: the whole-cart tests' `carts`
// has the other layout.
PostgresTargetOptions PerLine(PostgresTargetOptions o) {
  o.layout = CartLayout::kPerLine;
  o.table = "line_carts";
  o.items_table = "line_cart_items";
  return o;
}

TEST_F(PostgresTargetTest, PerLineOperationsAreOneStatementEach) {
  PostgresTarget target(io_, PerLine(Options()));
  ASSERT_TRUE(ConnectTarget(target).ok());
  const uint64_t cart = 3000;
  const std::string commits = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'trolley'";
  const CommandResult before = Psql(commits);
  ASSERT_EQ(before.status, 0) << before.output;
  RunOneCartOps(target, cart);
  EXPECT_EQ(Psql("SELECT sku || '=' || quantity FROM line_cart_items WHERE cart_id = 'cart-3000' "
                 "ORDER BY sku")
                .output,
            "sku-2=5\nsku-4=999\n");
  EXPECT_EQ(Psql("SELECT count(*) FROM line_carts WHERE cart_id = 'cart-3000'").output, "1\n");
  // One transaction per operation (and per read), no BEGIN/COMMIT pairs
  // around them; psql's own SELECT counts one. The statistics are sent
  // when a backend goes idle, so allow them a moment.
  const uint64_t expected = std::stoull(before.output) + OneCartOps(cart).size() + 1 + 1;
  uint64_t after = 0;
  for (int i = 0; i < 40 && after < expected; ++i) {
    after = std::stoull(Psql(commits).output);
    if (after < expected) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(after, expected);

  auto missing = Read(target, cart + 1);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_TRUE(missing->empty());

  // Checkout: the lines locked and deleted in one transaction.
  const OpOutcome out = Do(target, CartOp::Checkout(cart));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
  EXPECT_TRUE(Read(target, cart)->empty());
  EXPECT_TRUE(Do(target, CartOp::Checkout(cart)).ok);  // an empty cart: nothing bought
}

TEST_F(PostgresTargetTest, PerLineConcurrentOperationsKeepExactQuantities) {
  PostgresTarget target(io_, PerLine(Options(/*connections=*/8)));
  ASSERT_TRUE(ConnectTarget(target).ok());
  // 200 adds on 20 new carts, all at once: upserts race to create the same
  // rows; a checkout in the middle of each cart's run empties it.
  constexpr uint64_t kBase = 4000, kCarts = 20;
  constexpr int kOps = 200;
  int answered = 0;
  std::vector<OpOutcome> failures;
  for (int i = 0; i < kOps; ++i) {
    const uint64_t cart = kBase + (i / 5) % kCarts;
    target.Execute(CartOp::Add(cart, "sku-" + std::to_string(i % 3)), [&](OpOutcome o) {
      ++answered;
      if (!o.ok) failures.push_back(std::move(o));
    });
  }
  ASSERT_TRUE(RunUntil([&] { return answered == kOps; }, 60s)) << answered << " answered";
  for (const OpOutcome& f : failures) ADD_FAILURE() << f.error_kind << ": " << f.error_message;
  uint32_t units = 0;
  for (uint64_t cart = kBase; cart < kBase + kCarts; ++cart) {
    auto lines = Read(target, cart);
    ASSERT_TRUE(lines.ok()) << lines.status().ToString();
    for (const auto& [sku, quantity] : *lines) units += quantity;
  }
  EXPECT_EQ(units, static_cast<uint32_t>(kOps));
}

TEST_F(PostgresTargetTest, PerLineCorruptRowsAreReported) {
  PostgresTarget target(io_, PerLine(Options(/*connections=*/1)));
  ASSERT_TRUE(ConnectTarget(target).ok());
  // A quantity of 0 is what the CHECK constraint keeps out: without it,
  // the adapter must refuse the row, not report a line of nothing.
  const CommandResult insert = Psql(
      "ALTER TABLE line_cart_items DROP CONSTRAINT IF EXISTS line_cart_items_quantity_check; "
      "INSERT INTO line_cart_items (cart_id, sku, quantity) VALUES ('cart-5000', 'sku-1', 0)");
  ASSERT_EQ(insert.status, 0) << insert.output;
  auto read = Read(target, 5000);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kCorruption) << read.status().ToString();
  EXPECT_NE(read.status().message().find("line_cart_items"), std::string::npos);
  const OpOutcome checkout = Do(target, CartOp::Checkout(5000));
  EXPECT_EQ(checkout.error_kind, "Corruption") << checkout.error_message;
  // The checkout committed (the rows are gone); the next operation works.
  EXPECT_TRUE(Do(target, CartOp::Add(5001, "sku-1")).ok);
}

TEST_F(PostgresTargetTest, SilentServerTimesOut) {
  // Accepts connections and never answers a byte.
  asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> accepted;
  std::function<void()> accept = [&] {
    auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
    silent.async_accept(*socket, [&, socket](boost::system::error_code ec) {
      if (ec) return;
      accepted.push_back(socket);
      accept();
    });
  };
  accept();
  PostgresTargetOptions o = Options(2);
  o.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) +
               " dbname=trolley user=postgres sslmode=disable";
  o.timeout = 300ms;
  auto target = std::make_unique<PostgresTarget>(io_, o);
  const Status s = ConnectTarget(*target);
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.ToString();

  // Operations wait for a connection that never comes up: Timeout at
  // their deadline, before the dial's own.
  const OpOutcome out = Do(*target, CartOp::Add(1, "sku-1"));
  EXPECT_EQ(out.error_kind, "Timeout") << out.error_message;

  // Destroyed with operations outstanding and dials in flight: no
  // callback, no crash, nothing leaked (ASan), later handlers do nothing.
  bool called = false;
  for (int i = 0; i < 3; ++i)
    target->Execute(CartOp::Add(2, "sku-1"), [&](OpOutcome) { called = true; });
  io_.run_for(50ms);
  target.reset();
  io_.run_for(100ms);
  EXPECT_FALSE(called);
  silent.close();
}

TEST_F(PostgresTargetTest, OperationBlockedByALockTimesOutAndThePoolRecovers) {
  PostgresTargetOptions o = Options(/*connections=*/2);
  o.timeout = 500ms;
  PostgresTarget target(io_, o);
  ASSERT_TRUE(ConnectTarget(target).ok());
  const uint64_t cart = 3000;
  ASSERT_TRUE(Do(target, CartOp::Add(cart, "sku-1")).ok);

  // psql locks the row for 3 s.
  const std::string psql = kPgBin + "/psql";
  const std::string sql =
      "BEGIN; SELECT 1 FROM carts WHERE id = 'cart-3000' FOR UPDATE; SELECT pg_sleep(3); COMMIT";
  std::vector<std::string> args = {psql, conninfo_, "-X", "-q", "-o", "/dev/null", "-c", sql};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t holder = 0;
  ASSERT_EQ(::posix_spawn(&holder, psql.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  bool locked = false;
  for (int i = 0; i < 100 && !locked; ++i) {
    locked =
        Psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").output == "1\n";
    if (!locked) ::usleep(50'000);
  }
  EXPECT_TRUE(locked);

  const OpOutcome blocked = Do(target, CartOp::Add(cart, "sku-1"));
  EXPECT_EQ(blocked.error_kind, "Timeout") << blocked.error_message;
  EXPECT_NE(blocked.error_message.find("dropped"), std::string::npos) << blocked.error_message;
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);  // psql ends after its sleep

  // The dropped connection is dialled again; the blocked add never committed.
  const OpOutcome after = Do(target, CartOp::Add(cart, "sku-1"));
  EXPECT_TRUE(after.ok) << after.error_kind << ": " << after.error_message;
  auto lines = Read(target, cart);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(lines->at("sku-1"), 2u);
}

TEST_F(PostgresTargetTest, IdleConnectionsNoticeTheServerClosingThem) {
  PostgresTarget target(io_, Options(/*connections=*/3));
  ASSERT_TRUE(ConnectTarget(target).ok());
  ASSERT_TRUE(Do(target, CartOp::Add(5000, "sku-1")).ok);
  // Idle connections watch their sockets: that is work, so a run loop
  // without a guard of its own (as the load generator's) does not stop.
  guard_.reset();
  io_.run_one_for(10ms);
  EXPECT_FALSE(io_.stopped());
  auto guard = asio::make_work_guard(io_);

  const CommandResult kill = Psql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'trolley' "
      "AND backend_type = 'client backend' AND pid <> pg_backend_pid()");
  ASSERT_EQ(kill.output, "3\n");
  io_.run_for(200ms);  // each connection sees its close and goes down
  const OpOutcome after = Do(target, CartOp::Add(5000, "sku-1"));
  EXPECT_TRUE(after.ok) << after.error_kind << ": " << after.error_message;
  auto lines = Read(target, 5000);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(lines->at("sku-1"), 2u);
}

TEST_F(PostgresTargetTest, DestroyedWithOperationsInFlight) {
  auto target = std::make_unique<PostgresTarget>(io_, Options(4));
  ASSERT_TRUE(ConnectTarget(*target).ok());
  int called = 0;
  for (int i = 0; i < 20; ++i)
    target->Execute(CartOp::Add(4000 + i % 3, "sku-1"), [&](OpOutcome) { ++called; });
  io_.run_for(2ms);  // some answered, some in flight, some queued
  const int before = called;
  target.reset();
  io_.run_for(100ms);
  EXPECT_EQ(called, before);
}

}  // namespace
}  // namespace trolley::bench
