// NodeConnection: one blocking connection to one trolleyd node, speaking the
// wire protocol (wire/). For tools, tests and benchmarks that need exactly
// one node; cart services use the client library, which routes, pools and
// retries on top of connections like this one.
//
// Connect() opens TCP (and TLS when `tls` names a CA: the node's
// certificate must be a node certificate of that CA, and this side shows
// tls.cert_file if given), sends Hello and checks the node's HelloReply
// (protocol version; with TLS, the node its certificate names). Call() stamps the request with a
// fresh RequestId, sends it and waits for the reply carrying that id; replies to earlier, timed-out
// calls are skipped. Every wait is bounded by a timeout: a node that does not answer gives
// kTimeout, a refused or broken connection kUnavailable, a reply that does not decode kCorruption.
// After any error except a node's ErrorReply, the connection is closed and every later call fails;
// open a new one. Threading: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "wire/messages.h"
#include "wire/tls_files.h"

namespace trolley {

class NodeConnection {
 public:
  // `address` is host:port.
  static Result<std::unique_ptr<NodeConnection>> Connect(const std::string& address,
                                                         std::chrono::milliseconds timeout,
                                                         const TlsFiles& tls = {});
  ~NodeConnection();
  NodeConnection(const NodeConnection&) = delete;
  NodeConnection& operator=(const NodeConnection&) = delete;

  // `request` is a ClientGet, ClientPut, RingInfoRequest, StatusRequest or
  // ReplicaGet; its id is overwritten. An ErrorReply from the node comes
  // back as a Status with the node's code and message.
  Result<Message> Call(Message request, std::chrono::milliseconds timeout);

  // The node id from the handshake.
  const std::string& node_id() const { return node_id_; }
  const std::string& address() const { return address_; }
  bool is_open() const;

 private:
  struct Impl;
  explicit NodeConnection(std::unique_ptr<Impl> impl, std::string address);
  std::unique_ptr<Impl> impl_;
  std::string address_;
  std::string node_id_;
};

}  // namespace trolley
