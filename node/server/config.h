// ServerConfig: everything one trolleyd process needs to start, read from a
// TOML file and overridden by command-line flags.
//
// File format (every key optional unless marked; see docs/trolleyd.example.toml):
//
//   node_id   = "n1"                  # required; must be one of [[members]]
//   listen    = "127.0.0.1:7101"      # default: this member's address
//   data_dir  = "./data/n1"           # required
//   partitions = 64                   # ring size Q, a power of two
//   log_level = "info"                # debug | info | warn | error
//   insecure  = false                 # true: serve without TLS on a non-loopback listen
//   [tls]     ca_file, cert_file, key_file   # PEM; all three, or none (TLS off)
//   [[members]]                       # required, the whole cluster, same on every node
//   id = "n1"
//   address = "127.0.0.1:7101"
//   [[namespaces]]                    # at least one
//   name = "carts"
//   n = 3, r = 2, w = 2               # 1 <= r, w <= n
//   ttl_ms = 0                        # default expiry of a write; 0 = never
//   merge = "union-max"               # union-max | or-set (what clients resolve with)
//   durability = "sync"               # sync | flush | none
//   [limits]  request_timeout_ms, replica_timeout_ms, idle_frame_timeout_ms,
//             connections_max, output_bytes_max, hints_max, hint_age_max_ms,
//             ping_interval_ms, hint_delivery_interval_ms, hint_backoff_max_ms,
//             slow_request_ms
//   [storage] flush_interval_ms, map_size_mb, map_size_max_mb, siblings_warn,
//             siblings_max, object_bytes_warn, object_bytes_max,
//             sweep_interval_ms, tombstone_grace_ms, max_readers
//   [admin]   host = "127.0.0.1", port = 0   # HTTP: /metrics, /healthz, /readyz,
//                                            # /admin/backup; port 0 = off
//   [aae]     enabled (1 | 0), interval_ms, keys_per_second, bytes_per_second,
//             segments_per_exchange, exchange_timeout_ms (NodeOptions aae_*)
//
// The listen address defaults to this node's member address: the one
// interface its peers dial, never every interface. A member address must
// be one a peer can dial (not 0.0.0.0 or ::); listening on every interface
// takes an explicit `listen = "0.0.0.0:port"`.
//
// TLS (docs/design.md, 'Security: TLS and identities'): with [tls] set,
// every connection, inbound and to peers, is TLS with certificates of the
// cluster CA. Without it, Validate() refuses a listen address that is not
// loopback (127.0.0.0/8, ::1, localhost) unless `insecure = true`; the
// error says what to set. A host name other than localhost counts as not
// loopback (config validation resolves nothing).
//
// DescribeSettings() lists every accepted setting with its default, from
// the same tables the parser checks keys against (trolleyd --list-settings
// prints it; scripts/check-docs.sh compares it with docs/operations.md).
//
// Flags (trolleyd --help) override the file: --node-id, --listen,
// --data-dir, --log-level, --tls-ca, --tls-cert, --tls-key, --insecure,
// --member id=host:port (repeatable; replaces the
// file's members), --namespace name:n=3,r=2,w=2,durability=flush,... (repeatable;
// replaces the file's namespaces).
//
// Every error names the field and says what is accepted, e.g.
// "namespaces[1].w: 4 is larger than n = 3; W must be between 1 and n".
// Config is untrusted input: nothing is used before Validate() passed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/host_port.h"
#include "common/status.h"
#include "node/node.h"
#include "storage/engine.h"

namespace trolley {

// How clients resolve a namespace's siblings (docs/design.md, 'The Cart
// API'). The node stores and replicates values opaquely; it only reports this to clients.
enum class MergeSemantics { kUnionMax, kOrSet };
std::string_view MergeSemanticsName(MergeSemantics m);
Result<MergeSemantics> ParseMergeSemantics(std::string_view name);

struct ServerNamespace {
  NamespaceOptions options;  // name, n, r, w, ttl_ms
  MergeSemantics merge = MergeSemantics::kUnionMax;
  Durability durability = Durability::kSync;
};

struct ServerConfig {
  std::string node_id;
  std::string listen;  // host:port; empty = this node's member address
  std::string data_dir;
  uint32_t partitions = 64;
  std::string log_level = "info";
  std::vector<std::pair<std::string, std::string>> members;  // id, host:port
  std::vector<ServerNamespace> namespaces;
  // TLS: all three PEM files, or none (TLS off).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Allows serving without TLS on a non-loopback listen address.
  bool insecure = false;

  uint64_t request_timeout_ms = 2000;
  uint64_t replica_timeout_ms = 500;
  // A connection holding part of a frame that sends nothing for this long
  // is closed (a half-sent frame then silence).
  uint64_t idle_frame_timeout_ms = 10'000;
  uint64_t connections_max = 4096;
  // A connection whose unsent replies exceed this is closed (a client that
  // does not read); a peer link drops messages beyond it.
  uint64_t output_bytes_max = 64 << 20;
  uint64_t hints_max = 1'000'000;
  uint64_t hint_age_max_ms = 7ull * 24 * 3600 * 1000;
  uint64_t ping_interval_ms = 500;           // NodeOptions: probe suspected peers
  uint64_t hint_delivery_interval_ms = 200;  // NodeOptions: try to deliver hints
  uint64_t hint_backoff_max_ms = 10'000;     // NodeOptions: longest wait after failures
  uint64_t slow_request_ms = 1000;  // NodeOptions: log requests slower than this; 0 = never

  uint64_t flush_interval_ms = 50;
  uint64_t map_size_mb = 1024;
  uint64_t map_size_max_mb = 64 * 1024;
  uint64_t siblings_warn = 25;           // LmdbEngineOptions: log a warning above
  uint64_t siblings_max = 100;           // LmdbEngineOptions: refuse coordinated writes above
  uint64_t object_bytes_warn = 1 << 20;  // LmdbEngineOptions: log a warning above
  uint64_t object_bytes_max = 5 << 20;   // LmdbEngineOptions: values of one key, all siblings
  uint64_t sweep_interval_ms = 10 * 60 * 1000;            // TTL expiry and tombstone purge
  uint64_t tombstone_grace_ms = 7ull * 24 * 3600 * 1000;  // a tombstone is kept this long
  uint64_t max_readers = 126;  // LmdbEngineOptions: concurrent LMDB read transactions

  // Active anti-entropy (NodeOptions aae_*; docs/operations.md).
  uint64_t aae_enabled = 1;
  uint64_t aae_interval_ms = 1000;
  uint64_t aae_keys_per_second = 2000;
  uint64_t aae_bytes_per_second = 8ull << 20;
  uint64_t aae_segments_per_exchange = 1024;
  uint64_t aae_exchange_timeout_ms = 60'000;
  // The admin HTTP listener (node/server/admin_http.h): off while port is 0.
  // Loopback by default: it serves backups, so it must not face a network.
  std::string admin_host = "127.0.0.1";
  uint64_t admin_port = 0;

  // Checks every field; the first error names it.
  Status Validate() const;
  // The [limits] and [storage] part of Validate().
  Status ValidateNumbers() const;
  // The [admin] part of Validate().
  Status ValidateAdmin() const;
  // The address to listen on (listen, or this node's member address).
  std::string ListenAddress() const;
  // host:port of the admin listener; empty when it is off.
  std::string AdminAddress() const;
  bool tls() const { return !tls_cert_file.empty(); }
  // The [tls] files and `insecure` part of Validate().
  Status ValidateTls() const;
};

// One accepted setting: its name as written in errors ("storage.siblings_max",
// "namespaces[].w") and its default as TOML would write it, or "(required)"
// and "(this member's address)" where there is no constant default.
struct SettingDescription {
  std::string name;
  std::string default_value;
};
std::vector<SettingDescription> DescribeSettings();

// Parses the TOML text (`origin` names the file in errors, with line numbers).
Result<ServerConfig> ParseServerConfig(std::string_view toml_text, std::string_view origin);
Result<ServerConfig> LoadServerConfig(const std::string& path);

// True for an IPv4 127.0.0.0/8 address, ::1 or "localhost" (host only,
// brackets allowed): a listen address only this machine can reach.
bool IsLoopbackHost(std::string_view host);

// "id=host:port" for --member.
Status ApplyMemberFlag(ServerConfig& config, std::string_view flag);
// "name:n=3,r=2,w=2,ttl_ms=0,merge=or-set,durability=flush" for --namespace;
// omitted settings take the defaults above (n=3 r=2 w=2, union-max, sync).
Status ApplyNamespaceFlag(ServerConfig& config, std::string_view flag);

}  // namespace trolley
