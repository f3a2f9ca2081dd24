// ServerConfig's checks (node/server/config.h): every field of a parsed or
// flag-built config is validated here before a node starts with it.
#include <set>
#include <string>

#include "node/server/config.h"
#include "node/server/config_settings.h"
#include "ring/node_id.h"
#include "ring/ring.h"

namespace trolley {
namespace {

using config_settings::Invalid;
using config_settings::kObjectBytesMaxLimit;
using config_settings::kTlsSettings;
using config_settings::kUintTables;
using config_settings::Path;
using config_settings::TlsSetting;
using config_settings::UintSetting;
using config_settings::UintTable;

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

}  // namespace

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

}  // namespace trolley
