// FramedConnection: one buffered connection that carries length-prefixed
// frames (wire/frame.h) over an Asio byte stream. The one implementation of
// connection I/O for trolleyd's inbound connections and peer links
// (node/server/) and for the client library (client/); see docs/design.md,
// 'The runtime: trolleyd'.
//
// Stream: a template parameter, the byte stream the frames travel on:
// TcpOrTlsStream (tcp_or_tls_stream.h; TCP or TLS chosen at run time, the
// alias TcpOrTlsConnection, what trolleyd and the client use),
// asio::ip::tcp::socket (TcpFramedConnection) or asio::ssl::stream. The
// class uses async_read_some, async_write (free function), lowest_layer()
// (connect, TCP_NODELAY, close), get_executor() and, when the stream has
// one, async_handshake(): Start() runs the server side of the handshake,
// Connect() the client side, before any frame is read or written. The
// definitions are in framed_connection_impl.h; framed_connection.cc
// instantiates the two aliases.
//
// Who drives it: the owner creates it around a stream, then calls Start()
// (an accepted stream) or Connect() (a dial). It reads continuously and
// hands every whole frame to on_frame, in order. Send*() append frames to
// a write queue; the first Send of a loop turn posts one flush to the end
// of the turn, so everything queued during one turn (every handler that
// ran in the same poll) goes out in one write, and frames queued while a
// write is in flight go out together in the next. That is the cork per
// loop turn trolleyd relied on before this class existed.
//
// Threading: one io_context thread; not thread-safe. Handlers keep the
// object alive (shared_from_this); callbacks may capture raw pointers to the
// owner as long as the owner calls Close() before it goes away.
//
// Invariants:
//  1. An incoming frame above options.frame_bytes_max is refused as soon as
//     its 4-byte length is read, before anything is allocated for it
//     (FrameDecoder, invariant 1). A refusal (that, a partial-frame timeout,
//     or BadInput() from the owner) stops reading, calls on_bad_input(why)
//     (which may queue a last frame, e.g. an ErrorReply), then closes once
//     the queue is written.
//  2. While a partial frame is buffered (or, with
//     options.first_frame_description set, until the first frame), a
//     stream that delivers no byte for options.idle_frame_timeout is
//     refused with kTimeout. The timer is armed only while waiting, so a
//     connection whose reads end on frame boundaries arms none.
//  3. on_close(why) runs exactly once, when the connection closes for any
//     reason except the owner's Close(): end of stream, an I/O error, or
//     the end of a CloseAfterFlush()/refusal. After Close() or on_close no
//     callback runs again.
//  4. At most one write is in flight; bytes go out in the order queued.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "wire/asio/ssl.h"
#include "wire/asio/tcp_or_tls_stream.h"
#include "wire/frame.h"
#include "wire/messages.h"

namespace trolley {

struct FramedConnectionOptions {
  // Incoming frames above this are refused; outgoing messages above it are
  // not queued (SendMessage returns LimitExceeded). Both sides of a Trolley
  // connection use kFrameBytesMax.
  uint32_t frame_bytes_max = kFrameBytesMax;
  size_t read_chunk_bytes = 64 * 1024;
  // Invariant 2; zero turns the timeout off.
  std::chrono::milliseconds idle_frame_timeout{0};
  // Non-empty: waiting for the first frame counts as waiting (invariant 2),
  // and its timeout reads "no <first_frame_description> within N ms".
  std::string first_frame_description;
};

struct FramedConnectionCallbacks {
  // Called once per completed read, before its frames (trolleyd corks its
  // storage engines here). Optional.
  std::function<void()> on_read;
  // One whole frame's payload. May call any method, including Close().
  std::function<void(std::string frame)> on_frame;
  // A refusal (invariant 1); may queue a last frame. Optional.
  std::function<void(const Status& why)> on_bad_input;
  // Invariant 3. Optional.
  std::function<void(const Status& why)> on_close;
};

template <typename Stream>
class FramedConnection : public std::enable_shared_from_this<FramedConnection<Stream>> {
 public:
  FramedConnection(Stream stream, FramedConnectionOptions options,
                   FramedConnectionCallbacks callbacks);
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // For an accepted stream: sets TCP_NODELAY, runs the server side of the
  // handshake (if the stream has one; a failure closes with on_close), then
  // starts reading and lets the frames queued so far go out.
  void Start();
  // Dials `endpoint` on the stream's lowest layer and runs the client side
  // of the handshake. done(Ok) once connected and secured; done(Unavailable)
  // and the connection closed (on_close is not called) if the dial or the
  // handshake fails. Frames may be queued before: they go out once
  // secured and done(Ok) has returned, so done may check the other end's
  // certificate (stream()) and Close() before anything is sent. done is
  // not called after Close().
  void Connect(const asio::ip::tcp::endpoint& endpoint, std::function<void(Status)> done);

  // Encodes `message` as one frame onto the write queue. LimitExceeded
  // (nothing queued) when it exceeds options.frame_bytes_max. Does nothing
  // once closing or closed.
  Status SendMessage(const Message& message);
  // Queues one frame holding `payload` (asserts it fits frame_bytes_max).
  void SendFrame(std::string_view payload);

  // Refuses the input (invariant 1): stops reading, on_bad_input(why),
  // close after the queue is written.
  void BadInput(const Status& why);
  // Stops reading, writes what is queued (and nothing queued later), then
  // closes and calls on_close(why).
  void CloseAfterFlush(const Status& why);
  // Closes now; queued bytes are dropped and no callback runs again.
  void Close();

  bool is_open() const { return !closed_; }
  // Accepting frames to send: open and not closing.
  bool is_sending() const { return !closed_ && !closing_; }
  // Bytes queued and not yet written (including the write in flight).
  size_t queued_bytes() const { return out_.size() + writing_.size(); }
  // Socket writes started so far (each carries every frame queued before it).
  uint64_t writes_started() const { return writes_started_; }
  Stream& stream() { return stream_; }
  // "address:port" of the other end, "?" if unknown; still known after
  // Close() once Start() or a successful dial ran.
  std::string RemoteAddress() const;

 private:
  // Start() and Connect(): TLS handshake in `role` if the stream has one,
  // then StartStreaming().
  void Begin(asio::ssl::stream_base::handshake_type role);
  void OnHandshake(boost::system::error_code ec);
  // Once secured: completes a pending Connect(), then reads and writes.
  void StartStreaming();
  void StartRead();
  void OnRead(boost::system::error_code ec, size_t n);
  void DeliverFrames();
  void ScheduleFlush();
  void StartWrite();
  void OnWritten(boost::system::error_code ec);
  bool WaitingForBytes() const;
  void ArmIdleTimerIfWaiting();
  void OnIdleTimer();
  // Closes and reports on_close(why) (invariant 3).
  void Finish(const Status& why);

  Stream stream_;
  FramedConnectionOptions options_;
  FramedConnectionCallbacks callbacks_;
  FrameDecoder decoder_;
  std::vector<char> chunk_;
  std::string out_;      // queued, not yet handed to a write
  std::string writing_;  // the write in flight
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_read_;
  uint64_t frames_received_ = 0;
  uint64_t writes_started_ = 0;
  Status closing_reason_;
  std::string remote_address_;                // set when started: "" until then
  std::function<void(Status)> connect_done_;  // Connect()'s, until secured
  bool started_ = false;
  bool handshaking_ = false;
  bool writing_now_ = false;
  bool flush_posted_ = false;
  bool idle_timer_armed_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

using TcpFramedConnection = FramedConnection<asio::ip::tcp::socket>;
extern template class FramedConnection<asio::ip::tcp::socket>;
using TcpOrTlsConnection = FramedConnection<TcpOrTlsStream>;
extern template class FramedConnection<TcpOrTlsStream>;

}  // namespace trolley
