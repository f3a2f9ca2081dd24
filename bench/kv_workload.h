// trolley-bench's "kv" workload: raw ClientPut/ClientGet frames, no cart
// logic (see kv_workload.cc). The default workload, so that
// bench/cluster_bench.sh and earlier command lines run as before.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "wire/tls_files.h"

namespace trolley::bench {

struct KvOptions {
  std::vector<std::string> nodes;
  std::string ns = "carts";
  size_t connections = 12;
  size_t concurrency = 48;
  double duration_s = 10;
  double warmup_s = 1;
  size_t value_bytes = 1500;
  std::string phases = "put,get";
  std::string json_out;
  std::string label;
  TlsFiles tls;  // the cluster CA and a client certificate; empty: plain TCP
};

// Runs the phases and prints the table; the process exit code (0 ok,
// 1 a connection broke, 2 bad options or no connection).
int RunKvWorkload(const KvOptions& options);

}  // namespace trolley::bench
