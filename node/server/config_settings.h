// The server config's settings schema, shared by the TOML reader
// (config.cc) and the checks (config_validate.cc): the keys of each table
// and the tables of unsigned integers, each with its field and minimum, so
// that reading, checking and DescribeSettings() list one set of settings.
// Internal to node/server/config*; not part of ServerConfig's contract.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "node/server/config.h"
#include "wire/frame.h"

namespace trolley::config_settings {

// A refusal naming the setting, e.g. "storage.map_size_mb: must be positive".
inline Status Invalid(std::string_view field, const std::string& what) {
  return Status::InvalidArgument(std::string(field) + ": " + what);
}

// "table.key", or "key" at the top level.
inline std::string Path(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
}

// The keys of each table, in one place: the parser refuses any other key and
// DescribeSettings() lists these.
inline constexpr std::string_view kTopKeys[] = {
    "node_id",    "listen", "data_dir", "partitions", "log_level", "insecure", "members",
    "namespaces", "limits", "storage",  "admin",      "tls",       "aae"};
// The [tls] table: PEM file paths.
struct TlsSetting {
  std::string_view key;
  std::string ServerConfig::*field;
};
inline constexpr TlsSetting kTlsSettings[] = {
    {"ca_file", &ServerConfig::tls_ca_file},
    {"cert_file", &ServerConfig::tls_cert_file},
    {"key_file", &ServerConfig::tls_key_file},
};
inline constexpr std::string_view kMemberKeys[] = {"id", "address"};
inline constexpr std::string_view kAdminKeys[] = {"host", "port"};
inline constexpr std::string_view kNamespaceKeys[] = {"name",   "n",     "r",         "w",
                                                      "ttl_ms", "merge", "durability"};

// A [limits] or [storage] setting: every one is an unsigned integer, at
// least `min` (intervals and timeouts of zero would spin or never fire).
struct UintSetting {
  std::string_view key;
  uint64_t ServerConfig::*field;
  uint64_t min = 1;
};
inline constexpr UintSetting kLimitsSettings[] = {
    {"request_timeout_ms", &ServerConfig::request_timeout_ms},
    {"replica_timeout_ms", &ServerConfig::replica_timeout_ms},
    {"idle_frame_timeout_ms", &ServerConfig::idle_frame_timeout_ms},
    {"connections_max", &ServerConfig::connections_max},
    {"output_bytes_max", &ServerConfig::output_bytes_max, 1u << 20},
    {"hints_max", &ServerConfig::hints_max, 0},
    {"hint_age_max_ms", &ServerConfig::hint_age_max_ms},
    {"ping_interval_ms", &ServerConfig::ping_interval_ms},
    {"hint_delivery_interval_ms", &ServerConfig::hint_delivery_interval_ms},
    {"hint_backoff_max_ms", &ServerConfig::hint_backoff_max_ms},
    {"slow_request_ms", &ServerConfig::slow_request_ms, 0},
};
inline constexpr UintSetting kStorageSettings[] = {
    {"flush_interval_ms", &ServerConfig::flush_interval_ms},
    {"map_size_mb", &ServerConfig::map_size_mb},
    {"map_size_max_mb", &ServerConfig::map_size_max_mb},
    {"siblings_warn", &ServerConfig::siblings_warn},
    {"siblings_max", &ServerConfig::siblings_max},
    {"object_bytes_warn", &ServerConfig::object_bytes_warn},
    {"object_bytes_max", &ServerConfig::object_bytes_max},
    {"sweep_interval_ms", &ServerConfig::sweep_interval_ms},
    {"tombstone_grace_ms", &ServerConfig::tombstone_grace_ms},
    {"max_readers", &ServerConfig::max_readers},
};

// The largest storage.object_bytes_max: a whole key's state must fit one
// frame (wire/frame.h) with room for its key, versions and message framing.
inline constexpr uint64_t kObjectBytesMaxLimit = kFrameBytesMax - (1u << 20);

// The two tables of unsigned integers, by name.
struct UintTable {
  std::string_view name;
  std::span<const UintSetting> settings;
};
inline constexpr UintSetting kAaeSettings[] = {
    {"enabled", &ServerConfig::aae_enabled, 0},
    {"interval_ms", &ServerConfig::aae_interval_ms},
    {"keys_per_second", &ServerConfig::aae_keys_per_second},
    {"bytes_per_second", &ServerConfig::aae_bytes_per_second, 64u << 10},
    {"segments_per_exchange", &ServerConfig::aae_segments_per_exchange},
    {"exchange_timeout_ms", &ServerConfig::aae_exchange_timeout_ms},
};
inline constexpr UintTable kUintTables[] = {
    {"limits", kLimitsSettings}, {"storage", kStorageSettings}, {"aae", kAaeSettings}};

}  // namespace trolley::config_settings
