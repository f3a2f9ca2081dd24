// Goal: RedisTarget (bench/redis_target.h) keeps its contract against real
// Redis, in both layouts: whole-cart read-modify-writes that add up under
// WATCH conflicts, per-line operations that are one command each (a hash
// field per line, a checkout that reads and deletes atomically), WAIT's
// replica count, clear errors for a missing server, a corrupt cart, a key
// of another type and a server that never answers, and a safe destruction
// with operations in flight. Method: each test that needs Redis starts a
// primary and one replica with bench/peers/redis.sh in a temporary
// directory (skipped when redis-server is not installed) and stops them in
// TearDown; a silent server is an Asio acceptor in the test. The
// io_context runs on the test thread, in bounded loops.
#include "bench/redis_target.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/loopback_ports.h"

namespace trolley::bench {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool OnPath(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs `command` with /bin/sh; returns its exit status and stdout+stderr.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Runs the io_context until `done()` or `limit` passed; returns done().
template <typename Done>
bool RunUntil(asio::io_context& io, Done done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return done();
}

void RunFor(asio::io_context& io, std::chrono::milliseconds time) {
  RunUntil(
      io, [] { return false; }, time);
}

Status ConnectSync(asio::io_context& io, RedisTarget& target) {
  std::optional<Status> result;
  target.Connect([&](Status s) { result = std::move(s); });
  if (!RunUntil(io, [&] { return result.has_value(); }))
    return Status::FailedPrecondition("test: the target never called back");
  return *result;
}

OpOutcome ExecuteSync(asio::io_context& io, RedisTarget& target, const CartOp& op) {
  std::optional<OpOutcome> result;
  target.Execute(op, [&](OpOutcome o) { result = std::move(o); });
  if (!RunUntil(io, [&] { return result.has_value(); }))
    return {false, "TestNoAnswer", "the target never called back"};
  return *result;
}

// A cart's lines as sku -> quantity ("error: ..." on failure).
std::map<std::string, uint32_t> ReadSync(asio::io_context& io, RedisTarget& target, uint64_t cart) {
  std::optional<Result<std::vector<CartLineView>>> result;
  target.ReadCart(cart, [&](Result<std::vector<CartLineView>> r) { result = std::move(r); });
  if (!RunUntil(io, [&] { return result.has_value(); })) return {{"error: no answer", 0}};
  if (!result->ok()) return {{"error: " + result->status().ToString(), 0}};
  std::map<std::string, uint32_t> lines;
  for (const CartLineView& line : **result) lines[line.sku] = line.quantity;
  return lines;
}

CartOp Op(CartOp::Type type, uint64_t cart, std::string sku = "", uint32_t quantity = 0) {
  CartOp op;
  op.type = type;
  op.cart = cart;
  op.sku = std::move(sku);
  op.quantity = quantity;
  return op;
}

// Adds, sets, removes (one of an absent line, one by a set to 0), an add
// beyond quantity_max, a get: the one-cart test of both layouts.
std::vector<CartOp> OneCartOps(uint64_t cart) {
  return {
      Op(CartOp::Type::kAdd, cart, "sku-1", 2),
      Op(CartOp::Type::kAdd, cart, "sku-1", 3),
      Op(CartOp::Type::kAdd, cart, "sku-2", 1),
      Op(CartOp::Type::kSetQuantity, cart, "sku-2", 4),
      Op(CartOp::Type::kAdd, cart, "sku-3", 1),
      Op(CartOp::Type::kRemove, cart, "sku-1"),
      Op(CartOp::Type::kRemove, cart, "sku-absent"),
      Op(CartOp::Type::kSetQuantity, cart, "sku-3", 0),
      Op(CartOp::Type::kAdd, cart, "sku-capped", 5000),
      Op(CartOp::Type::kGet, cart),
  };
}

// A port nothing listens on (bound, then released).
uint16_t UnusedPort(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// A server that accepts connections and answers nothing, or only PING
// (with +PONG, enough for Connect).
class SilentServer {
 public:
  SilentServer(asio::io_context& io, bool answer_ping)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        answer_ping_(answer_ping) {
    Accept();
  }
  ~SilentServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : conns_) c->socket.close(ignored);
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  size_t accepted() const { return conns_.size(); }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 4096> buf{};
  };
  static constexpr std::string_view kPong = "+PONG\r\n";

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      conns_.push_back(std::make_shared<Conn>(std::move(socket)));
      Serve(conns_.back());
      Accept();
    });
  }
  void Serve(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->buf), [this, c](boost::system::error_code ec,
                                                              size_t n) {
      if (ec) return;
      if (answer_ping_ && std::string_view(c->buf.data(), n).find("PING") != std::string::npos) {
        asio::async_write(c->socket, asio::buffer(kPong.data(), kPong.size()),
                          [c](boost::system::error_code, size_t) {});
      }
      Serve(c);
    });
  }

  tcp::acceptor acceptor_;
  bool answer_ping_;
  std::vector<std::shared_ptr<Conn>> conns_;
};

TEST(RedisTargetNoServerTest, ConnectFailsClearlyWhenNothingListens) {
  asio::io_context io;
  RedisTargetOptions options;
  options.primary = "127.0.0.1:" + std::to_string(UnusedPort(io));
  options.connections = 4;
  RedisTarget target(io, options);
  const Status s = ConnectSync(io, target);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(options.primary), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("connection refused"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("redis.sh start"), std::string::npos) << s.message();

  // Operations fail the same way, each on its own (redialling each time).
  const OpOutcome out = ExecuteSync(io, target, Op(CartOp::Type::kAdd, 1, "sku-1", 1));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, "Unavailable");
  EXPECT_NE(out.error_message.find(options.primary), std::string::npos) << out.error_message;
}

TEST(RedisTargetNoServerTest, ConnectRejectsAnAddressThatIsNotHostPort) {
  asio::io_context io;
  RedisTargetOptions options;
  options.primary = "localhost";
  RedisTarget target(io, options);
  const Status s = ConnectSync(io, target);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

// A primary and one replica, fresh for every test.
class RedisTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath("redis-server")) GTEST_SKIP() << "redis-server is not installed";
    char dir_template[] = "/tmp/trolley-redis-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    std::string output;
    // Two free ports (primary, replica) below the ephemeral range; a few
    // more tries if another process binds one first.
    for (int attempt = 0; attempt < 4 && port_ == 0; ++attempt) {
      const int port = test_support::FreeLoopbackPorts(2);
      if (port == 0) continue;
      auto [rc, out] = Shell("bash " TROLLEY_PEERS_DIR "/redis.sh start " + dir_ + " --port " +
                             std::to_string(port) + " --replicas 1");
      output += out;
      if (rc == 0) port_ = port;
    }
    ASSERT_NE(port_, 0) << output;
    options_.primary = "127.0.0.1:" + std::to_string(port_);
  }

  void TearDown() override {
    if (dir_.empty()) return;
    auto [rc, out] = Shell("bash " TROLLEY_PEERS_DIR "/redis.sh stop " + dir_);
    EXPECT_EQ(rc, 0) << out;
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Cli(const std::string& args) {
    return Shell("redis-cli -h 127.0.0.1 -p " + std::to_string(port_) + " " + args).second;
  }

  void ExpectAllOk(RedisTarget& target, const std::vector<CartOp>& ops) {
    for (const CartOp& op : ops) {
      const OpOutcome out = ExecuteSync(io_, target, op);
      EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
    }
  }

  // With 2 replicas asked and 1 there: each write fails NotReplicated.
  void ExpectNotReplicated(RedisTarget& target, const std::vector<CartOp>& writes) {
    for (const CartOp& op : writes) {
      const OpOutcome out = ExecuteSync(io_, target, op);
      EXPECT_FALSE(out.ok);
      EXPECT_EQ(out.error_kind, "NotReplicated") << out.error_message;
      EXPECT_NE(out.error_message.find("1 of 2 replicas"), std::string::npos) << out.error_message;
    }
  }

  // Five adds of 1 to `sku` of `cart`, each ok, with options_.
  void AddFiveTimes(uint64_t cart, const std::string& sku) {
    RedisTarget target(io_, options_);
    ASSERT_TRUE(ConnectSync(io_, target).ok());
    ExpectAllOk(target, std::vector<CartOp>(5, Op(CartOp::Type::kAdd, cart, sku, 1)));
  }

  // kConcurrentAdds adds of 1 over 20 carts, issued at once in cart order
  // (ten to a cart, skus cycling over three), and `gets` gets of cart 0
  // with them: every one is answered ok, and each cart then reads exactly
  // what was added to it.
  static constexpr uint64_t kConcurrentAdds = 200;
  void ExpectConcurrentAddsAllCount(RedisTarget& target, int gets) {
    constexpr uint64_t kCarts = 20;
    std::map<uint64_t, std::map<std::string, uint32_t>> expected;
    uint64_t answered = 0;
    int failed = 0, gets_ok = 0;
    std::string first_error;
    for (uint64_t i = 0; i < kConcurrentAdds; ++i) {
      const uint64_t cart = i / (kConcurrentAdds / kCarts);
      const std::string sku = "sku-" + std::to_string(i % 3);
      ++expected[cart][sku];
      target.Execute(Op(CartOp::Type::kAdd, cart, sku, 1), [&](OpOutcome out) {
        ++answered;
        if (!out.ok && failed++ == 0) first_error = out.error_kind + ": " + out.error_message;
      });
    }
    for (int i = 0; i < gets; ++i) {
      target.Execute(Op(CartOp::Type::kGet, 0), [&](OpOutcome out) { gets_ok += out.ok; });
    }
    ASSERT_TRUE(RunUntil(io_, [&] { return answered == kConcurrentAdds && gets_ok == gets; }));
    EXPECT_EQ(failed, 0) << first_error;
    for (const auto& [cart, lines] : expected) {
      EXPECT_EQ(ReadSync(io_, target, cart), lines) << "cart " << cart;
    }
  }

  // INFO commandstats' count of calls of `command` since the last CONFIG
  // RESETSTAT.
  uint64_t Calls(const std::string& command) {
    const std::string stats = Cli("info commandstats");
    const std::string field = "cmdstat_" + command + ":calls=";
    const size_t at = stats.find(field);
    if (at == std::string::npos) return 0;
    return std::stoull(stats.substr(at + field.size()));
  }

  asio::io_context io_;
  RedisTargetOptions options_;
  std::string dir_;
  int port_ = 0;
};

TEST_F(RedisTargetTest, ReadModifyWritesOfOneCart) {
  options_.connections = 2;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  EXPECT_TRUE(ReadSync(io_, target, 7).empty());  // no such key: an empty cart

  ExpectAllOk(target, OneCartOps(7));
  const std::map<std::string, uint32_t> expected = {{"sku-2", 4}, {"sku-capped", 999}};
  EXPECT_EQ(ReadSync(io_, target, 7), expected);
  EXPECT_EQ(Cli("get cart:cart-7"), "{\"sku-2\":4,\"sku-capped\":999}\n");
}

TEST_F(RedisTargetTest, BadValuesAreReportedAndTheTargetGoesOn) {
  options_.connections = 1;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  ASSERT_EQ(Cli("set cart:cart-3 '[1,2]'"), "OK\n");

  OpOutcome out = ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 3, "sku-1", 1));
  EXPECT_EQ(out.error_kind, "Corruption");
  EXPECT_NE(out.error_message.find("cart:cart-3"), std::string::npos) << out.error_message;
  const auto read = ReadSync(io_, target, 3);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read.begin()->first.rfind("error: Corruption", 0), 0u) << read.begin()->first;
  EXPECT_EQ(Cli("get cart:cart-3"), "[1,2]\n");  // left as it was

  // The connection left watching the key was replaced: other carts work.
  out = ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 4, "sku-1", 1));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;

  // A key of another type: Redis's error, passed on.
  ASSERT_EQ(Cli("rpush cart:cart-5 x"), "1\n");
  out = ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 5, "sku-1", 1));
  EXPECT_EQ(out.error_kind, "RedisError");
  EXPECT_NE(out.error_message.find("answered GET with WRONGTYPE"), std::string::npos)
      << out.error_message;
  out = ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 4, "sku-1", 1));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
  const std::map<std::string, uint32_t> expected = {{"sku-1", 2}};
  EXPECT_EQ(ReadSync(io_, target, 4), expected);
}

TEST_F(RedisTargetTest, ConcurrentAddsToTheSameCartsAllCount) {
  // 200 adds of 1 over 20 carts, issued at once in cart order: the 8
  // connections mostly work on the same cart, so EXECs abort and retry.
  options_.connections = 8;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  ASSERT_EQ(Cli("config resetstat"), "OK\n");
  ExpectConcurrentAddsAllCount(target, /*gets=*/5);  // gets in flight too, on a cart being written
  const uint64_t execs = Calls("exec");
  EXPECT_GT(execs, kConcurrentAdds) << "no EXEC aborted: the test raced nothing";
  std::printf("redis_target_test: %llu adds took %llu EXECs (%llu retries)\n",
              static_cast<unsigned long long>(kConcurrentAdds),
              static_cast<unsigned long long>(execs),
              static_cast<unsigned long long>(execs - kConcurrentAdds));
}

TEST_F(RedisTargetTest, WaitForReplicas) {
  options_.connections = 2;
  options_.wait_replicas = 1;
  AddFiveTimes(1, "sku-1");
  const std::string replica = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_ + 1);
  EXPECT_EQ(Shell(replica + " get cart:cart-1").second, "{\"sku-1\":5}\n");

  // Two replicas asked, one exists: every write is applied on the primary
  // but reported NotReplicated; a get does not WAIT.
  options_.wait_replicas = 2;
  options_.wait_timeout_ms = 50;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  const std::vector<CartOp> writes = {Op(CartOp::Type::kAdd, 1, "sku-1", 1),
                                      Op(CartOp::Type::kSetQuantity, 1, "sku-2", 3),
                                      Op(CartOp::Type::kRemove, 1, "sku-2")};
  ExpectNotReplicated(target, writes);
  EXPECT_TRUE(ExecuteSync(io_, target, Op(CartOp::Type::kGet, 1)).ok);
  const std::map<std::string, uint32_t> expected = {{"sku-1", 6}};
  EXPECT_EQ(ReadSync(io_, target, 1), expected);
}

TEST_F(RedisTargetTest, WholeCartCheckoutEmptiesTheCart) {
  options_.connections = 1;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  ASSERT_TRUE(ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 2, "sku-1", 2)).ok);
  const OpOutcome out = ExecuteSync(io_, target, CartOp::Checkout(2));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
  EXPECT_TRUE(ReadSync(io_, target, 2).empty());
  EXPECT_EQ(Cli("get cart:cart-2"), "{}\n");
}

TEST_F(RedisTargetTest, PerLineOperationsAreOneCommandEach) {
  options_.connections = 2;
  options_.layout = CartLayout::kPerLine;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  EXPECT_TRUE(ReadSync(io_, target, 7).empty());  // no such key: an empty cart
  ASSERT_EQ(Cli("config resetstat"), "OK\n");
  ExpectAllOk(target, OneCartOps(7));
  // HINCRBY does not cap: the per-line layout stores what was added.
  const std::map<std::string, uint32_t> expected = {{"sku-2", 4}, {"sku-capped", 5000}};
  EXPECT_EQ(ReadSync(io_, target, 7), expected);
  EXPECT_EQ(Cli("hgetall cart:cart-7"), "sku-2\n4\nsku-capped\n5000\n");
  EXPECT_EQ(Calls("hincrby"), 5u);  // one command per add, no read first
  EXPECT_EQ(Calls("hset"), 1u);
  EXPECT_EQ(Calls("hdel"), 3u);  // two removes and a set to 0
  EXPECT_EQ(Calls("del"), 3u);   // their item hashes
  EXPECT_EQ(Calls("watch"), 0u);
  EXPECT_EQ(Calls("get"), 0u);

  // Checkout: the lines are read and the cart deleted in one transaction.
  const OpOutcome out = ExecuteSync(io_, target, CartOp::Checkout(7));
  EXPECT_TRUE(out.ok) << out.error_kind << ": " << out.error_message;
  EXPECT_TRUE(ReadSync(io_, target, 7).empty());
  EXPECT_EQ(Cli("exists cart:cart-7"), "0\n");
  EXPECT_EQ(Calls("exec"), 1u);
  EXPECT_TRUE(ExecuteSync(io_, target, CartOp::Checkout(7)).ok);  // an empty cart: nothing bought

  // A field that is not a quantity, and a key of another type.
  ASSERT_EQ(Cli("hset cart:cart-8 sku-1 x"), "1\n");
  const auto read = ReadSync(io_, target, 8);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read.begin()->first.rfind("error: Corruption", 0), 0u) << read.begin()->first;
  ASSERT_EQ(Cli("set cart:cart-9 x"), "OK\n");
  const OpOutcome wrong = ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 9, "sku-1", 1));
  EXPECT_EQ(wrong.error_kind, "RedisError");
  EXPECT_NE(wrong.error_message.find("answered HINCRBY with WRONGTYPE"), std::string::npos)
      << wrong.error_message;
  EXPECT_TRUE(ExecuteSync(io_, target, Op(CartOp::Type::kAdd, 7, "sku-1", 1)).ok);
}

TEST_F(RedisTargetTest, PerLineConcurrentAddsAllCountWithoutRetries) {
  options_.connections = 8;
  options_.layout = CartLayout::kPerLine;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  ASSERT_EQ(Cli("config resetstat"), "OK\n");
  ExpectConcurrentAddsAllCount(target, /*gets=*/0);
  EXPECT_EQ(Calls("hincrby"), kConcurrentAdds);
}

TEST_F(RedisTargetTest, PerLineWritesWaitForReplicas) {
  options_.connections = 2;
  options_.layout = CartLayout::kPerLine;
  options_.wait_replicas = 1;
  AddFiveTimes(1, "sku-1");
  const std::string replica = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_ + 1);
  EXPECT_EQ(Shell(replica + " hget cart:cart-1 sku-1").second, "5\n");

  options_.wait_replicas = 2;  // one exists
  options_.wait_timeout_ms = 50;
  RedisTarget target(io_, options_);
  ASSERT_TRUE(ConnectSync(io_, target).ok());
  const std::vector<CartOp> writes = {Op(CartOp::Type::kAdd, 1, "sku-1", 1),
                                      Op(CartOp::Type::kSetQuantity, 1, "sku-2", 3),
                                      Op(CartOp::Type::kRemove, 1, "sku-2"), CartOp::Checkout(1)};
  ExpectNotReplicated(target, writes);
  EXPECT_TRUE(ExecuteSync(io_, target, Op(CartOp::Type::kGet, 1)).ok);
  EXPECT_TRUE(ReadSync(io_, target, 1).empty());  // the checkout landed on the primary
}

// Options for a target of two connections to `server`.
RedisTargetOptions TwoConnectionsTo(const SilentServer& server) {
  RedisTargetOptions options;
  options.primary = server.address();
  options.connections = 2;
  return options;
}

TEST(RedisTargetSilentServerTest, ConnectTimesOutWhenTheServerNeverAnswers) {
  asio::io_context io;
  SilentServer server(io, /*answer_ping=*/false);
  RedisTargetOptions options = TwoConnectionsTo(server);
  options.timeout = 200ms;
  RedisTarget target(io, options);
  const Status s = ConnectSync(io, target);
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.ToString();
  EXPECT_NE(s.message().find(options.primary), std::string::npos) << s.message();
}

TEST(RedisTargetSilentServerTest, OperationsTimeOutAndTheTargetGoesOn) {
  asio::io_context io;
  SilentServer server(io, /*answer_ping=*/true);
  RedisTargetOptions options = TwoConnectionsTo(server);
  options.timeout = 200ms;
  auto target = std::make_unique<RedisTarget>(io, options);
  ASSERT_TRUE(ConnectSync(io, *target).ok());
  EXPECT_EQ(server.accepted(), 2u);

  // Three at once on two connections: two time out waiting for replies,
  // the third waiting for a connection (or on the connection the first
  // freed); each with the target's own Timeout, naming the server.
  std::vector<OpOutcome> outs;
  for (int i = 0; i < 3; ++i) {
    target->Execute(Op(CartOp::Type::kAdd, 1, "sku-1", 1),
                    [&](OpOutcome out) { outs.push_back(std::move(out)); });
  }
  ASSERT_TRUE(RunUntil(
      io, [&] { return outs.size() == 3; }, 5s));
  for (const OpOutcome& out : outs) {
    EXPECT_EQ(out.error_kind, "Timeout") << out.error_message;
    EXPECT_NE(out.error_message.find(options.primary), std::string::npos) << out.error_message;
  }

  // The timed-out connections were closed; the next operations redial.
  std::optional<OpOutcome> next;
  target->Execute(Op(CartOp::Type::kGet, 1), [&](OpOutcome out) { next = std::move(out); });
  ASSERT_TRUE(RunUntil(
      io, [&] { return next.has_value(); }, 5s));
  EXPECT_EQ(next->error_kind, "Timeout");
  EXPECT_GE(server.accepted(), 3u);

  // Destroyed with operations in flight and queued, from one of their
  // callbacks: the others are never called back, and nothing is touched.
  int called = 0;
  target->Execute(Op(CartOp::Type::kGet, 2), [&](OpOutcome) {
    ++called;
    target.reset();
  });
  RunFor(io, 20ms);  // so that this one's deadline comes first
  for (int i = 0; i < 3; ++i)
    target->Execute(Op(CartOp::Type::kGet, 3), [&](OpOutcome) { ++called; });
  RunFor(io, 600ms);
  EXPECT_EQ(called, 1);
  EXPECT_EQ(target, nullptr);
}

TEST(RedisTargetSilentServerTest, DestroyedAfterTheIoContextStopped) {
  asio::io_context io;
  SilentServer server(io, /*answer_ping=*/true);
  RedisTargetOptions options = TwoConnectionsTo(server);
  auto target = std::make_unique<RedisTarget>(io, options);
  ASSERT_TRUE(ConnectSync(io, *target).ok());
  int called = 0;
  for (int i = 0; i < 4; ++i) {
    target->Execute(Op(CartOp::Type::kAdd, 1, "sku-1", 1), [&](OpOutcome) { ++called; });
  }
  RunFor(io, 50ms);
  io.stop();
  target.reset();  // the io_context's queued handlers outlive it
  RunFor(io, 100ms);
  EXPECT_EQ(called, 0);
}

}  // namespace
}  // namespace trolley::bench
