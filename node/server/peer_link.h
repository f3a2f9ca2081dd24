// PeerLink: this node's outbound link to one peer, on a FramedConnection
// (wire/asio/framed_connection.h); see docs/design.md, 'The runtime:
// trolleyd'.
//
// Dialled on first use; with TLS (a context given) the handshake comes
// first and the peer's certificate must be a node certificate of the
// cluster CA. It opens with a Hello carrying this node's id, and the
// peer's HelloReply must name the member dialled and, with TLS, the node
// its certificate names (CheckHelloReply, wire/handshake.h). It carries all of this node's messages
// to that peer; the peer answers on its own link to us, so what arrives here is mostly the
// HelloReply (anything else is delivered like a peer's message). A refused or broken link drops
// what was queued, reports on_unreachable, and is not redialled before a backoff of 50 ms doubling
// to 1 s (reset by a successful dial); messages sent meanwhile are dropped: the node relies on its
// timeouts, never on delivery. Threading: the server's event-loop thread. Close() before
// destruction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/asio.h"
#include "wire/asio/framed_connection.h"
#include "wire/handshake.h"
#include "wire/messages.h"

namespace trolley {

struct PeerLinkCallbacks {
  // A message the peer sent on this link (other than the HelloReply).
  std::function<void(const std::string& peer, Message)> on_message;
  // After a failed dial or a lost link.
  std::function<void(const std::string& peer)> on_unreachable;
};

class PeerLink {
 public:
  // `tls`: this node's context (wire/asio/tls.h), or null for plain TCP;
  // it must outlive the link.
  PeerLink(asio::io_context& io, std::string self_node_id, std::string peer,
           asio::ip::tcp::endpoint address, size_t output_bytes_max, asio::ssl::context* tls,
           PeerLinkCallbacks callbacks);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Queues `message`, dialling first if the link is idle and not backing
  // off. Dropped (and counted) when backing off or when more than
  // output_bytes_max bytes are already queued.
  void Send(const Message& message);
  // Closes the link; no callback runs afterwards (until the next Send).
  void Close();
  // No connection, up or being dialled.
  bool idle() const { return state_ == State::kIdle; }

 private:
  enum class State { kIdle, kConnecting, kUp };
  void Dial();
  void Connected(Status connected);
  void OnFrame(std::string frame);
  void Failed(const std::string& why);

  asio::io_context& io_;
  const std::string self_node_id_;
  const std::string peer_;
  const asio::ip::tcp::endpoint address_;
  const size_t output_bytes_max_;
  asio::ssl::context* const tls_;
  PeerLinkCallbacks callbacks_;
  std::shared_ptr<TcpOrTlsConnection> connection_;  // null when idle
  PeerIdentity identity_;                           // what the peer's certificate proved
  State state_ = State::kIdle;
  std::chrono::steady_clock::time_point retry_at_{};
  uint64_t backoff_ms_;
  uint64_t dropped_ = 0;
};

}  // namespace trolley
