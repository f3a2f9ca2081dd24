// Goal: trolley-bench's kv workload (bench/kv_workload.h) drives its
// connections end to end: it says Hello, keeps requests in flight on every
// connection, counts ok replies and errors by status code into its JSON, and
// exits 1 (not a hang) when a node refuses it or a request cannot be sent,
// 2 when no node is reachable; with --tls-* it runs over TLS, and a node
// that refuses its certificate stops it. Method: fake nodes on
// 127.0.0.1:0, each a thread with its own io_context that answers every
// frame with a canned reply over TcpOrTlsConnection (TLS with certificates
// from scripts/dev-certs.sh); RunKvWorkload runs on the test thread with
// short phases.
#include "bench/kv_workload.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "tests/support/dev_certs.h"
#include "tests/support/temp_dir.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/tls.h"
#include "wire/frame.h"
#include "wire/message_codec.h"

namespace trolley::bench {
namespace {

using tcp = asio::ip::tcp;

// How a FakeNode answers client requests.
enum class Answer { kOk, kGetsNotFound, kRefuse };

// A node that answers Hello with HelloReply and each ClientPut/ClientGet
// with a reply of the same id (per `answer`), on its own thread; over TLS
// with `tls` (which must outlive it).
class FakeNode {
 public:
  explicit FakeNode(Answer answer, asio::ssl::context* tls = nullptr)
      : answer_(answer),
        tls_(tls),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeNode() {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& c : conns_) c->Close();
    });
    work_.reset();
    thread_.join();
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int connections() const { return accepted_.load(); }
  uint64_t requests() const { return requests_.load(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      auto conn = std::make_shared<TcpOrTlsConnection>(
          tls_ == nullptr ? TcpOrTlsStream(std::move(socket))
                          : TcpOrTlsStream(std::move(socket), *tls_),
          FramedConnectionOptions{}, Callbacks());
      conns_.push_back(conn);
      conn->Start();
      Accept();
    });
  }

  FramedConnectionCallbacks Callbacks() {
    FramedConnectionCallbacks callbacks;
    // The connection these callbacks belong to is about to become
    // conns_[index] (Accept() pushes it next).
    const size_t index = conns_.size();
    callbacks.on_frame = [this, index](std::string frame) {
      auto m = DecodeMessage(frame);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      (void)conns_[index]->SendMessage(Reply(*m));
    };
    return callbacks;
  }

  Message Reply(const Message& request) {
    if (std::holds_alternative<Hello>(request)) return HelloReply{kProtocolVersion, "fake"};
    ++requests_;
    const RequestId id = RequestIdOf(request);
    if (answer_ == Answer::kRefuse) return ErrorReply{id, StatusCode::kBusy, "go away"};
    if (std::holds_alternative<ClientPut>(request)) return ClientPutReply{.id = id};
    EXPECT_TRUE(std::holds_alternative<ClientGet>(request)) << MessageName(request);
    if (answer_ == Answer::kGetsNotFound) {
      return ClientGetReply{.id = id, .code = StatusCode::kNotFound, .message = "no such key"};
    }
    return ClientGetReply{.id = id};
  }

  Answer answer_;
  asio::ssl::context* tls_;
  asio::io_context io_{1};
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_ =
      std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
          io_.get_executor());
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<TcpOrTlsConnection>> conns_;
  std::atomic<int> accepted_{0};
  std::atomic<uint64_t> requests_{0};
  std::thread thread_;
};

KvOptions ShortRun(const std::vector<std::string>& nodes, const std::string& json_out) {
  KvOptions o;
  o.nodes = nodes;
  o.connections = 4;
  o.concurrency = 16;
  o.duration_s = 0.3;
  o.warmup_s = 0.05;
  o.value_bytes = 100;
  o.json_out = json_out;
  return o;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(KvWorkloadTest, PutsThenGetsOverEveryConnectionAndReportsThem) {
  FakeNode a(Answer::kOk), b(Answer::kOk);
  test_support::TempDir dir("kv-workload-test");
  const std::string json = dir.path() + "/out.json";
  ASSERT_EQ(RunKvWorkload(ShortRun({a.address(), b.address()}, json)), 0);
  EXPECT_EQ(a.connections(), 2);
  EXPECT_EQ(b.connections(), 2);
  const nlohmann::json out = ReadJson(json);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["phase"], "put");
  EXPECT_EQ(out[1]["phase"], "get");
  for (const auto& phase : out) {
    EXPECT_GT(phase["ok"].get<uint64_t>(), 0u) << phase.dump();
    EXPECT_GT(phase["ops_per_s"].get<double>(), 0) << phase.dump();
    EXPECT_TRUE(phase["errors"].empty()) << phase.dump();
  }
  // Every request answered was counted at most once, and the warm-up ones
  // are not counted at all.
  EXPECT_LT(out[0]["ok"].get<uint64_t>() + out[1]["ok"].get<uint64_t>(),
            a.requests() + b.requests());
}

TEST(KvWorkloadTest, CountsErrorRepliesByCodeWithoutStopping) {
  FakeNode node(Answer::kGetsNotFound);
  test_support::TempDir dir("kv-workload-test");
  const std::string json = dir.path() + "/out.json";
  ASSERT_EQ(RunKvWorkload(ShortRun({node.address()}, json)), 0);
  const nlohmann::json out = ReadJson(json);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0]["errors"].empty()) << out[0].dump();
  EXPECT_EQ(out[1]["ok"].get<uint64_t>(), 0u);
  EXPECT_GT(out[1]["errors"]["NotFound"].get<uint64_t>(), 0u) << out[1].dump();
}

TEST(KvWorkloadTest, ANodeRefusingTheLoadEndsTheRunWithOne) {
  FakeNode node(Answer::kRefuse);
  KvOptions o = ShortRun({node.address()}, "");
  o.phases = "put";
  EXPECT_EQ(RunKvWorkload(o), 1);
}

TEST(KvWorkloadTest, ARequestAboveTheFrameLimitEndsTheRunWithOne) {
  FakeNode node(Answer::kOk);
  KvOptions o = ShortRun({node.address()}, "");
  o.phases = "put";
  o.value_bytes = kFrameBytesMax + 1;
  EXPECT_EQ(RunKvWorkload(o), 1);
  EXPECT_EQ(node.requests(), 0u);
}

TEST(KvWorkloadTest, RunsOverTlsAndStopsWhenTheNodeRefusesItsCertificate) {
  test_support::TempDir dir("kv-workload-tls-test");
  ASSERT_TRUE(test_support::MakeDevCerts(dir.path(), {"cluster", "n1"}).ok());
  ASSERT_TRUE(test_support::MakeDevCerts(dir.path() + "/other", {"cluster", "n1"}).ok());
  const std::string ca = dir.path() + "/ca.pem";
  auto node_tls = MakeTlsContext(
      TlsFiles{ca, dir.path() + "/node-n1.pem", dir.path() + "/node-n1.key"}, TlsRole::kNode);
  ASSERT_TRUE(node_tls.ok()) << node_tls.status().ToString();
  FakeNode node(Answer::kOk, node_tls->get());
  KvOptions o = ShortRun({node.address()}, dir.path() + "/out.json");
  o.phases = "put";
  o.tls = TlsFiles{ca, dir.path() + "/client-admin.pem", dir.path() + "/client-admin.key"};
  ASSERT_EQ(RunKvWorkload(o), 0);
  EXPECT_GT(ReadJson(o.json_out)[0]["ok"].get<uint64_t>(), 0u);

  // A client certificate of another CA: the node's handshake fails, the run
  // stops (2 while connecting, 1 if the close comes after) and sends nothing.
  FakeNode strict(Answer::kOk, node_tls->get());
  KvOptions foreign = ShortRun({strict.address()}, "");
  foreign.phases = "put";
  foreign.tls =
      TlsFiles{ca, dir.path() + "/other/client-admin.pem", dir.path() + "/other/client-admin.key"};
  EXPECT_NE(RunKvWorkload(foreign), 0);
  EXPECT_EQ(strict.requests(), 0u);
}

TEST(KvWorkloadTest, NoReachableNodeEndsTheRunWithTwo) {
  uint16_t port = 0;
  {
    // A port that was free a moment ago: nothing listens there now.
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  EXPECT_EQ(RunKvWorkload(ShortRun({"127.0.0.1:" + std::to_string(port)}, "")), 2);
}

}  // namespace
}  // namespace trolley::bench
