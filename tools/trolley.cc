// trolley: the command-line client of a Trolley cluster.
//
//   trolley [--node host:port[,host:port...]] [--json] kv get NS KEY [--r R]
//   trolley ... kv put NS KEY VALUE [--context TOKEN] [--w W] [--ttl-ms T] [--write-id ID]
//   trolley ... kv delete NS KEY [--context TOKEN] [--w W]
//   trolley ... ring
//   trolley ... status
//   trolley ... aae
//   trolley ... cart get NS CART
//   trolley ... cart add NS CART SKU [N] [--attr k=v]... [--id MUTATION_ID]
//   trolley ... cart set NS CART SKU QTY [--context TOKEN] [--id ID]
//   trolley ... cart remove NS CART SKU [--context TOKEN] [--id ID]
//   trolley ... cart clear NS CART [--context TOKEN] [--id ID]
//   trolley ... cart checkout NS CART ORDER_ID [--context TOKEN]
//   trolley ... cart merge GUEST_NS GUEST_CART USER_NS USER_CART [--strategy sum|max|keep-user]
//   trolley admin backup DIR [--admin host:port] [--wait-s S]
//
// `admin` commands talk HTTP to one node's admin listener (its admin.host
// and admin.port), not to the cluster: `admin backup` has that node write a
// hot, compacted copy of its data into DIR, an absolute path on the node's
// host that must not exist or be empty (docs/operations.md, 'Backup and
// restore').
//
// --node lists seeds, tried in order until one answers (default: the
// TROLLEY_NODES environment variable, else 127.0.0.1:7101). Nodes with TLS
// on need --ca, --cert and --key (or TROLLEY_TLS_CA, TROLLEY_TLS_CERT,
// TROLLEY_TLS_KEY): the cluster CA and a client
// certificate, whose role (read or write) the nodes enforce
// (docs/operations.md, 'TLS and authentication'). Cart commands
// route each request to the key's coordinator themselves (client/client.h).
// Cart commands resolve siblings with the namespace's semantics as the
// cluster reports them (union-max or or-set); a mutation given the same
// --id twice is applied once.
//
// A read prints every sibling and a context token; pass the token back with
// --context to write "after" what was read (omit it and the write is
// concurrent with everything stored: a new sibling). Output is for people
// by default and JSON with --json. Exit status: 0 done, 1 key not found,
// 2 the request failed (the message says why and what to try), 3 (status
// only) every node was asked but some did not answer: the cluster is
// degraded, the table shows which (docs/operations.md, 'Status').
// Raw (kv) and cart commands must not share a namespace: a cart read of a
// raw value fails with Corruption, "not a cart".
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

#include "client/cart_client.h"
#include "client/node_connection.h"
#include "common/clock.h"
#include "common/hex.h"
#include "node/node_metrics.h"
#include "tools/admin_client.h"

namespace {

using namespace trolley;
using json = nlohmann::json;

constexpr const char* kNodesVariable = "TROLLEY_NODES";
constexpr const char* kDefaultNode = "127.0.0.1:7101";

struct Globals {
  std::string node_list;           // --node as given: host:port,host:port,...
  std::vector<std::string> seeds;  // node_list split, in order
  uint32_t timeout_ms = 5000;
  bool json = false;
  TlsFiles tls;  // all empty: plain TCP
};

// --ca/--cert/--key, defaulting to TROLLEY_TLS_CA/_CERT/_KEY.
void AddTlsOptions(CLI::App& app, Globals& g) {
  for (auto [flag, variable, field, what] :
       {std::tuple{"--ca", "TROLLEY_TLS_CA", &TlsFiles::ca_file, "the cluster CA (PEM)"},
        std::tuple{"--cert", "TROLLEY_TLS_CERT", &TlsFiles::cert_file,
                   "this client's certificate (PEM; its role: trolley:client:read or write)"},
        std::tuple{"--key", "TROLLEY_TLS_KEY", &TlsFiles::key_file, "its private key (PEM)"}}) {
    const char* from_env = std::getenv(variable);
    if (from_env != nullptr) g.tls.*field = from_env;
    app.add_option(flag, g.tls.*field,
                   std::string(what) + " for nodes with TLS on (default: $" + variable + ")");
  }
}

constexpr int kExitOk = 0, kExitNotFound = 1, kExitFailed = 2, kExitDegraded = 3;

// The opaque token a read hands out (client/client.h Context).
std::string ContextToken(const VersionVector& context) { return Context(context).Token(); }

Result<VersionVector> ParseContextToken(const std::string& token) {
  auto context = Context::FromToken(token);
  if (!context.ok()) {
    return Status::InvalidArgument("--context: not a token printed by 'trolley kv get' (" +
                                   context.status().message() + ")");
  }
  return context->version();
}

bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

int Fail(const Globals& g, const Status& status) {
  if (g.json) {
    std::cout << json{{"ok", false},
                      {"error", std::string(StatusCodeName(status.code()))},
                      {"message", status.message()}}
                     .dump()
              << "\n";
  } else {
    std::fprintf(stderr, "trolley: %s\n", status.ToString().c_str());
    if (status.message().find("TLS handshake") != std::string::npos) {
      std::fprintf(stderr,
                   "hint: the node answered but the TLS handshake failed: check that it runs "
                   "with TLS on, and that --ca/--cert/--key (or TROLLEY_TLS_CA/_CERT/_KEY) are "
                   "the cluster's CA and a client certificate that CA signed\n");
    } else if (status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kTimeout) {
      std::fprintf(stderr,
                   "hint: check that the node named above is running, or list more nodes: "
                   "--node host:port,host:port (or %s; seeds now: %s); a write needs W "
                   "replicas reachable%s\n",
                   kNodesVariable, g.node_list.c_str(),
                   g.tls.ca_file.empty() ? "; a node with TLS on closes a plain connection: "
                                           "give --ca/--cert/--key (or TROLLEY_TLS_CA/_CERT/_KEY)"
                                         : "");
    }
  }
  return kExitFailed;
}

// Splits --node ("a:1,b:2"); an error for an empty list or entry.
Result<std::vector<std::string>> ParseSeeds(const std::string& list) {
  std::vector<std::string> seeds;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string seed = list.substr(start, comma == std::string::npos ? comma : comma - start);
    if (seed.empty()) {
      return Status::InvalidArgument("--node '" + list +
                                     "': expected host:port, or several separated by commas");
    }
    seeds.push_back(std::move(seed));
    if (comma == std::string::npos) return seeds;
    start = comma + 1;
  }
}

// `why` with `address` in front unless it already names it.
std::string Naming(const std::string& address, const Status& why) {
  const std::string& m = why.message();
  return m.find(address) != std::string::npos ? m : address + ": " + m;
}

// One request to the first seed that accepts a connection (a request sent
// is not repeated elsewhere: a put is not doubled).
Result<Message> Call(const Globals& g, Message request) {
  const auto timeout = std::chrono::milliseconds(g.timeout_ms);
  std::string failures;
  StatusCode code = StatusCode::kUnavailable;
  for (const std::string& seed : g.seeds) {
    auto conn = NodeConnection::Connect(seed, timeout, g.tls);
    if (conn.ok()) return (*conn)->Call(std::move(request), timeout);
    failures += (failures.empty() ? "" : "; ") + Naming(seed, conn.status());
    code = conn.status().code();
  }
  if (g.seeds.size() == 1) return Status(code, failures);
  return Status::Unavailable("no node of --node answered: " + failures);
}

json SiblingsJson(const SiblingSet& state, uint64_t now_ms) {
  json siblings = json::array();
  for (const Sibling& s : state.siblings()) {
    if (s.ExpiredAt(now_ms)) continue;
    json j{{"tombstone", s.tombstone},
           {"timestamp_ms", s.timestamp_ms},
           {"expiry_ms", s.expiry_ms},
           {"write_id", s.write_id}};
    if (Printable(s.value))
      j["value"] = s.value;
    else
      j["value_hex"] = Hex(s.value);
    siblings.push_back(std::move(j));
  }
  return siblings;
}

void PrintState(const Globals& g, const std::string& what, const SiblingSet& state) {
  const uint64_t now_ms = SystemClock().NowWallMs();
  if (g.json) {
    std::cout << json{{"ok", true},
                      {"siblings", SiblingsJson(state, now_ms)},
                      {"context", ContextToken(state.context())}}
                     .dump()
              << "\n";
    return;
  }
  size_t n = 0;
  for (const Sibling& s : state.siblings()) n += s.ExpiredAt(now_ms) ? 0 : 1;
  std::printf("%s: %zu sibling%s\n", what.c_str(), n, n == 1 ? "" : "s");
  for (const Sibling& s : state.siblings()) {
    if (s.ExpiredAt(now_ms)) continue;
    std::string shown = s.tombstone          ? "(deleted)"
                        : Printable(s.value) ? "\"" + s.value + "\""
                                             : "0x" + Hex(s.value);
    std::printf("  %s", shown.c_str());
    if (s.expiry_ms != 0) {
      std::printf("  (expires in %llus)",
                  static_cast<unsigned long long>((s.expiry_ms - now_ms) / 1000));
    }
    std::printf("\n");
  }
  std::printf("context: %s\n", ContextToken(state.context()).c_str());
}

int KvGet(const Globals& g, const std::string& ns, const std::string& key, uint32_t r) {
  auto reply = Call(g, ClientGet{.ns = ns, .key = key, .r = r});
  if (!reply.ok()) return Fail(g, reply.status());
  const auto* m = std::get_if<ClientGetReply>(&*reply);
  if (m == nullptr)
    return Fail(g, Status::Corruption("unexpected reply " + std::string(MessageName(*reply))));
  if (m->code == StatusCode::kNotFound) {
    if (g.json)
      std::cout << json{{"ok", true}, {"found", false}}.dump() << "\n";
    else
      std::printf("%s/%s: not found\n", ns.c_str(), key.c_str());
    return kExitNotFound;
  }
  if (m->code != StatusCode::kOk) return Fail(g, Status(m->code, m->message));
  PrintState(g, ns + "/" + key, m->state);
  return kExitOk;
}

int KvPut(const Globals& g, ClientPut put, const std::string& token) {
  auto context = ParseContextToken(token);
  if (!context.ok()) return Fail(g, context.status());
  put.context = std::move(*context);
  const std::string what = put.ns + "/" + put.key + (put.tombstone ? " deleted" : " written");
  auto reply = Call(g, std::move(put));
  if (!reply.ok()) return Fail(g, reply.status());
  const auto* m = std::get_if<ClientPutReply>(&*reply);
  if (m == nullptr)
    return Fail(g, Status::Corruption("unexpected reply " + std::string(MessageName(*reply))));
  if (m->code != StatusCode::kOk) return Fail(g, Status(m->code, m->message));
  PrintState(g, what, m->state);
  return kExitOk;
}

// `admin backup`: POST /admin/backup with the directory; the node answers
// once the copy is done.
int AdminBackup(const Globals& g, const std::string& admin, const std::string& dir,
                uint32_t wait_s) {
  auto reply = AdminCall(admin, "POST", "/admin/backup", dir, std::chrono::seconds(wait_s));
  if (!reply.ok()) return Fail(g, reply.status());
  if (reply->status != 200) {
    return Fail(g, Status::FailedPrecondition("node " + admin + " answered " +
                                              std::to_string(reply->status) + ": " + reply->body));
  }
  if (g.json) {
    std::cout << json{{"ok", true}, {"dir", dir}, {"message", reply->body}}.dump() << "\n";
  } else {
    std::cout << reply->body;
  }
  return kExitOk;
}

// What the `admin` subcommands read from the command line.
struct AdminOptions {
  std::string address = "127.0.0.1:9101";  // --admin
  std::string backup_dir;
  uint32_t wait_s = 3600;
};

// `trolley admin ...`: its options go to `o`, its exit status to `result`.
void AddAdminCommands(CLI::App& app, const Globals& g, AdminOptions& o, int& result) {
  CLI::App* admin = app.add_subcommand("admin", "one node's admin listener (admin.port)");
  admin->require_subcommand(1);
  admin->add_option("--admin", o.address, "host:port of the node's admin listener")
      ->capture_default_str();
  CLI::App* backup = admin->add_subcommand(
      "backup", "a hot, compacted copy of the node's data into DIR (on the node's host)");
  backup->add_option("dir", o.backup_dir, "absolute path; must not exist or be empty")->required();
  backup->add_option("--wait-s", o.wait_s, "give up waiting for the copy after this long")
      ->capture_default_str();
  backup->callback(
      [&g, &o, &result] { result = AdminBackup(g, o.address, o.backup_dir, o.wait_s); });
}

int Ring(const Globals& g) {
  auto reply = Call(g, RingInfoRequest{});
  if (!reply.ok()) return Fail(g, reply.status());
  const auto* m = std::get_if<RingInfoReply>(&*reply);
  if (m == nullptr)
    return Fail(g, Status::Corruption("unexpected reply " + std::string(MessageName(*reply))));
  std::map<std::string, size_t> owned;
  for (const std::string& o : m->owners) ++owned[o];
  if (g.json) {
    json members = json::array();
    for (const auto& [id, address] : m->members) {
      members.push_back({{"id", id}, {"address", address}, {"partitions", owned[id]}});
    }
    std::cout << json{{"ok", true},
                      {"partitions", m->owners.size()},
                      {"members", members},
                      {"owners", m->owners}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::printf("%zu partitions, %zu members\n", m->owners.size(), m->members.size());
  for (const auto& [id, address] : m->members) {
    std::printf("  %-12s %-24s %zu partitions\n", id.c_str(), address.c_str(), owned[id]);
  }
  return kExitOk;
}

std::unique_ptr<BlockingCartClient> Carts(const Globals& g, Status* error) {
  ClientOptions o;
  o.seeds = g.seeds;
  o.timeout = std::chrono::milliseconds(g.timeout_ms);
  o.tls = g.tls;
  auto c = BlockingCartClient::Create(o);
  if (!c.ok()) {
    *error = c.status();
    return nullptr;
  }
  return std::move(*c);
}

json LinesJson(const std::vector<CartLine>& lines) {
  json out = json::array();
  for (const CartLine& l : lines) {
    out.push_back({{"sku", l.sku}, {"quantity", l.quantity}, {"attributes", l.attributes}});
  }
  return out;
}

void PrintLines(const std::vector<CartLine>& lines) {
  for (const CartLine& l : lines) {
    std::printf("  %-24s x%u", l.sku.c_str(), l.quantity);
    for (const auto& [k, val] : l.attributes) std::printf("  %s=%s", k.c_str(), val.c_str());
    std::printf("\n");
  }
}

int PrintCart(const Globals& g, const Result<CartView>& r) {
  if (!r.ok()) return Fail(g, r.status());
  const CartView& v = *r;
  if (g.json) {
    json lines = LinesJson(v.lines);
    json out{{"ok", true},     {"cart", v.ns + "/" + v.cart_id},       {"found", v.found},
             {"lines", lines}, {"siblings_merged", v.siblings_merged}, {"expiry_ms", v.expiry_ms}};
    if (v.merged_into) out["merged_into"] = *v.merged_into;
    out["context"] = v.context;
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  uint64_t items = 0;
  for (const CartLine& l : v.lines) items += l.quantity;
  std::printf("%s/%s: %zu line%s, %llu item%s", v.ns.c_str(), v.cart_id.c_str(), v.lines.size(),
              v.lines.size() == 1 ? "" : "s", static_cast<unsigned long long>(items),
              items == 1 ? "" : "s");
  if (v.siblings_merged > 1) std::printf(" (merged %zu concurrent versions)", v.siblings_merged);
  if (v.expiry_ms != 0) {
    const uint64_t now = SystemClock().NowWallMs();
    std::printf(", expires in %llus", static_cast<unsigned long long>(
                                          v.expiry_ms > now ? (v.expiry_ms - now) / 1000 : 0));
  }
  std::printf("\n");
  if (v.merged_into) std::printf("  merged into %s at login\n", v.merged_into->c_str());
  PrintLines(v.lines);
  std::printf("context: %s\n", v.context.c_str());
  return kExitOk;
}

// One member's StatusReply, or why there is none.
struct MemberStatus {
  std::string id, address;
  std::optional<StatusReply> reply;
  std::string why;  // when there is no reply
};
int PrintCheckout(const Globals& g, const std::string& order_id, const Result<CheckoutResult>& r) {
  if (!r.ok()) return Fail(g, r.status());
  if (g.json) {
    json out{{"ok", true}, {"order", order_id}, {"bought", LinesJson(r->lines)}};
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::printf("order %s: bought %zu line%s\n", order_id.c_str(), r->lines.size(),
              r->lines.size() == 1 ? "" : "s");
  PrintLines(r->lines);
  std::printf("left in the cart: ");
  return PrintCart(g, r->cart);
}

constexpr const char* kViewContextHelp =
    "token of the view you acted on (printed by every cart command): remove exactly what it "
    "showed; without it the cart is read first";

// Asks the --node for the members, then every member for its status.
Result<std::vector<MemberStatus>> AskEveryMember(const Globals& g) {
  auto ring = Call(g, RingInfoRequest{});
  if (!ring.ok()) return ring.status();
  const auto* info = std::get_if<RingInfoReply>(&*ring);
  if (info == nullptr)
    return Status::Corruption("unexpected reply " + std::string(MessageName(*ring)));
  std::vector<MemberStatus> out;
  for (const auto& [id, address] : info->members) {
    Globals one = g;
    one.node_list = address;
    one.seeds = {address};
    auto reply = Call(one, StatusRequest{});
    const auto* st = reply.ok() ? std::get_if<StatusReply>(&*reply) : nullptr;
    MemberStatus m{id, address, std::nullopt, ""};
    if (st != nullptr && st->code == StatusCode::kOk) {
      m.reply = *st;
    } else {
      m.why = !reply.ok()     ? reply.status().ToString()
              : st == nullptr ? "unexpected reply"
                              : st->message;
    }
    out.push_back(std::move(m));
  }
  return out;
}

// Prints a member that did not answer; false.
bool ReportDown(const Globals& g, const MemberStatus& m, json& nodes) {
  if (g.json) {
    nodes.push_back({{"id", m.id}, {"address", m.address}, {"up", false}, {"error", m.why}});
  } else {
    std::printf("%-10s %-22s %-5s  (%s)\n", m.id.c_str(), m.address.c_str(), "DOWN", m.why.c_str());
  }
  return false;
}

int ClusterStatus(const Globals& g) {
  auto members = AskEveryMember(g);
  if (!members.ok()) return Fail(g, members.status());
  json nodes = json::array();
  if (!g.json) {
    std::printf("%-10s %-22s %-5s %6s %6s %8s %10s %10s  %s\n", "node", "address", "state", "owns",
                "holds", "hints", "puts ok", "gets ok", "sees down");
  }
  bool all_up = true;
  std::string counter_lines;  // every counter of every node, after the table
  for (const MemberStatus& m : *members) {
    if (!m.reply) {
      all_up = ReportDown(g, m, nodes) && all_up;
      continue;
    }
    const std::string& id = m.id;
    const std::string& address = m.address;
    const StatusReply* st = &*m.reply;
    std::string down;
    json counters = json::object();
    std::string counter_line;
    for (const NamedValue& counter : st->counters) {
      counters[counter.name] = counter.value;
      counter_line += " " + counter.name + "=" + std::to_string(counter.value);
    }
    counter_lines += id + ":" + counter_line + "\n";
    json peers = json::array();
    for (const PeerStatus& p : st->peers) {
      if (!p.up) down += (down.empty() ? "" : ",") + p.node_id;
      peers.push_back({{"id", p.node_id}, {"up", p.up}, {"hints_pending", p.hints_pending}});
    }
    if (g.json) {
      nodes.push_back({{"id", id},
                       {"address", address},
                       {"up", true},
                       {"incarnation", st->incarnation},
                       {"partitions", st->partitions},
                       {"partitions_owned", st->partitions_owned},
                       {"partitions_replicated", st->partitions_replicated},
                       {"hints_pending", st->hints_pending},
                       {"hints_oldest_ms", st->hints_oldest_ms},
                       {"pending_requests", st->pending_requests},
                       {"peers", peers},
                       {"counters", counters}});
    } else {
      std::printf("%-10s %-22s %-5s %6u %6u %8llu %10llu %10llu  %s\n", id.c_str(), address.c_str(),
                  "up", st->partitions_owned, st->partitions_replicated,
                  static_cast<unsigned long long>(st->hints_pending),
                  static_cast<unsigned long long>(FindValue(st->counters, metric::kPutsOk)),
                  static_cast<unsigned long long>(FindValue(st->counters, metric::kGetsOk)),
                  down.empty() ? "-" : down.c_str());
    }
  }
  if (g.json) {
    std::cout << json{{"ok", true}, {"nodes", nodes}}.dump() << "\n";
  } else {
    std::printf(
        "(owns: ring partitions it is first owner of; holds: ring partitions it "
        "replicates; hints: writes held for nodes that were down)\n");
    std::printf("counters since each node started:\n%s", counter_lines.c_str());
  }
  return all_up ? kExitOk : kExitDegraded;
}

// The node-wide anti-entropy counters `trolley aae` shows, with their column titles.
constexpr std::pair<std::string_view, const char*> kAaeColumns[] = {
    {metric::kAaeExchanges, "exchanges"},    {metric::kAaeExchangesClean, "clean"},
    {metric::kAaeExchangesFailed, "failed"}, {metric::kAaeSegmentsDiffering, "segments"},
    {metric::kAaeKeysRepaired, "repaired"},  {metric::kAaeKeysRehashed, "rehashed"},
    {metric::kAaeTreeRebuilds, "rebuilds"},  {metric::kAaeTreeIndexFixed, "fixed"}};

// "never", or how long before `now_ms` the wall time `ms` was ("12.3s ago").
std::string AgeText(uint64_t ms, uint64_t now_ms) {
  if (ms == 0) return "never";
  char out[32];
  std::snprintf(out, sizeof out, "%.1fs ago",
                static_cast<double>(now_ms > ms ? now_ms - ms : 0) / 1000.0);
  return out;
}

json AaePairsJson(const StatusReply& st) {
  json pairs = json::array();
  for (const AaePairStatus& p : st.aae_pairs) {
    pairs.push_back({{"partition", p.partition},
                     {"peer", p.peer},
                     {"last_exchange_ms", p.last_exchange_ms},
                     {"last_clean_exchange_ms", p.last_clean_exchange_ms},
                     {"exchanges", p.exchanges},
                     {"differing_segments", p.differing_segments},
                     {"keys_repaired", p.keys_repaired}});
  }
  return pairs;
}

// The per-(partition, peer) table of every node that answered.
void PrintAaePairs(const std::vector<MemberStatus>& members) {
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  std::printf("\nper partition and peer (ages by this host's clock):\n");
  std::printf("%-10s %9s %-10s %-14s %-14s %9s %9s %9s\n", "node", "partition", "peer",
              "last exchange", "last clean", "exchanges", "differing", "repaired");
  for (const MemberStatus& m : members) {
    if (!m.reply) continue;
    for (const AaePairStatus& p : m.reply->aae_pairs) {
      std::printf("%-10s %9u %-10s %-14s %-14s %9llu %9llu %9llu\n", m.id.c_str(), p.partition,
                  p.peer.c_str(), AgeText(p.last_exchange_ms, now_ms).c_str(),
                  AgeText(p.last_clean_exchange_ms, now_ms).c_str(),
                  static_cast<unsigned long long>(p.exchanges),
                  static_cast<unsigned long long>(p.differing_segments),
                  static_cast<unsigned long long>(p.keys_repaired));
    }
    if (m.reply->aae_pairs.size() < m.reply->aae_pairs_total) {
      std::printf("%-10s (%zu of %u pairs shown)\n", m.id.c_str(), m.reply->aae_pairs.size(),
                  m.reply->aae_pairs_total);
    }
  }
  std::printf(
      "(differing: tree segments the last exchange with that peer found differing; repaired: "
      "keys repaired by merge over every exchange; a last exchange newer than the last clean "
      "one did not finish clean)\n");
}

// Every node's anti-entropy counters, then its state per partition and peer
// (docs/design.md, 'Active anti-entropy').
int AaeStatus(const Globals& g) {
  auto members = AskEveryMember(g);
  if (!members.ok()) return Fail(g, members.status());
  json nodes = json::array();
  if (!g.json) {
    std::printf("%-10s %-5s", "node", "state");
    for (const auto& [name, title] : kAaeColumns) std::printf(" %9s", title);
    std::printf("\n");
  }
  bool all_up = true;
  for (const MemberStatus& m : *members) {
    if (!m.reply) {
      all_up = ReportDown(g, m, nodes) && all_up;
      continue;
    }
    json counters = json::object();
    for (const auto& [name, title] : kAaeColumns) {
      counters[std::string(name)] = FindValue(m.reply->counters, name);
    }
    counters[std::string(metric::kAaeTreeRebuiltKeys)] =
        FindValue(m.reply->counters, metric::kAaeTreeRebuiltKeys);
    if (g.json) {
      nodes.push_back({{"id", m.id},
                       {"address", m.address},
                       {"up", true},
                       {"aae", counters},
                       {"pairs", AaePairsJson(*m.reply)},
                       {"pairs_total", m.reply->aae_pairs_total}});
      continue;
    }
    std::printf("%-10s %-5s", m.id.c_str(), "up");
    for (const auto& [name, title] : kAaeColumns) {
      std::printf(" %9llu", static_cast<unsigned long long>(FindValue(m.reply->counters, name)));
    }
    std::printf("\n");
  }
  if (g.json) {
    std::cout << json{{"ok", true}, {"nodes", nodes}}.dump() << "\n";
    return all_up ? kExitOk : kExitDegraded;
  }
  std::printf(
      "(since each node started: exchanges it ran, clean ones (every difference repaired), "
      "failed ones; tree segments found differing; keys repaired by merge; drifted keys "
      "re-hashed; hash trees rebuilt from the per-key index (one per open of a store; the tree "
      "is per store, not per partition); index entries a verify sweep fixed)\n");
  PrintAaePairs(*members);
  return all_up ? kExitOk : kExitDegraded;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trolley: command-line client of a Trolley cluster"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand: trolley ring --node ...
  Globals g;
  const char* nodes_from_env = std::getenv(kNodesVariable);
  g.node_list =
      nodes_from_env != nullptr && *nodes_from_env != '\0' ? nodes_from_env : kDefaultNode;
  app.add_option("--node", g.node_list,
                 "host:port of nodes of the cluster, comma-separated: tried in order until one "
                 "answers (default: $TROLLEY_NODES, else " +
                     std::string(kDefaultNode) + ")")
      ->capture_default_str();
  app.add_option("--timeout-ms", g.timeout_ms, "give up after this long")->capture_default_str();
  app.add_flag("--json", g.json, "print JSON instead of text");
  AddTlsOptions(app, g);

  std::string ns, key, value, token;
  uint32_t r = 0, w = 0;
  uint64_t ttl_ms = 0, write_id = 0;
  int result = kExitOk;

  CLI::App* kv = app.add_subcommand("kv", "read and write raw values");
  kv->require_subcommand(1);
  CLI::App* get = kv->add_subcommand("get", "read a key: every sibling and the context token");
  get->add_option("ns", ns, "namespace")->required();
  get->add_option("key", key, "key")->required();
  get->add_option("--r", r, "replicas to wait for (default: the namespace's R)");
  get->callback([&] { result = KvGet(g, ns, key, r); });

  CLI::App* put = kv->add_subcommand("put", "write a value");
  put->add_option("ns", ns, "namespace")->required();
  put->add_option("key", key, "key")->required();
  put->add_option("value", value, "value")->required();
  put->add_option("--context", token, "token from a read: this write replaces what it saw");
  put->add_option("--w", w, "replicas to wait for (default: the namespace's W)");
  put->add_option("--ttl-ms", ttl_ms, "expiry (default: the namespace's TTL)");
  put->add_option("--write-id", write_id,
                  "id of this logical write: a retry with it is applied once");
  put->callback([&] {
    result = KvPut(
        g,
        ClientPut{
            .ns = ns, .key = key, .value = value, .write_id = write_id, .w = w, .ttl_ms = ttl_ms},
        token);
  });

  CLI::App* del = kv->add_subcommand("delete", "delete a key (a tombstone that replicates)");
  del->add_option("ns", ns, "namespace")->required();
  del->add_option("key", key, "key")->required();
  del->add_option("--context", token, "token from a read: delete what it saw");
  del->add_option("--w", w, "replicas to wait for (default: the namespace's W)");
  del->callback([&] {
    result = KvPut(g, ClientPut{.ns = ns, .key = key, .tombstone = true, .w = w}, token);
  });

  app.add_subcommand("ring", "partitions and members")->callback([&] { result = Ring(g); });
  app.add_subcommand("status",
                     "every node: up or down, partitions, hints pending, counters; exits 3 "
                     "when a node did not answer")
      ->callback([&] { result = ClusterStatus(g); });
  app.add_subcommand("aae",
                     "every node's anti-entropy counters (exchanges, segments found differing, "
                     "keys repaired, tree rebuilds), then its state per partition and peer (last "
                     "exchange, last clean one, differing segments, keys repaired); exits 3 when "
                     "a node did not answer")
      ->callback([&] { result = AaeStatus(g); });

  CLI::App* cart = app.add_subcommand("cart", "shopping carts (siblings merged for you)");
  cart->require_subcommand(1);
  std::string sku, guest_ns, guest_id, strategy = "sum", view_token, order_id;
  uint32_t quantity = 1;
  uint64_t mutation_id = 0;
  std::vector<std::string> attrs;
  Status cart_error;
  auto with_carts = [&](auto body) {
    auto carts = Carts(g, &cart_error);
    if (!carts) {
      result = Fail(g, cart_error);
      return;
    }
    result = PrintCart(g, body(*carts));
  };
  auto cart_args = [&](CLI::App* c) {
    c->add_option("ns", ns, "cart namespace")->required();
    c->add_option("cart", key, "cart id (e.g. a user or guest id)")->required();
  };
  CLI::App* cget = cart->add_subcommand("get", "show a cart");
  cart_args(cget);
  cget->callback([&] { with_carts([&](BlockingCartClient& c) { return c.Get(ns, key); }); });

  CLI::App* cadd = cart->add_subcommand("add", "add N of a SKU");
  cart_args(cadd);
  cadd->add_option("sku", sku, "product")->required();
  cadd->add_option("n", quantity, "how many (default 1)");
  cadd->add_option("--attr", attrs, "line attribute key=value (e.g. size=M), repeatable");
  cadd->add_option("--id", mutation_id, "mutation id: the same id twice is applied once");
  cadd->callback([&] {
    std::map<std::string, std::string> attributes;
    for (const std::string& a : attrs) {
      const size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        result = Fail(g, Status::InvalidArgument("--attr '" + a + "': expected key=value"));
        return;
      }
      attributes[a.substr(0, eq)] = a.substr(eq + 1);
    }
    with_carts([&](BlockingCartClient& c) {
      return c.Add(ns, key, sku, quantity, attributes, mutation_id);
    });
  });

  CLI::App* cset = cart->add_subcommand("set", "set the quantity of a SKU (0 removes it)");
  cart_args(cset);
  cset->add_option("sku", sku, "product")->required();
  cset->add_option("quantity", quantity, "new quantity")->required();
  cset->add_option("--id", mutation_id, "mutation id: the same id twice is applied once");
  cset->add_option("--context", view_token, kViewContextHelp);
  cset->callback([&] {
    with_carts([&](BlockingCartClient& c) {
      return c.SetQuantity(ns, key, sku, quantity, mutation_id, view_token);
    });
  });

  CLI::App* cremove = cart->add_subcommand("remove", "remove a SKU's line");
  cart_args(cremove);
  cremove->add_option("sku", sku, "product")->required();
  cremove->add_option("--id", mutation_id, "mutation id: the same id twice is applied once");
  cremove->add_option("--context", view_token, kViewContextHelp);
  cremove->callback([&] {
    with_carts(
        [&](BlockingCartClient& c) { return c.Remove(ns, key, sku, mutation_id, view_token); });
  });

  CLI::App* cclear = cart->add_subcommand("clear", "remove every line");
  cart_args(cclear);
  cclear->add_option("--id", mutation_id, "mutation id: the same id twice is applied once");
  cclear->add_option("--context", view_token, kViewContextHelp);
  cclear->callback([&] {
    with_carts([&](BlockingCartClient& c) { return c.Clear(ns, key, mutation_id, view_token); });
  });

  CLI::App* ccheckout = cart->add_subcommand(
      "checkout", "buy the lines a view showed (or-set): they leave the cart, the rest stays");
  cart_args(ccheckout);
  ccheckout->add_option("order", order_id, "order id: a retry with the same id buys nothing more")
      ->required();
  ccheckout->add_option("--context", view_token, kViewContextHelp);
  ccheckout->callback([&] {
    auto carts = Carts(g, &cart_error);
    if (!carts) {
      result = Fail(g, cart_error);
      return;
    }
    result = PrintCheckout(g, order_id, carts->Checkout(ns, key, order_id, view_token));
  });

  CLI::App* cmerge = cart->add_subcommand("merge", "merge a guest cart into a user cart (login)");
  cmerge->add_option("guest_ns", guest_ns, "guest cart namespace")->required();
  cmerge->add_option("guest_cart", guest_id, "guest cart id")->required();
  cmerge->add_option("user_ns", ns, "user cart namespace")->required();
  cmerge->add_option("user_cart", key, "user cart id")->required();
  cmerge->add_option("--strategy", strategy, "sum | max | keep-user")->capture_default_str();
  cmerge->callback([&] {
    GuestMergeStrategy s;
    if (strategy == "sum")
      s = GuestMergeStrategy::kSum;
    else if (strategy == "max")
      s = GuestMergeStrategy::kMax;
    else if (strategy == "keep-user")
      s = GuestMergeStrategy::kKeepUser;
    else {
      result = Fail(
          g, Status::InvalidArgument("--strategy '" + strategy + "': use sum, max or keep-user"));
      return;
    }
    with_carts([&](BlockingCartClient& c) { return c.MergeGuest(guest_ns, guest_id, ns, key, s); });
  });

  AdminOptions admin_options;
  AddAdminCommands(app, g, admin_options, result);

  // The seeds must be known before a subcommand's callback runs.
  app.parse_complete_callback([&] {
    auto seeds = ParseSeeds(g.node_list);
    if (!seeds.ok()) throw CLI::ValidationError("--node", seeds.status().message());
    g.seeds = std::move(*seeds);
  });
  CLI11_PARSE(app, argc, argv);
  return result;
}
