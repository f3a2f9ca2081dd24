// Inbound connections: accepted, read as frames by a FramedConnection
// (wire/asio/framed_connection.h), admitted by the handshake rules
// (wire/handshake.h), delivered to the node. See docs/design.md, 'The
// runtime: trolleyd', and server.h for the limits.
#include <spdlog/spdlog.h>

#include "node/server/server_impl.h"
#include "wire/message_codec.h"

namespace trolley {

using tcp = asio::ip::tcp;

void Server::Impl::StartAccept() {
  acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {
      // EMFILE and the like: wait a little instead of spinning.
      spdlog::warn("accept.failed error={}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) {
        if (!stopping) StartAccept();
      });
      return;
    }
    OnAccept(std::move(socket));
    StartAccept();
  });
}

void Server::Impl::OnAccept(tcp::socket socket) {
  if (inbound.size() >= config.connections_max) {
    spdlog::warn("connection.refused reason=connections_max limit={}", config.connections_max);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  auto owned = std::make_unique<Inbound>();
  Inbound* c = owned.get();
  c->id = ++last_connection_id;
  FramedConnectionOptions options;
  options.idle_frame_timeout = std::chrono::milliseconds(config.idle_frame_timeout_ms);
  options.first_frame_description = "Hello";
  FramedConnectionCallbacks callbacks;
  // Every read that completes in one poll shares the engines' cork.
  callbacks.on_read = [this] { CorkTurn(); };
  callbacks.on_frame = [this, c](std::string frame) { OnInboundFrame(*c, std::move(frame)); };
  // Oversized frames and the idle-frame timeout; the connection closes
  // itself once the ErrorReply is written.
  callbacks.on_bad_input = [this, c](const Status& why) {
    LogRefusal(*c, why);
    (void)SendInbound(*c, RefusalReply(RequestId{}, why));
  };
  callbacks.on_close = [this, id = c->id](const Status& why) {
    auto it = inbound.find(id);
    // With TLS, a connection that ends before its Hello is most often one
    // the handshake refused (no certificate, another CA): say so.
    if (it != inbound.end() && tls != nullptr && !it->second->state.hello_done) {
      LogRefusal(*it->second, why);
    }
    inbound.erase(id);
  };
  c->connection = std::make_shared<TcpOrTlsConnection>(
      tls == nullptr ? TcpOrTlsStream(std::move(socket)) : TcpOrTlsStream(std::move(socket), *tls),
      std::move(options), std::move(callbacks));
  inbound[c->id] = std::move(owned);
  c->connection->Start();
}

void Server::Impl::OnInboundFrame(Inbound& c, std::string frame) {
  auto decoded = DecodeMessage(frame);
  if (!decoded.ok()) {
    return Refuse(c, RefusalReply(RequestId{}, decoded.status()), decoded.status());
  }
  if (!c.state.hello_done) {
    if (Status s = IdentifyInbound(c); !s.ok()) return Refuse(c, RefusalReply(RequestId{}, s), s);
  }
  Admission admission = policy->Admit(c.state, *decoded);
  switch (admission.kind) {
    case Admission::Kind::kAnswer:
      if (c.state.identity.kind != PeerIdentity::Kind::kUnauthenticated) {
        spdlog::debug("connection.authenticated id={} identity=\"{}\"", c.id,
                      c.state.identity.Describe());
      }
      (void)SendInbound(c, admission.reply);
      return;
    case Admission::Kind::kRefuse:
      return Refuse(c, admission.reply, admission.refusal);
    case Admission::Kind::kReject:
      spdlog::info("request.refused id={} identity=\"{}\" reason=\"{}\"", c.id,
                   c.state.identity.Describe(), admission.refusal.message());
      (void)SendInbound(c, admission.reply);
      return;
    case Admission::Kind::kDeliver:
      break;
  }
  if (c.state.is_peer()) {
    node->OnMessage(Endpoint{c.state.peer, 0}, std::move(*decoded));
  } else {
    node->OnMessage(Endpoint{"", c.id}, std::move(*decoded));
  }
}

Status Server::Impl::IdentifyInbound(Inbound& c) {
  auto identity = PeerIdentityOf(c.connection->stream().tls_handle());
  if (!identity.ok()) return identity.status();
  c.state.identity = std::move(*identity);
  return Status::Ok();
}

void Server::Impl::LogRefusal(const Inbound& c, const Status& why) {
  spdlog::warn("connection.refused id={} peer={} identity=\"{}\" remote={} reason=\"{}\"", c.id,
               c.state.is_peer() ? c.state.peer : "-", c.state.identity.Describe(),
               c.connection->RemoteAddress(), why.message());
}

void Server::Impl::Refuse(Inbound& c, const Message& reply, const Status& why) {
  LogRefusal(c, why);
  if (SendInbound(c, reply)) c.connection->CloseAfterFlush(why);
}

bool Server::Impl::SendInbound(Inbound& c, const Message& m) {
  if (Status s = c.connection->SendMessage(m); !s.ok()) {
    spdlog::error("reply.too_large connection={} type={} error=\"{}\"", c.id, MessageName(m),
                  s.message());
    (void)c.connection->SendMessage(ErrorReply{RequestIdOf(m), s.code(), s.message()});
  }
  if (c.connection->queued_bytes() > config.output_bytes_max) {
    spdlog::warn("connection.closed id={} reason=\"{} bytes of replies unread (limit {})\"", c.id,
                 c.connection->queued_bytes(), config.output_bytes_max);
    CloseInbound(c);
    return false;
  }
  return true;
}

void Server::Impl::CloseInbound(Inbound& c) {
  c.connection->Close();
  inbound.erase(c.id);  // the connection's pending handlers hold it until they run
}

}  // namespace trolley
