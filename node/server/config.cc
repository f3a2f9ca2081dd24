#include "node/server/config.h"

#include <charconv>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "ring/node_id.h"
#include "ring/ring.h"

namespace trolley {
namespace {

Status Invalid(std::string_view field, const std::string& what) {
  return Status::InvalidArgument(std::string(field) + ": " + what);
}

// Refuses keys nobody reads, so that a typo is an error, not a silent default.
Status CheckKnownKeys(const toml::table& table, std::string_view where,
                      std::initializer_list<std::string_view> known) {
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

#define TROLLEY_RETURN_IF_ERROR(expr)      \
  do {                                     \
    Status status_ = (expr);               \
    if (!status_.ok()) return status_;     \
  } while (false)

Status ReadNamespace(const toml::table& t, const std::string& where, ServerNamespace& ns) {
  TROLLEY_RETURN_IF_ERROR(
      CheckKnownKeys(t, where, {"name", "n", "r", "w", "ttl_ms", "merge", "durability"}));
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

Status ReadTable(const toml::table& root, ServerConfig& c) {
  TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(root, "", {"node_id", "listen", "data_dir", "partitions",
                                                    "log_level", "members", "namespaces",
                                                    "limits", "storage"}));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "node_id", c.node_id));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "listen", c.listen));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "data_dir", c.data_dir));
  TROLLEY_RETURN_IF_ERROR(ReadUint(root, "", "partitions", c.partitions));
  TROLLEY_RETURN_IF_ERROR(ReadString(root, "", "log_level", c.log_level));

  if (const toml::node* members = root.get("members")) {
    const toml::array* array = members->as_array();
    if (array == nullptr) return Invalid("members", "must be an array of tables ([[members]])");
    for (size_t i = 0; i < array->size(); ++i) {
      const std::string where = "members[" + std::to_string(i) + "]";
      const toml::table* t = array->get(i)->as_table();
      if (t == nullptr) return Invalid(where, "must be a table with id and address");
      TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(*t, where, {"id", "address"}));
      std::string id, address;
      TROLLEY_RETURN_IF_ERROR(ReadString(*t, where, "id", id));
      TROLLEY_RETURN_IF_ERROR(ReadString(*t, where, "address", address));
      c.members.emplace_back(id, address);
    }
  }
  if (const toml::node* namespaces = root.get("namespaces")) {
    const toml::array* array = namespaces->as_array();
    if (array == nullptr) return Invalid("namespaces", "must be an array of tables ([[namespaces]])");
    for (size_t i = 0; i < array->size(); ++i) {
      const std::string where = "namespaces[" + std::to_string(i) + "]";
      const toml::table* t = array->get(i)->as_table();
      if (t == nullptr) return Invalid(where, "must be a table");
      ServerNamespace ns;
      TROLLEY_RETURN_IF_ERROR(ReadNamespace(*t, where, ns));
      c.namespaces.push_back(std::move(ns));
    }
  }
  if (const toml::node* node = root.get("limits")) {
    const toml::table* t = node->as_table();
    if (t == nullptr) return Invalid("limits", "must be a table ([limits])");
    TROLLEY_RETURN_IF_ERROR(CheckKnownKeys(
        *t, "limits",
        {"request_timeout_ms", "replica_timeout_ms", "idle_frame_timeout_ms", "connections_max",
         "output_bytes_max", "hints_max", "hint_age_max_ms"}));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "request_timeout_ms", c.request_timeout_ms));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "replica_timeout_ms", c.replica_timeout_ms));
    TROLLEY_RETURN_IF_ERROR(
        ReadUint(*t, "limits", "idle_frame_timeout_ms", c.idle_frame_timeout_ms));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "connections_max", c.connections_max));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "output_bytes_max", c.output_bytes_max));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "hints_max", c.hints_max));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "limits", "hint_age_max_ms", c.hint_age_max_ms));
  }
  if (const toml::node* node = root.get("storage")) {
    const toml::table* t = node->as_table();
    if (t == nullptr) return Invalid("storage", "must be a table ([storage])");
    TROLLEY_RETURN_IF_ERROR(
        CheckKnownKeys(*t, "storage", {"flush_interval_ms", "map_size_mb", "map_size_max_mb"}));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "storage", "flush_interval_ms", c.flush_interval_ms));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "storage", "map_size_mb", c.map_size_mb));
    TROLLEY_RETURN_IF_ERROR(ReadUint(*t, "storage", "map_size_max_mb", c.map_size_max_mb));
  }
  return Status::Ok();
}

Result<uint64_t> ParseUintText(std::string_view text, std::string_view field) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Invalid(field, "'" + std::string(text) + "' is not a non-negative integer");
  }
  return v;
}

}  // namespace

std::string_view MergeSemanticsName(MergeSemantics m) {
  return m == MergeSemantics::kOrSet ? "or-set" : "union-max";
}

Result<MergeSemantics> ParseMergeSemantics(std::string_view name) {
  if (name == "union-max") return MergeSemantics::kUnionMax;
  if (name == "or-set") return MergeSemantics::kOrSet;
  return Status::InvalidArgument("unknown merge semantics '" + std::string(name) +
                                 "' (accepted: union-max, or-set)");
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
    if (auto hp = ParseHostPort(address, where + ".address"); !hp.ok()) return hp.status();
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
      return Invalid(where + ".r", std::to_string(ns.r) + " must be between 1 and n = " +
                                       std::to_string(ns.n));
    }
    if (ns.w < 1 || ns.w > ns.n) {
      return Invalid(where + ".w", std::to_string(ns.w) + " must be between 1 and n = " +
                                       std::to_string(ns.n));
    }
  }
  if (request_timeout_ms == 0) return Invalid("limits.request_timeout_ms", "must be positive");
  if (replica_timeout_ms == 0) return Invalid("limits.replica_timeout_ms", "must be positive");
  if (idle_frame_timeout_ms == 0) {
    return Invalid("limits.idle_frame_timeout_ms", "must be positive");
  }
  if (connections_max == 0) return Invalid("limits.connections_max", "must be positive");
  if (output_bytes_max < (1u << 20)) return Invalid("limits.output_bytes_max", "must be >= 1 MiB");
  if (flush_interval_ms == 0) return Invalid("storage.flush_interval_ms", "must be positive");
  if (map_size_mb == 0 || map_size_max_mb < map_size_mb) {
    return Invalid("storage.map_size_max_mb", "must be >= storage.map_size_mb > 0");
  }
  return Status::Ok();
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
    if (eq == std::string_view::npos) return Invalid(field, "'" + std::string(item) + "' is not key=value");
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
    if (key == "n") s = number(ns.options.n);
    else if (key == "r") s = number(ns.options.r);
    else if (key == "w") s = number(ns.options.w);
    else if (key == "ttl_ms") s = number(ns.options.ttl_ms);
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
