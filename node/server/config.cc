#include "node/server/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <span>
#include <sstream>

#include "common/enum_names.h"
#include "ring/node_id.h"
#include "ring/ring.h"
#include "wire/frame.h"

namespace trolley {
namespace {

Status Invalid(std::string_view field, const std::string& what) {
  return Status::InvalidArgument(std::string(field) + ": " + what);
}

// Refuses keys nobody reads, so that a typo is an error, not a silent default.
Status CheckKnownKeys(const toml::table& table, std::string_view where,
                      const std::vector<std::string_view>& known) {
  for (const auto& [key, value] : table) {
    bool found = false;
    for (std::string_view k : known) found = found || k == key.str();
    if (!found) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Invalid(std::string(where).empty() ? std::string(key.str())
                                                : std::string(where) + "." + std::string(key.str()),
                     "unknown setting (accepted here: " + list + ")");
    }
  }
  return Status::Ok();
}

std::string Path(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
}

Status ReadString(const toml::table& table, std::string_view where, std::string_view key,
                  std::string& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  const auto* s = node->as_string();
  if (s == nullptr) return Invalid(Path(where, key), "must be a string");
  out = s->get();
  return Status::Ok();
}

template <typename T>
Status ReadUint(const toml::table& table, std::string_view where, std::string_view key, T& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  const auto* i = node->as_integer();
  if (i == nullptr) return Invalid(Path(where, key), "must be an integer");
  const int64_t v = i->get();
  if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
    return Invalid(Path(where, key), std::to_string(v) + " is out of range (0.." +
                                         std::to_string(std::numeric_limits<T>::max()) + ")");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

#define TROLLEY_RETURN_IF_ERROR(expr)  \
  do {                                 \
    Status status_ = (expr);           \
    if (!status_.ok()) return status_; \
  } while (false)

// The keys of each table, in one place: the parser refuses any other key and
// DescribeSettings() lists these.
constexpr std::string_view kTopKeys[] = {
    "node_id",    "listen", "data_dir", "partitions", "log_level", "insecure", "members",
    "namespaces", "limits", "storage",  "admin",      "tls",       "aae"};
// The [tls] table: PEM file paths.
struct TlsSetting {
  std::string_view key;
  std::string ServerConfig::*field;
};
constexpr TlsSetting kTlsSettings[] = {
    {"ca_file", &ServerConfig::tls_ca_file},
    {"cert_file", &ServerConfig::tls_cert_file},
    {"key_file", &ServerConfig::tls_key_file},
};
constexpr std::string_view kMemberKeys[] = {"id", "address"};
constexpr std::string_view kAdminKeys[] = {"host", "port"};
constexpr std::string_view kNamespaceKeys[] = {"name",   "n",     "r",         "w",
                                               "ttl_ms", "merge", "durability"};

// A [limits] or [storage] setting: every one is an unsigned integer, at
// least `min` (intervals and timeouts of zero would spin or never fire).
struct UintSetting {
  std::string_view key;
  uint64_t ServerConfig::*field;
  uint64_t min = 1;
};
constexpr UintSetting kLimitsSettings[] = {
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
constexpr UintSetting kStorageSettings[] = {
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
constexpr uint64_t kObjectBytesMaxLimit = kFrameBytesMax - (1u << 20);

// The two tables of unsigned integers, by name.
struct UintTable {
  std::string_view name;
  std::span<const UintSetting> settings;
};
constexpr UintSetting kAaeSettings[] = {
    {"enabled", &ServerConfig::aae_enabled, 0},
    {"interval_ms", &ServerConfig::aae_interval_ms},
    {"keys_per_second", &ServerConfig::aae_keys_per_second},
    {"bytes_per_second", &ServerConfig::aae_bytes_per_second, 64u << 10},
    {"segments_per_exchange", &ServerConfig::aae_segments_per_exchange},
    {"exchange_timeout_ms", &ServerConfig::aae_exchange_timeout_ms},
};
constexpr UintTable kUintTables[] = {
    {"limits", kLimitsSettings}, {"storage", kStorageSettings}, {"aae", kAaeSettings}};

std::vector<std::string_view> Keys(std::span<const std::string_view> keys) {
  return {keys.begin(), keys.end()};
}

std::vector<std::string_view> Keys(std::span<const UintSetting> settings) {
  std::vector<std::string_view> keys;
  for (const UintSetting& s : settings) keys.push_back(s.key);
  return keys;
}

// The table `name` of the file ([name]): nullptr if there is none, an
// error if `name` is not a table.
Result<const toml::table*> OptionalTable(const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  const toml::table* t = node->as_table();
  if (t == nullptr) return Invalid(name, "must be a table ([" + std::string(name) + "])");
  return t;
}

// Reads a [limits] or [storage] table.
Status ReadUintTable(const toml::table& root, const UintTable& table, ServerConfig& c) {
  Result<const toml::table*> found = OptionalTable(root, table.name);
  if (!found.ok() || *found == nullptr) return found.status();
  const toml::table* t = *found;
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(*t, table.name, Keys(table.settings)));
  for (const UintSetting& s : table.settings) {
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, table.name, s.key, c.*s.field));
  }
  return Status::Ok();
}

Status ReadBool(const toml::table& table, std::string_view key, bool& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  const auto* b = node->as_boolean();
  if (b == nullptr) return Invalid(key, "must be true or false");
  out = b->get();
  return Status::Ok();
}

Status ReadTlsTable(const toml::table& root, ServerConfig& c) {
  Result<const toml::table*> found = OptionalTable(root, "tls");
  if (!found.ok() || *found == nullptr) return found.status();
  const toml::table* t = *found;
  std::vector<std::string_view> keys;
  for (const TlsSetting& s : kTlsSettings) keys.push_back(s.key);
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(*t, "tls", keys));
  for (const TlsSetting& s : kTlsSettings) {
    TROLLEY_RETURN_IF_ERROR(ReadString(*t, "tls", s.key, c.*s.field));
  }
  return Status::Ok();
}

Status ReadNamespace(const toml::table& t, const std::string& where, ServerNamespace& ns) {
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(t, where, Keys(kNamespaceKeys)));
  TROLLEY_RETURN_IF_ERROR(ReadString(t, where, "name", ns.options.name));
  TROLLEY_RETURN_IF_ERROR(ReadUint(t, where, "n", ns.options.n));
  TROLLEY_RETURN_IF_ERROR(ReadUint(t, where, "r", ns.options.r));
  TROLLEY_RETURN_IF_ERROR(ReadUint(t, where, "w", ns.options.w));
  TROLLEY_RETURN_IF_ERROR(ReadUint(t, where, "ttl_ms", ns.options.ttl_ms));
  std::string merge(MergeSemanticsName(ns.merge));
  TROLLEY_RETURN_IF_ERROR(ReadString(t, where, "merge", merge));
  auto m = ParseMergeSemantics(merge);
  if (!m.ok()) return Invalid(where + ".merge", m.status().message());
  ns.merge = *m;
  std::string durability(DurabilityName(ns.durability));
  TROLLEY_RETURN_IF_ERROR(ReadString(t, where, "durability", durability));
  auto d = ParseDurability(durability);
  if (!d.ok()) return Invalid(where + ".durability", d.status().message());
  ns.durability = *d;
  return Status::Ok();
}

// Calls read(table, "key[i]") for each table of the array `key` ([[key]]).
Status ReadArrayOfTables(
    const toml::table& root, std::string_view key,
    const std::function<Status(const toml::table&, const std::string&)>& read) {
  const toml::node* node = root.get(key);
  if (node == nullptr) return Status::Ok();
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    return Invalid(key, "must be an array of tables ([[" + std::string(key) + "]])");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    const toml::table* t = array->get(i)->as_table();
    if (t == nullptr) return Invalid(where, "must be a table");
    TROLLEY_RETURN_IF_ERROR(read(*t, where));
  }
  return Status::Ok();
}

Status ReadMember(const toml::table& t, const std::string& where, ServerConfig& c) {
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(t, where, Keys(kMemberKeys)));
  std::string id, address;
  TROLLEY_RETURN_IF_ERROR(ReadString(t, where, "id", id));
  TROLLEY_RETURN_IF_ERROR(ReadString(t, where, "address", address));
  c.members.emplace_back(id, address);
  return Status::Ok();
}

// Reads [admin]: the HTTP port for metrics, health checks and backups.
Status ReadAdmin(const toml::table& root, ServerConfig& c) {
  Result<const toml::table*> found = OptionalTable(root, "admin");
  if (!found.ok() || *found == nullptr) return found.status();
  const toml::table* t = *found;
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(*t, "admin", Keys(kAdminKeys)));
  TROLLEY_RETURN_IF_ERROR(ReadString(*t, "admin", "host", c.admin_host));
  return ReadUint(*t, "admin", "port", c.admin_port);
}

Status ReadTable(const toml::table& root, ServerConfig& c) {
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(root, "", Keys(kTopKeys)));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "node_id", c.node_id));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "listen", c.listen));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "data_dir", c.data_dir));
  TROLLEY_RETURN_IF_ERROR(ReadUint(root, "", "partitions", c.partitions));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "log_level", c.log_level));
  TROLLEY_RETURN_IF_ERROR(ReadBool(root, "insecure", c.insecure));
  TROLLEY_RETURN_IF_ERROR(ReadTlsTable(root, c));
  TROLLEY_RETURN_IF_ERROR(ReadArrayOfTables(
      root, "members",
      [&](const toml::table& t, const std::string& where) { return ReadMember(t, where, c); }));
  TROLLEY_RETURN_IF_ERROR(
      ReadArrayOfTables(root, "namespaces", [&](const toml::table& t, const std::string& where) {
        ServerNamespace ns;
        Status read = ReadNamespace(t, where, ns);
        if (read.ok()) c.namespaces.push_back(std::move(ns));
        return read;
      }));
  for (const UintTable& table : kUintTables) TROLLEY_RETURN_IF_ERROR(ReadUintTable(root, table, c));
  return ReadAdmin(root, c);
}

// True for 0.0.0.0 and :: (any spelling): an address to listen on, not one
// a peer can dial.
bool IsWildcardHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return true;
  if (host.find_first_not_of("0.") == std::string_view::npos) return true;
  return host.find_first_not_of("0:") == std::string_view::npos;
}

Result<uint64_t> ParseUintText(std::string_view text, std::string_view field) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Invalid(field, "'" + std::string(text) + "' is not a non-negative integer");
  }
  return v;
}

constexpr EnumName<MergeSemantics> kMergeSemanticsNames[] = {
    {MergeSemantics::kUnionMax, "union-max"}, {MergeSemantics::kOrSet, "or-set"}};

}  // namespace

std::string_view MergeSemanticsName(MergeSemantics m) { return NameOf(kMergeSemanticsNames, m); }

Result<MergeSemantics> ParseMergeSemantics(std::string_view name) {
  return ParseName(kMergeSemanticsNames, name, "merge semantics");
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.x.y.z, digits and dots only.
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char ch : host) {
    if (ch == '.') {
      ++dots;
    } else if (ch < '0' || ch > '9') {
      return false;
    }
  }
  return dots == 3;
}

Status ServerConfig::ValidateTls() const {
  const int set = !tls_ca_file.empty() + !tls_cert_file.empty() + !tls_key_file.empty();
  if (set != 0 && set != 3) {
    for (const TlsSetting& s : kTlsSettings) {
      if ((this->*s.field).empty()) {
        return Invalid(Path("tls", s.key),
                       "is required with the other [tls] files (ca_file, cert_file, key_file)");
      }
    }
  }
  if (tls() || insecure) return Status::Ok();
  auto hp = ParseHostPort(ListenAddress(), "listen");
  if (!hp.ok()) return hp.status();
  if (IsLoopbackHost(hp->host)) return Status::Ok();
  return Invalid("listen", "'" + ListenAddress() +
                               "' is not a loopback address and TLS is off: set [tls] ca_file, "
                               "cert_file and key_file (scripts/dev-certs.sh makes a development "
                               "set), or insecure = true to serve without TLS on a network you "
                               "trust");
}

std::string ServerConfig::ListenAddress() const {
  if (!listen.empty()) return listen;
  for (const auto& [id, address] : members) {
    if (id == node_id) return address;
  }
  return "";
}

Status ServerConfig::Validate() const {
  if (node_id.empty()) return Invalid("node_id", "is required (this node's id, e.g. \"n1\")");
  if (Status s = ValidateNodeId(NodeId{node_id}); !s.ok()) return Invalid("node_id", s.message());
  if (data_dir.empty()) return Invalid("data_dir", "is required (where this node keeps its data)");
  if (Status s = ValidatePartitionCount(partitions); !s.ok()) {
    return Invalid("partitions", s.message());
  }
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error") {
    return Invalid("log_level", "'" + log_level + "' is not one of debug, info, warn, error");
  }
  if (members.empty()) return Invalid("members", "is required: list every node of the cluster");
  std::set<std::string> ids;
  bool self = false;
  for (size_t i = 0; i < members.size(); ++i) {
    const std::string where = "members[" + std::to_string(i) + "]";
    const auto& [id, address] = members[i];
    if (Status s = ValidateNodeId(NodeId{id}); !s.ok()) return Invalid(where + ".id", s.message());
    if (!ids.insert(id).second) return Invalid(where + ".id", "'" + id + "' is listed twice");
    auto hp = ParseHostPort(address, where + ".address");
    if (!hp.ok()) return hp.status();
    if (IsWildcardHost(hp->host)) {
      return Invalid(where + ".address",
                     "'" + address + "' is not an address a peer can dial; give this host's " +
                         "address (to listen on every interface, set listen explicitly)");
    }
    self = self || id == node_id;
  }
  if (!self) {
    return Invalid("node_id", "'" + node_id + "' is not one of the members; add it to [[members]]");
  }
  if (members.size() > partitions) {
    return Invalid("partitions", std::to_string(partitions) + " is fewer than the " +
                                     std::to_string(members.size()) + " members");
  }
  if (auto hp = ParseHostPort(ListenAddress(), "listen"); !hp.ok()) return hp.status();
  if (Status s = ValidateTls(); !s.ok()) return s;
  if (namespaces.empty()) {
    return Invalid("namespaces", "is required: declare at least one namespace");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const std::string where = "namespaces[" + std::to_string(i) + "]";
    const NamespaceOptions& ns = namespaces[i].options;
    if (ns.name.empty() || ns.name.size() > kNamespaceBytesMax) {
      return Invalid(where + ".name",
                     "must be 1.." + std::to_string(kNamespaceBytesMax) + " bytes");
    }
    if (!names.insert(ns.name).second) {
      return Invalid(where + ".name", "'" + ns.name + "' is declared twice");
    }
    if (ns.n < 1 || ns.n > members.size()) {
      return Invalid(where + ".n", std::to_string(ns.n) + " must be between 1 and the " +
                                       std::to_string(members.size()) + " members");
    }
    if (ns.r < 1 || ns.r > ns.n) {
      return Invalid(where + ".r",
                     std::to_string(ns.r) + " must be between 1 and n = " + std::to_string(ns.n));
    }
    if (ns.w < 1 || ns.w > ns.n) {
      return Invalid(where + ".w",
                     std::to_string(ns.w) + " must be between 1 and n = " + std::to_string(ns.n));
    }
  }
  if (Status s = ValidateAdmin(); !s.ok()) return s;
  return ValidateNumbers();
}

Status ServerConfig::ValidateAdmin() const {
  if (admin_port > 65535) {
    return Invalid("admin.port", std::to_string(admin_port) + " is not a port (0..65535)");
  }
  if (admin_port == 0) return Status::Ok();
  auto hp = ParseHostPort(AdminAddress(), "admin.host");
  if (!hp.ok()) return hp.status();
  if (AdminAddress() == ListenAddress()) {
    return Invalid("admin.port", "is the port the node listens on; give the admin port its own");
  }
  return Status::Ok();
}

std::string ServerConfig::AdminAddress() const {
  if (admin_port == 0) return "";
  const bool ipv6 = admin_host.find(':') != std::string::npos;
  return (ipv6 ? "[" + admin_host + "]" : admin_host) + ":" + std::to_string(admin_port);
}

Status ServerConfig::ValidateNumbers() const {
  for (const UintTable& table : kUintTables) {
    for (const UintSetting& s : table.settings) {
      if (this->*s.field >= s.min) continue;
      return Invalid(Path(table.name, s.key),
                     s.min == 1 ? "must be positive" : "must be >= " + std::to_string(s.min));
    }
  }
  if (aae_enabled > 1) return Invalid("aae.enabled", "must be 0 (off) or 1 (on)");
  if (hint_backoff_max_ms < hint_delivery_interval_ms) {
    return Invalid("limits.hint_backoff_max_ms", "must be >= limits.hint_delivery_interval_ms");
  }
  if (max_readers > (1u << 16)) {
    return Invalid("storage.max_readers", std::to_string(max_readers) + " is above 65536");
  }
  if (map_size_max_mb < map_size_mb) {
    return Invalid("storage.map_size_max_mb", "must be >= storage.map_size_mb");
  }
  if (siblings_warn > siblings_max) {
    return Invalid("storage.siblings_warn",
                   std::to_string(siblings_warn) +
                       " must be at most storage.siblings_max = " + std::to_string(siblings_max));
  }
  if (object_bytes_warn > object_bytes_max) {
    return Invalid("storage.object_bytes_warn", std::to_string(object_bytes_warn) +
                                                    " must be at most storage.object_bytes_max = " +
                                                    std::to_string(object_bytes_max));
  }
  if (object_bytes_max > kObjectBytesMaxLimit) {
    return Invalid("storage.object_bytes_max",
                   std::to_string(object_bytes_max) + " must be between 1 and " +
                       std::to_string(kObjectBytesMaxLimit) +
                       " (a key's whole state must fit one frame, wire/frame.h)");
  }
  return Status::Ok();
}

std::vector<SettingDescription> DescribeSettings() {
  const ServerConfig defaults;
  const ServerNamespace ns;
  auto quoted = [](std::string_view v) { return "\"" + std::string(v) + "\""; };
  std::vector<SettingDescription> out = {
      {"node_id", "(required)"},
      {"listen", "(this node's member address)"},
      {"data_dir", "(required)"},
      {"partitions", std::to_string(defaults.partitions)},
      {"log_level", quoted(defaults.log_level)},
      {"insecure", defaults.insecure ? "true" : "false"},
      {"tls.ca_file", "(none: TLS off)"},
      {"tls.cert_file", "(none: TLS off)"},
      {"tls.key_file", "(none: TLS off)"},
      {"members[].id", "(required)"},
      {"members[].address", "(required)"},
      {"namespaces[].name", "(required)"},
      {"namespaces[].n", std::to_string(ns.options.n)},
      {"namespaces[].r", std::to_string(ns.options.r)},
      {"namespaces[].w", std::to_string(ns.options.w)},
      {"namespaces[].ttl_ms", std::to_string(ns.options.ttl_ms)},
      {"namespaces[].merge", quoted(MergeSemanticsName(ns.merge))},
      {"namespaces[].durability", quoted(DurabilityName(ns.durability))},
  };
  for (const UintTable& table : kUintTables) {
    for (const UintSetting& s : table.settings) {
      out.push_back({Path(table.name, s.key), std::to_string(defaults.*s.field)});
    }
  }
  out.push_back({"admin.host", quoted(defaults.admin_host)});
  out.push_back({"admin.port", std::to_string(defaults.admin_port)});
  return out;
}

Result<ServerConfig> ParseServerConfig(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status::InvalidArgument(out.str());
  }
  ServerConfig config;
  if (Status s = ReadTable(root, config); !s.ok()) {
    return Status::InvalidArgument(std::string(origin) + ": " + s.message());
  }
  return config;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseServerConfig(text.str(), path);
}

Status ApplyMemberFlag(ServerConfig& config, std::string_view flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Invalid("--member", "'" + std::string(flag) + "' is not id=host:port");
  }
  config.members.emplace_back(std::string(flag.substr(0, eq)), std::string(flag.substr(eq + 1)));
  return Status::Ok();
}

Status ApplyNamespaceFlag(ServerConfig& config, std::string_view flag) {
  const std::string field = "--namespace " + std::string(flag);
  const size_t colon = flag.find(':');
  ServerNamespace ns;
  ns.options.name = std::string(flag.substr(0, colon));
  std::string_view rest = colon == std::string_view::npos ? "" : flag.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return Invalid(field, "'" + std::string(item) + "' is not key=value");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    auto number = [&](auto& out) -> Status {
      auto v = ParseUintText(value, field + ": " + std::string(key));
      if (!v.ok()) return v.status();
      if (*v > std::numeric_limits<std::remove_reference_t<decltype(out)>>::max()) {
        return Invalid(field, std::string(key) + " is out of range");
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
      return Status::Ok();
    };
    Status s;
    if (key == "n")
      s = number(ns.options.n);
    else if (key == "r")
      s = number(ns.options.r);
    else if (key == "w")
      s = number(ns.options.w);
    else if (key == "ttl_ms")
      s = number(ns.options.ttl_ms);
    else if (key == "merge") {
      auto m = ParseMergeSemantics(value);
      if (!m.ok()) return Invalid(field, m.status().message());
      ns.merge = *m;
    } else if (key == "durability") {
      auto d = ParseDurability(value);
      if (!d.ok()) return Invalid(field, d.status().message());
      ns.durability = *d;
    } else {
      return Invalid(field, "unknown setting '" + std::string(key) +
                                "' (accepted: n, r, w, ttl_ms, merge, durability)");
    }
    if (!s.ok()) return s;
  }
  config.namespaces.push_back(std::move(ns));
  return Status::Ok();
}

}  // namespace trolley
