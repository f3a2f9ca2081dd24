#include "tests/integration/cluster_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/dev_certs.h"
#include "tests/support/loopback_ports.h"

#ifndef TROLLEYD_PATH
#error "TROLLEYD_PATH must name the trolleyd binary ($<TARGET_FILE:trolleyd>)"
#endif

namespace trolley::integration {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStopTimeout = 15s;
constexpr int kStartAttempts = 3;

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "wait status " + std::to_string(status);
}

void AppendToFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
}

template <typename Reply>
Result<Reply> CallFor(NodeConnection& conn, Message request) {
  Result<Message> reply = conn.Call(std::move(request), kCallTimeout);
  if (!reply.ok()) return reply.status();
  Reply* r = std::get_if<Reply>(&*reply);
  if (r == nullptr) {
    return Status::Corruption(conn.address() + " answered with " +
                              std::string(MessageName(*reply)));
  }
  return std::move(*r);
}

}  // namespace

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/trolley-cluster-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::strerror(errno);
  }
  dir_ = tmpl;
  for (int i = 0; i < options_.nodes; ++i) {
    NodeProc n;
    n.id = "n" + std::to_string(i + 1);
    n.data_dir = dir_ / n.id;
    n.log_path = dir_ / (n.id + ".log");
    nodes_.push_back(std::move(n));
  }
  config_path_ = dir_ / "limits.toml";
  std::ofstream config(config_path_);
  config << "# written by tests/integration/cluster_harness.cc\n"
         << "partitions = " << options_.partitions << "\n"
         << "[limits]\n"
         << "request_timeout_ms = " << options_.request_timeout_ms << "\n"
         << "replica_timeout_ms = " << options_.replica_timeout_ms << "\n"
         << "idle_frame_timeout_ms = " << options_.idle_frame_timeout_ms << "\n"
         << options_.config_tail;
  if (options_.tls) {
    std::vector<std::string> args = {"cluster"};
    for (const NodeProc& n : nodes_) args.push_back(n.id);
    if (Status s = test_support::MakeDevCerts(tls_dir().string(), args); !s.ok()) {
      ADD_FAILURE() << s.ToString();
    }
  }
}

Cluster::~Cluster() {
  KillAll();
  // A sanitizer report in a node (a sanitized build) fails the test even
  // when the node's clients saw nothing wrong.
  for (int i = 0; i < size(); ++i) {
    std::ifstream in(nodes_[i].log_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
          line.find("ERROR: LeakSanitizer") != std::string::npos ||
          line.find("runtime error:") != std::string::npos) {
        ADD_FAILURE() << nodes_[i].id << " reported: " << line;
        break;
      }
    }
  }
  const bool failed = ::testing::Test::HasFailure();
  if (failed) {
    std::fprintf(stderr, "==== cluster %s: the test failed; node logs follow ====\n%s",
                 dir_.c_str(), AllLogTails(60).c_str());
  }
  if (std::getenv("TROLLEY_KEEP_CLUSTER_DIR") != nullptr) {
    std::fprintf(stderr, "cluster dir kept: %s\n", dir_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

int Cluster::IndexOf(const std::string& id) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].id == id) return i;
  }
  return -1;
}

std::string Cluster::address(int i) const {
  return "127.0.0.1:" + std::to_string(nodes_.at(i).port);
}

std::vector<std::string> Cluster::node_ids() const {
  std::vector<std::string> ids;
  for (const NodeProc& n : nodes_) ids.push_back(n.id);
  return ids;
}

Status Cluster::PickPorts() {
  const int n = static_cast<int>(nodes_.size());
  const uint16_t first = test_support::FreeLoopbackPorts(options_.admin ? 2 * n : n);
  if (first == 0) return Status::Unavailable("no free loopback ports found");
  for (int i = 0; i < n; ++i) {
    nodes_[i].port = static_cast<uint16_t>(first + i);
    if (options_.admin) nodes_[i].admin_port = static_cast<uint16_t>(first + n + i);
  }
  return Status::Ok();
}

Status Cluster::Spawn(int i) {
  NodeProc& node = nodes_.at(i);
  std::vector<std::string> args = {
      TROLLEYD_PATH,     "--config",   config_path_.string(),  "--node-id",
      node.id,           "--data-dir", node.data_dir.string(), "--log-level",
      options_.log_level};
  for (const NodeProc& m : nodes_) {
    args.push_back("--member");
    args.push_back(m.id + "=127.0.0.1:" + std::to_string(m.port));
  }
  for (const std::string& ns : options_.namespaces) {
    args.push_back("--namespace");
    args.push_back(ns);
  }
  if (node.admin_port != 0) {
    args.push_back("--admin-port");
    args.push_back(std::to_string(node.admin_port));
  }
  if (options_.tls) {
    const TlsFiles tls = ClientTls(node.id, /*node_cert=*/true);
    for (const auto& [flag, file] :
         {std::pair{"--tls-ca", tls.ca_file}, std::pair{"--tls-cert", tls.cert_file},
          std::pair{"--tls-key", tls.key_file}}) {
      args.push_back(flag);
      args.push_back(file);
    }
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::string command;
  for (const std::string& a : args) command += (command.empty() ? "" : " ") + a;
  AppendToFile(node.log_path, "==== harness: starting " + node.id + ": " + command + "\n");

  const int log_fd = ::open(node.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return Status::IOError("open " + node.log_path.string() + ": " + std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return Status::IOError(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Sockets and files of the test process (asio does not set CLOEXEC on
    // everything) must not leak into the node.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
    ::execv(argv[0], argv.data());
    const char msg[] = "harness: execv failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
  node.pid = pid;
  return Status::Ok();
}

void Cluster::Reap(int i, int wait_status) {
  NodeProc& node = nodes_.at(i);
  node.last_exit = DescribeWaitStatus(wait_status);
  AppendToFile(node.log_path, "==== harness: " + node.id + " (pid " + std::to_string(node.pid) +
                                  ") " + node.last_exit + "\n");
  node.pid = -1;
}

bool Cluster::IsRunning(int i) {
  NodeProc& node = nodes_.at(i);
  if (node.pid <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(node.pid, &status, WNOHANG);
  if (r == 0) return true;
  if (r == node.pid) {
    Reap(i, status);
  } else {
    node.last_exit = std::string("waitpid: ") + std::strerror(errno);
    node.pid = -1;
  }
  return false;
}

Status Cluster::WaitReady(int i, Clock::time_point deadline) {
  const NodeProc& node = nodes_.at(i);
  for (;;) {
    if (!IsRunning(i)) {
      return Status::Unavailable(node.id + " exited while starting (" + node.last_exit +
                                 "); log tail:\n" + LogTail(i, 20));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto conn = NodeConnection::Connect(address(i), std::clamp(left, 1ms, 1000ms), ClientTls());
    if (conn.ok()) {
      if ((*conn)->node_id() != node.id) {
        return Status::FailedPrecondition(address(i) + " answered Hello as '" + (*conn)->node_id() +
                                          "', expected " + node.id);
      }
      return Status::Ok();
    }
    if (Clock::now() >= deadline) {
      return Status::Timeout(node.id + " did not answer Hello on " + address(i) + " within " +
                             std::to_string(options_.start_timeout.count()) + " ms (" +
                             conn.status().ToString() + "); log tail:\n" + LogTail(i, 20));
    }
    std::this_thread::sleep_for(20ms);
  }
}

Status Cluster::Start() {
  Status last;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    KillAll();
    if (Status s = PickPorts(); !s.ok()) return s;
    for (NodeProc& n : nodes_) {
      std::error_code ignored;
      std::filesystem::remove_all(n.data_dir, ignored);
      std::filesystem::create_directories(n.data_dir);
    }
    last = Status::Ok();
    for (int i = 0; i < size() && last.ok(); ++i) last = Spawn(i);
    const auto deadline = Clock::now() + options_.start_timeout;
    for (int i = 0; i < size() && last.ok(); ++i) last = WaitReady(i, deadline);
    if (last.ok()) return last;
    // A port taken between the check and the bind: try other ports.
    const bool bind_failed = last.message().find("cannot listen") != std::string::npos;
    if (!bind_failed) break;
  }
  KillAll();
  return last;
}

void Cluster::Kill(int i) {
  NodeProc& node = nodes_.at(i);
  if (node.pid <= 0) return;
  ::kill(node.pid, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(node.pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == node.pid) {
    Reap(i, status);
  } else {
    node.pid = -1;
  }
}

void Cluster::KillAll() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

Status Cluster::Stop(int i) {
  NodeProc& node = nodes_.at(i);
  if (!IsRunning(i)) return Status::Ok();
  const pid_t pid = node.pid;
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      Reap(i, status);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
      return Status::Unavailable(node.id + " " + DescribeWaitStatus(status) +
                                 " after SIGTERM; log tail:\n" + LogTail(i, 20));
    }
    if (r < 0 && errno != EINTR) {
      node.pid = -1;
      return Status::Unavailable(node.id + ": waitpid: " + std::strerror(errno));
    }
    if (Clock::now() >= deadline) {
      Kill(i);
      return Status::Timeout(node.id + " did not exit within " +
                             std::to_string(std::chrono::milliseconds(kStopTimeout).count()) +
                             " ms of SIGTERM (killed); log tail:\n" + LogTail(i, 20));
    }
    std::this_thread::sleep_for(10ms);
  }
}

Status Cluster::Restart(int i) {
  if (IsRunning(i)) {
    if (Status s = Stop(i); !s.ok()) return s;
  }
  const auto deadline = Clock::now() + options_.start_timeout;
  if (Status s = Spawn(i); !s.ok()) return s;
  return WaitReady(i, deadline);
}

Result<std::unique_ptr<NodeConnection>> Cluster::Connect(int i,
                                                         std::chrono::milliseconds timeout) const {
  return NodeConnection::Connect(address(i), timeout, ClientTls());
}

TlsFiles Cluster::ClientTls(const std::string& name, bool node_cert) const {
  if (!options_.tls) return TlsFiles{};
  const std::string stem = (tls_dir() / ((node_cert ? "node-" : "client-") + name)).string();
  return TlsFiles{(tls_dir() / "ca.pem").string(), stem + ".pem", stem + ".key"};
}

std::string Cluster::LogTail(int i, size_t lines) const {
  std::ifstream in(nodes_.at(i).log_path);
  if (!in) return "(no log at " + nodes_.at(i).log_path.string() + ")\n";
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& l : tail) out += l + "\n";
  return out;
}

std::string Cluster::AllLogTails(size_t lines) const {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    out += "---- " + nodes_[i].id + " (" + nodes_[i].log_path.string() + "), last " +
           std::to_string(lines) + " lines ----\n" + LogTail(i, lines);
  }
  return out;
}

// ---- client helpers

Result<CurlReply> Curl(const std::string& url, const std::string& method, const std::string& body) {
  // Arguments are ours (numbers, paths without quotes): single-quoted.
  std::string command = "curl -s -m 10 -o - -w '\\n%{http_code}' -X " + method;
  if (!body.empty()) command += " --data-binary '" + body + "'";
  command += " '" + url + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return Status::IOError("popen curl: " + std::string(std::strerror(errno)));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  if (rc != 0)
    return Status::Unavailable("curl " + url + " failed (" + std::to_string(rc) + "): " + out);
  const size_t last = out.rfind('\n');
  if (last == std::string::npos) return Status::Corruption("curl printed no status: " + out);
  CurlReply reply;
  reply.http_status = std::atoi(out.c_str() + last + 1);
  reply.body = out.substr(0, last);
  return reply;
}

std::optional<double> MetricValue(const std::string& text, const std::string& name) {
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line(text.data() + at, end - at);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      return std::strtod(std::string(line.substr(name.size() + 1)).c_str(), nullptr);
    }
    at = end + 1;
  }
  return std::nullopt;
}

Result<ClientPutReply> Put(NodeConnection& conn, const std::string& key, const std::string& value,
                           const VersionVector& context, const std::string& ns) {
  Result<ClientPutReply> reply = CallFor<ClientPutReply>(
      conn, ClientPut{.ns = ns, .key = key, .context = context, .value = value});
  if (reply.ok() && reply->code != StatusCode::kOk) {
    return Status(reply->code, conn.address() + ": put " + key + ": " + reply->message);
  }
  return reply;
}

Result<ClientGetReply> Get(NodeConnection& conn, const std::string& key, const std::string& ns) {
  Result<ClientGetReply> reply = CallFor<ClientGetReply>(conn, ClientGet{.ns = ns, .key = key});
  if (reply.ok() && reply->code != StatusCode::kOk) {
    return Status(reply->code, conn.address() + ": get " + key + ": " + reply->message);
  }
  return reply;
}

Result<ReplicaGetReply> ReadReplica(NodeConnection& conn, const std::string& key,
                                    const std::string& ns) {
  Result<ReplicaGetReply> reply = CallFor<ReplicaGetReply>(conn, ReplicaGet{.ns = ns, .key = key});
  if (reply.ok() && reply->code != StatusCode::kOk && reply->code != StatusCode::kNotFound) {
    return Status(reply->code, conn.address() + ": replica get " + key + ": " + reply->message);
  }
  return reply;
}

Result<StatusReply> GetStatus(NodeConnection& conn) {
  Result<StatusReply> reply = CallFor<StatusReply>(conn, StatusRequest{});
  if (reply.ok() && reply->code != StatusCode::kOk) {
    return Status(reply->code, conn.address() + ": status: " + reply->message);
  }
  return reply;
}

uint64_t CounterOf(Cluster& cluster, int i, std::string_view name) {
  auto conn = cluster.Connect(i);
  if (!conn.ok()) return 0;
  auto status = GetStatus(**conn);
  return status.ok() ? FindValue(status->counters, name) : 0;
}

uint64_t SumCounter(Cluster& cluster, std::string_view name) {
  uint64_t sum = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    if (cluster.IsRunning(i)) sum += CounterOf(cluster, i, name);
  }
  return sum;
}

CommandRun RunCommand(const std::string& command) {
  CommandRun run;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::vector<std::string> Values(const SiblingSet& state) {
  std::vector<std::string> values;
  for (const Sibling& s : state.siblings()) {
    if (!s.tombstone) values.push_back(s.value);
  }
  std::sort(values.begin(), values.end());
  return values;
}

}  // namespace trolley::integration
