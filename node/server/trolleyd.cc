// trolleyd: one Trolley storage node. See node/server/server.h for what it
// does and node/server/config.h for its configuration.
//
// Exit codes: 0 after a clean shutdown (SIGTERM, SIGINT) or a successful
// --check-config / --list-settings; 2 when the config is refused or the node
// cannot start (the message names the setting or the path).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "node/server/config.h"
#include "node/server/server.h"

namespace {

using namespace trolley;

int Fail(const Status& status) {
  std::fprintf(stderr, "trolleyd: %s\n", status.ToString().c_str());
  return 2;
}

// The command line: the config file and what overrides it.
struct Flags {
  std::string config_path, node_id, listen, data_dir, log_level, tls_ca, tls_cert, tls_key;
  std::vector<std::string> members, namespaces;
  bool check_config = false, list_settings = false, insecure = false;
  int64_t admin_port = -1;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("-c,--config", f.config_path, "TOML config file (see docs/trolleyd.example.toml)");
  app.add_option("--node-id", f.node_id, "this node's id; overrides node_id");
  app.add_option("--listen", f.listen, "host:port to listen on; overrides listen");
  app.add_option("--data-dir", f.data_dir, "where this node keeps its data; overrides data_dir");
  app.add_option("--log-level", f.log_level, "debug | info | warn | error; overrides log_level");
  app.add_option("--admin-port", f.admin_port,
                 "port of the admin HTTP listener (/metrics, /healthz, /readyz, backups) on "
                 "admin.host; 0 = off; overrides admin.port");
  app.add_option("--tls-ca", f.tls_ca, "cluster CA certificate (PEM); overrides tls.ca_file");
  app.add_option("--tls-cert", f.tls_cert,
                 "this node's certificate (PEM, URI trolley:node:<id>); overrides tls.cert_file");
  app.add_option("--tls-key", f.tls_key, "its private key (PEM); overrides tls.key_file");
  app.add_flag("--insecure", f.insecure,
               "serve without TLS even on a non-loopback address; sets insecure = true");
  app.add_option("--member", f.members,
                 "id=host:port of a cluster member, repeat for each; replaces [[members]]");
  app.add_option("--namespace", f.namespaces,
                 "name:n=3,r=2,w=2,ttl_ms=0,merge=union-max,durability=sync; repeat for each; "
                 "replaces [[namespaces]]");
  app.add_flag("--check-config", f.check_config,
               "validate the config (file and flags) and exit: 0 and 'config ok', or 2 and the "
               "error; opens nothing");
  app.add_flag("--list-settings", f.list_settings,
               "print every setting the config file accepts, with its default, and exit");
}

// The config file (if any) with the flags applied over it, validated.
Result<ServerConfig> ConfigOf(const Flags& f) {
  ServerConfig config;
  if (!f.config_path.empty()) {
    auto loaded = LoadServerConfig(f.config_path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  if (!f.node_id.empty()) config.node_id = f.node_id;
  if (!f.listen.empty()) config.listen = f.listen;
  if (!f.data_dir.empty()) config.data_dir = f.data_dir;
  if (!f.log_level.empty()) config.log_level = f.log_level;
  if (f.admin_port >= 0) config.admin_port = static_cast<uint64_t>(f.admin_port);
  if (!f.tls_ca.empty()) config.tls_ca_file = f.tls_ca;
  if (!f.tls_cert.empty()) config.tls_cert_file = f.tls_cert;
  if (!f.tls_key.empty()) config.tls_key_file = f.tls_key;
  if (f.insecure) config.insecure = true;
  if (!f.members.empty()) {
    config.members.clear();
    for (const std::string& m : f.members) {
      if (Status s = ApplyMemberFlag(config, m); !s.ok()) return s;
    }
  }
  if (!f.namespaces.empty()) {
    config.namespaces.clear();
    for (const std::string& n : f.namespaces) {
      if (Status s = ApplyNamespaceFlag(config, n); !s.ok()) return s;
    }
  }
  if (Status s = config.Validate(); !s.ok()) {
    return Status::InvalidArgument((f.config_path.empty() ? std::string("config") : f.config_path) +
                                   ": " + s.message());
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trolleyd: a Trolley storage node (replicated, always-writable cart store)"};
  Flags flags;
  AddFlags(app, flags);
  CLI11_PARSE(app, argc, argv);

  if (flags.list_settings) {
    for (const SettingDescription& s : DescribeSettings()) {
      std::printf("%s\t%s\n", s.name.c_str(), s.default_value.c_str());
    }
    return 0;
  }

  Result<ServerConfig> config = ConfigOf(flags);
  if (!config.ok()) return Fail(config.status());
  if (flags.check_config) {
    std::printf("config ok: node %s listens on %s, %zu members, %zu namespaces\n",
                config->node_id.c_str(), config->ListenAddress().c_str(), config->members.size(),
                config->namespaces.size());
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("trolleyd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + config->node_id + " %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::flush_on(spdlog::level::info);

  auto server = Server::Create(std::move(config).value());
  if (!server.ok()) return Fail(server.status());
  (*server)->Run(/*handle_signals=*/true);
  return 0;
}
