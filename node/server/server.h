// Server: one trolleyd process. The Node core (node/node.h) on Boost.Asio,
// Cap'n Proto frames (wire/) and LMDB (storage/lmdb/).
//
// Threads: one event-loop thread runs the io_context, and with it every
// call into the Node; each LmdbEngine adds a writer thread (and in flush
// mode a flusher thread) whose completions are posted back to the loop.
//
// Connections: each one a FramedConnection (wire/asio/framed_connection.h);
// the Hello rules below are wire/handshake.h's InboundPolicy. The code is
// split by role: server.cc, inbound.cc, peer_link.h, housekeeping.cc
// (server_impl.h lists them). See docs/design.md, 'The runtime: trolleyd'.
//   - inbound: every connection opens with Hello. A Hello with a node id
//     makes it a peer's link (the id must be a configured member); an
//     empty one makes it a client's. Clients may send ClientGet, ClientPut,
//     RingInfoRequest, StatusRequest, Ping and ReplicaGet (a read of this
//     node's own copy, for operators and tests); anything else, a protocol
//     version other than kProtocolVersion, an oversized or undecodable
//     frame, or a partial frame idle for idle_frame_timeout_ms gets an
//     ErrorReply where possible and the connection is closed. Nothing a
//     connection sends affects any other connection.
//   - outbound: one link per peer, dialled on first use, carrying all of
//     this node's messages to that peer (so each pair of nodes uses two
//     connections, one per direction). A refused or broken link tells the
//     Node (OnPeerUnreachable) and drops what was queued; the Node relies
//     on timeouts, never on delivery. Redials back off 50 ms .. 1 s.
// Batching: messages sent during one handler are appended to the
// connection's buffer and written together once the handler returns. All
// frames read in one event-loop turn (every read that completed in the
// same poll) are handled under one Engine cork, so their writes share one
// LMDB commit per engine.
// Durability: one LmdbEngine per durability mode in use (data_dir/sync,
// data_dir/flush, data_dir/none), routed by namespace; a replica acks a
// write only after its engine called back, i.e. once durable in that mode.
// Shutdown (Stop(), SIGTERM, SIGINT): stop accepting, give requests in
// flight up to shutdown_grace_ms to finish, close every connection, then
// close the engines, which sync and mark a clean shutdown.
#pragma once

#include <cstdint>
#include <memory>

#include "common/status.h"
#include "node/server/config.h"

namespace trolley {

class Server {
 public:
  // Opens the storage, builds the ring and the node, binds the listener.
  // Errors name what failed (a config field, the data dir, the address).
  static Result<std::unique_ptr<Server>> Create(ServerConfig config);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until Stop() or, with handle_signals, SIGTERM or SIGINT; returns
  // after the clean shutdown described above.
  void Run(bool handle_signals);
  // Thread-safe: asks Run() to shut down and return.
  void Stop();
  // The port bound (useful with port 0).
  uint16_t port() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trolley
