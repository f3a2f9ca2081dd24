// Cluster: real trolleyd processes on loopback, for integration tests.
//
// What: Start() forks and execs N trolleyd binaries (the path comes from the
// TROLLEYD_PATH compile definition, i.e. $<TARGET_FILE:trolleyd>), each with
// its own data dir under one temp dir, on free loopback ports chosen below
// the kernel's ephemeral range (so that no outgoing connection can hold a
// node's port while it is down). A node is "started" once it answers a
// Hello (NodeConnection::Connect); every wait is bounded. Kill() sends
// SIGKILL, Stop() SIGTERM and waits for a clean exit, Restart() starts the
// node again with the same data dir and ports.
//
// Logs: each node's stdout and stderr go to <temp dir>/<node id>.log
// (appended across restarts, with a harness line before each start). When
// the current GoogleTest test has failed, the destructor prints the tail of
// every log. The destructor SIGKILLs every node still running and removes
// the temp dir (kept, and its path printed, when TROLLEY_KEEP_CLUSTER_DIR
// is set). Children also get PR_SET_PDEATHSIG, so a crashed test binary
// does not leave nodes behind.
//
// Configuration: --node-id/--data-dir/--member/--namespace flags plus a
// TOML file holding the [limits] the options set (short timeouts by
// default, so that failure handling is fast in tests). With options.tls,
// scripts/dev-certs.sh makes a CA, one certificate per node and the
// clients "admin" (write) and "reader" (read) in <temp dir>/tls; the
// nodes get --tls-* flags and Connect() and readiness use admin's.
//
// Threading: one thread at a time. Not copyable.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/node_connection.h"
#include "common/status.h"
#include "storage/sibling_set.h"
#include "wire/messages.h"

namespace trolley::integration {

using namespace std::chrono_literals;

struct ClusterOptions {
  int nodes = 3;
  // --namespace flags, e.g. "carts:n=3,r=2,w=2,durability=sync".
  std::vector<std::string> namespaces = {"carts:n=3,r=2,w=2,durability=sync"};
  uint32_t partitions = 64;
  // Short enough that failure handling is fast, long enough for a loaded
  // 2-core machine: with 200 ms replica / 2000 ms request timeouts, W=2
  // puts failed now and then while other builds ran (replicas answered
  // late and a 5-node cluster ran out of fallbacks; a synced local write
  // once took over 2 s). Passing tests do not wait for these.
  uint64_t request_timeout_ms = 5000;
  // A replica silent this long is suspected and replaced by a fallback.
  uint64_t replica_timeout_ms = 1000;
  uint64_t idle_frame_timeout_ms = 1000;
  std::string log_level = "info";
  // Appended to the config file after the [limits] keys: more [limits]
  // keys first, then whole tables (e.g. "hints_max = 0\n[aae]\n...").
  std::string config_tail;
  // Each node also serves its admin HTTP listener (--admin-port) on a free
  // loopback port: admin_port(i).
  bool admin = false;
  // Bound on each node's start (process spawned -> answers Hello).
  std::chrono::milliseconds start_timeout = 20s;
  // TLS on every connection, with certificates of a fresh development CA.
  bool tls = false;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts every node and waits until each answers a Hello. If a node
  // cannot bind its port (another process took it), picks new ports and
  // tries again, up to 3 times.
  Status Start();

  // SIGKILL and reap. No-op for a node that is not running.
  void Kill(int i);
  // SIGTERM, then waits (bounded) for the process to exit; an error if it
  // did not exit, or exited other than with status 0 (it is then killed).
  Status Stop(int i);
  // Starts node i again (stopping it with SIGTERM first if it runs), with
  // the same data dir and ports; Ok once it answers a Hello.
  Status Restart(int i);
  // True while the process has not exited (waitpid WNOHANG).
  bool IsRunning(int i);

  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& node_id(int i) const { return nodes_.at(i).id; }
  int IndexOf(const std::string& node_id) const;  // -1 if not a member
  uint16_t port(int i) const { return nodes_.at(i).port; }
  // Node i's admin port (0 unless options.admin).
  uint16_t admin_port(int i) const { return nodes_.at(i).admin_port; }
  std::string address(int i) const;
  pid_t pid(int i) const { return nodes_.at(i).pid; }
  std::vector<std::string> node_ids() const;
  const std::filesystem::path& dir() const { return dir_; }
  // Node i's data dir (the test may wipe it while the node is down).
  const std::filesystem::path& data_dir(int i) const { return nodes_.at(i).data_dir; }
  const ClusterOptions& options() const { return options_; }

  // A client connection to node i (Hello done); with options.tls as the
  // "admin" client.
  Result<std::unique_ptr<NodeConnection>> Connect(int i,
                                                  std::chrono::milliseconds timeout = 3s) const;
  // The TLS files of the client certificate `name` ("admin", "reader"), or
  // of the node `name` with node_cert; empty when options.tls is off.
  TlsFiles ClientTls(const std::string& name = "admin", bool node_cert = false) const;
  // Where the certificates are (<temp dir>/tls).
  std::filesystem::path tls_dir() const { return dir_ / "tls"; }

  // The last `lines` lines of node i's log.
  std::string LogTail(int i, size_t lines = 40) const;
  // Every node's log tail, with headers.
  std::string AllLogTails(size_t lines = 40) const;

 private:
  struct NodeProc {
    std::string id;
    uint16_t port = 0;
    uint16_t admin_port = 0;
    std::filesystem::path data_dir;
    std::filesystem::path log_path;
    pid_t pid = -1;
    std::string last_exit;  // how the last process ended, for messages
  };

  Status PickPorts();
  Status Spawn(int i);
  Status WaitReady(int i, std::chrono::steady_clock::time_point deadline);
  void Reap(int i, int wait_status);
  void KillAll();

  ClusterOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::vector<NodeProc> nodes_;
};

// Polls `condition` every `interval` until it returns true (then true) or
// `timeout` passed (then false; the condition is checked one last time).
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval = 20ms);

// ---- client helpers: one request on `conn`, the reply's code as a Status.

inline constexpr std::chrono::milliseconds kCallTimeout = 10s;  // > request_timeout_ms

// A ClientPut; an error unless the node answered kOk.
Result<ClientPutReply> Put(NodeConnection& conn, const std::string& key, const std::string& value,
                           const VersionVector& context = {}, const std::string& ns = "carts");
// A ClientGet; NotFound for an absent key, an error for any other non-kOk.
Result<ClientGetReply> Get(NodeConnection& conn, const std::string& key,
                           const std::string& ns = "carts");
// A ReplicaGet: the node's own copy, no quorum, no read repair. kNotFound
// comes back as an Ok reply with found == false.
Result<ReplicaGetReply> ReadReplica(NodeConnection& conn, const std::string& key,
                                    const std::string& ns = "carts");
Result<StatusReply> GetStatus(NodeConnection& conn);
// Node i's counter `name` from its StatusReply; 0 if it does not answer.
uint64_t CounterOf(Cluster& cluster, int i, std::string_view name);
// The sum of CounterOf over the nodes that run.
uint64_t SumCounter(Cluster& cluster, std::string_view name);

// ---- the admin listener, through the curl command (as a scraper would).

struct CurlReply {
  int http_status = 0;
  std::string body;
};
// `curl -s -X method [--data-binary body] url`; an error if curl failed
// (no answer within 10 s, connection refused).
Result<CurlReply> Curl(const std::string& url, const std::string& method = "GET",
                       const std::string& body = "");
// The value of the first sample `name` (e.g. `trolley_hints_pending` or
// `trolley_get_versions_bucket{le="1"}`) in a Prometheus text; nullopt
// if absent.
std::optional<double> MetricValue(const std::string& text, const std::string& name);

// ---- commands, e.g. the trolley CLI (TROLLEY_CLI_PATH in the test's target).

struct CommandRun {
  int exit_code = -1;  // -1 if it could not run or did not exit normally
  std::string output;  // stdout and stderr
};
// Runs `command 2>&1` through the shell.
CommandRun RunCommand(const std::string& command);

// The values of the live (not tombstone) siblings, sorted.
std::vector<std::string> Values(const SiblingSet& state);

}  // namespace trolley::integration
