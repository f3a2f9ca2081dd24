#include "node/server/peer_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "wire/asio/tls.h"
#include "wire/handshake.h"
#include "wire/message_codec.h"

namespace trolley {
namespace {

constexpr uint64_t kRedialBackoffMinMs = 50;
constexpr uint64_t kRedialBackoffMaxMs = 1000;
// Replies come back on the peer's own link, so little arrives here.
constexpr size_t kReadChunkBytes = 16 * 1024;

}  // namespace

PeerLink::PeerLink(asio::io_context& io, std::string self_node_id, std::string peer,
                   asio::ip::tcp::endpoint address, size_t output_bytes_max,
                   asio::ssl::context* tls, PeerLinkCallbacks callbacks)
    : io_(io),
      self_node_id_(std::move(self_node_id)),
      peer_(std::move(peer)),
      address_(std::move(address)),
      output_bytes_max_(output_bytes_max),
      tls_(tls),
      callbacks_(std::move(callbacks)),
      backoff_ms_(kRedialBackoffMinMs) {}

PeerLink::~PeerLink() { Close(); }

void PeerLink::Send(const Message& message) {
  if (state_ == State::kIdle) {
    // Recently failed: the node's timeouts take over.
    if (std::chrono::steady_clock::now() < retry_at_) return;
    Dial();
  }
  if (connection_->queued_bytes() > output_bytes_max_) {
    if (dropped_++ % 1000 == 0) {
      spdlog::warn("peer.queue_full node={} dropped={} limit_bytes={}", peer_, dropped_,
                   output_bytes_max_);
    }
    return;
  }
  if (Status s = connection_->SendMessage(message); !s.ok()) {
    spdlog::error("peer.message_too_large node={} type={} error=\"{}\"", peer_,
                  MessageName(message), s.message());
  }
}

void PeerLink::Close() {
  if (connection_ != nullptr) connection_->Close();
  connection_.reset();
  state_ = State::kIdle;
}

void PeerLink::Dial() {
  state_ = State::kConnecting;
  FramedConnectionOptions options;
  options.read_chunk_bytes = kReadChunkBytes;
  FramedConnectionCallbacks callbacks;
  callbacks.on_frame = [this](std::string frame) { OnFrame(std::move(frame)); };
  callbacks.on_close = [this](const Status& why) { Failed(why.message()); };
  asio::ip::tcp::socket socket(io_);
  connection_ = std::make_shared<TcpOrTlsConnection>(tls_ == nullptr
                                                         ? TcpOrTlsStream(std::move(socket))
                                                         : TcpOrTlsStream(std::move(socket), *tls_),
                                                     std::move(options), std::move(callbacks));
  (void)connection_->SendMessage(Hello{kProtocolVersion, self_node_id_});
  connection_->Connect(address_, [this](Status connected) { Connected(std::move(connected)); });
}

void PeerLink::Connected(Status connected) {
  if (!connected.ok()) return Failed(connected.message());
  // Before anything queued goes out: the peer proved to be the member dialled.
  auto identity = DialledNodeIdentity(connection_->stream().tls_handle(), peer_);
  if (!identity.ok()) return Failed(identity.status().message());
  identity_ = std::move(*identity);
  state_ = State::kUp;
  backoff_ms_ = kRedialBackoffMinMs;
  spdlog::info("peer.connected node={} tls={}", peer_, tls_ != nullptr ? "on" : "off");
}

void PeerLink::OnFrame(std::string frame) {
  auto m = DecodeMessage(frame);
  if (!m.ok()) return Failed("bad input: " + m.status().message());
  if (const HelloReply* r = std::get_if<HelloReply>(&*m)) {
    if (Status s = CheckHelloReply(*r, peer_, identity_); !s.ok()) Failed(s.message());
    return;
  }
  if (const ErrorReply* e = std::get_if<ErrorReply>(&*m)) {
    spdlog::error("peer.refused_us node={} reason=\"{}\"", peer_, e->message);
    return;
  }
  callbacks_.on_message(peer_, std::move(*m));
}

void PeerLink::Failed(const std::string& why) {
  if (state_ == State::kIdle) return;
  const bool was_up = state_ == State::kUp;
  Close();
  retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms_);
  backoff_ms_ = std::min(backoff_ms_ * 2, kRedialBackoffMaxMs);
  if (was_up) {
    spdlog::warn("peer.lost node={} reason=\"{}\"", peer_, why);
  } else {
    spdlog::debug("peer.unreachable node={} reason=\"{}\"", peer_, why);
  }
  callbacks_.on_unreachable(peer_);
}

}  // namespace trolley
