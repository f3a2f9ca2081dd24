// The definitions of FramedConnection<Stream> (framed_connection.h). Include
// this only where a new Stream type is instantiated (framed_connection.cc
// for tcp::socket); everyone else includes framed_connection.h.
#pragma once

#include <utility>

#include "common/assert.h"
#include "wire/asio/framed_connection.h"
#include "wire/asio/ssl.h"
#include "wire/message_codec.h"

namespace trolley {

template <typename Stream>
FramedConnection<Stream>::FramedConnection(Stream stream, FramedConnectionOptions options,
                                           FramedConnectionCallbacks callbacks)
    : stream_(std::move(stream)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      decoder_(options_.frame_bytes_max),
      chunk_(options_.read_chunk_bytes),
      idle_timer_(stream_.get_executor()),
      last_read_(std::chrono::steady_clock::now()) {
  TROLLEY_ASSERT(!chunk_.empty());
}

// A stream with a handshake step (TLS); plain TCP sockets have none.
template <typename Stream>
concept HandshakingStream = requires(Stream& s) {
  s.async_handshake(asio::ssl::stream_base::server, [](boost::system::error_code) {});
};

template <typename Stream>
void FramedConnection<Stream>::Start() {
  Begin(asio::ssl::stream_base::server);
}

template <typename Stream>
void FramedConnection<Stream>::Connect(const asio::ip::tcp::endpoint& endpoint,
                                       std::function<void(Status)> done) {
  stream_.lowest_layer().async_connect(
      endpoint, [self = this->shared_from_this(), endpoint,
                 done = std::move(done)](boost::system::error_code ec) mutable {
        if (self->closed_) return;
        if (ec) {
          self->Close();
          done(Status::Unavailable("connect to " + endpoint.address().to_string() + ":" +
                                   std::to_string(endpoint.port()) + ": " + ec.message()));
          return;
        }
        self->connect_done_ = std::move(done);
        self->Begin(asio::ssl::stream_base::client);
      });
}

template <typename Stream>
void FramedConnection<Stream>::Begin(asio::ssl::stream_base::handshake_type role) {
  TROLLEY_ASSERT(!started_);
  if (closed_) return;
  started_ = true;
  remote_address_ = RemoteAddress();  // kept for the logs of a refusal after the close
  boost::system::error_code ignored;
  stream_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
  last_read_ = std::chrono::steady_clock::now();
  if constexpr (HandshakingStream<Stream>) {
    handshaking_ = true;
    // The idle-frame timeout (invariant 2) also bounds a stalled handshake.
    ArmIdleTimerIfWaiting();
    stream_.async_handshake(role, [self = this->shared_from_this()](boost::system::error_code ec) {
      self->OnHandshake(ec);
    });
  } else {
    StartStreaming();
  }
}

template <typename Stream>
void FramedConnection<Stream>::OnHandshake(boost::system::error_code ec) {
  handshaking_ = false;
  if (closed_) return;
  if (ec) {
    const Status why = Status::Unavailable("TLS handshake: " + ec.message());
    std::function<void(Status)> done = std::move(connect_done_);
    connect_done_ = nullptr;
    if (!done) return Finish(why);
    Close();
    return done(why);
  }
  StartStreaming();
}

template <typename Stream>
void FramedConnection<Stream>::StartStreaming() {
  // Connect()'s done runs first: it may check who the other end proved to
  // be and Close() before any queued frame goes out.
  std::function<void(Status)> done = std::move(connect_done_);
  connect_done_ = nullptr;
  if (done) {
    done(Status::Ok());
    if (closed_) return;
  }
  ArmIdleTimerIfWaiting();
  StartRead();
  StartWrite();
}

template <typename Stream>
Status FramedConnection<Stream>::SendMessage(const Message& message) {
  if (!is_sending()) return Status::Ok();
  if (Status s = AppendMessageFrame(out_, message, options_.frame_bytes_max); !s.ok()) return s;
  ScheduleFlush();
  return Status::Ok();
}

template <typename Stream>
void FramedConnection<Stream>::SendFrame(std::string_view payload) {
  TROLLEY_ASSERT(payload.size() <= options_.frame_bytes_max);
  if (!is_sending()) return;
  AppendFrame(out_, payload);
  ScheduleFlush();
}

template <typename Stream>
void FramedConnection<Stream>::BadInput(const Status& why) {
  if (!is_sending()) return;
  if (callbacks_.on_bad_input) callbacks_.on_bad_input(why);
  CloseAfterFlush(why);
}

template <typename Stream>
void FramedConnection<Stream>::CloseAfterFlush(const Status& why) {
  if (!is_sending()) return;
  closing_ = true;
  closing_reason_ = why;
  boost::system::error_code ignored;
  idle_timer_.cancel(ignored);
  // Not started (still dialling) or not secured yet: nothing can be
  // written, so close now.
  if (!started_ || handshaking_) return Finish(why);
  if (!writing_now_ && !flush_posted_) StartWrite();
}

template <typename Stream>
void FramedConnection<Stream>::Close() {
  if (closed_) return;
  closed_ = true;
  out_.clear();
  boost::system::error_code ignored;
  idle_timer_.cancel(ignored);
  stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.lowest_layer().close(ignored);
}

template <typename Stream>
void FramedConnection<Stream>::Finish(const Status& why) {
  if (closed_) return;
  // on_close may drop the owner's reference; stay alive until it returns.
  auto self = this->shared_from_this();
  Close();
  if (callbacks_.on_close) callbacks_.on_close(why);
}

template <typename Stream>
std::string FramedConnection<Stream>::RemoteAddress() const {
  if (!remote_address_.empty()) return remote_address_;
  boost::system::error_code ec;
  const auto endpoint = stream_.lowest_layer().remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// ---- reading ----

template <typename Stream>
void FramedConnection<Stream>::StartRead() {
  stream_.async_read_some(asio::buffer(chunk_),
                          [self = this->shared_from_this()](boost::system::error_code ec,
                                                            size_t n) { self->OnRead(ec, n); });
}

template <typename Stream>
void FramedConnection<Stream>::OnRead(boost::system::error_code ec, size_t n) {
  if (closed_ || closing_) return;
  if (ec) {
    Finish(Status::Unavailable(ec == asio::error::eof ? "closed by the other end"
                                                      : "read: " + ec.message()));
    return;
  }
  last_read_ = std::chrono::steady_clock::now();
  if (callbacks_.on_read) callbacks_.on_read();
  // A bad length fails the decoder; Next() reports it after the frames
  // completed before it, so they are still delivered, in order.
  (void)decoder_.Feed(chunk_.data(), n);
  DeliverFrames();
  if (closed_ || closing_) return;
  ArmIdleTimerIfWaiting();
  StartRead();
}

template <typename Stream>
void FramedConnection<Stream>::DeliverFrames() {
  while (!closed_ && !closing_) {
    auto frame = decoder_.Next();
    if (!frame.ok()) return BadInput(frame.status());
    if (!*frame) return;
    ++frames_received_;
    callbacks_.on_frame(std::move(**frame));
  }
}

// ---- the idle-frame timeout ----

template <typename Stream>
bool FramedConnection<Stream>::WaitingForBytes() const {
  if (decoder_.buffered_bytes() > 0) return true;
  return !options_.first_frame_description.empty() && frames_received_ == 0;
}

template <typename Stream>
void FramedConnection<Stream>::ArmIdleTimerIfWaiting() {
  if (options_.idle_frame_timeout.count() <= 0 || idle_timer_armed_ || !WaitingForBytes()) return;
  idle_timer_armed_ = true;
  idle_timer_.expires_at(last_read_ + options_.idle_frame_timeout);
  idle_timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
    self->idle_timer_armed_ = false;
    if (!ec) self->OnIdleTimer();
  });
}

// The timer is not moved on every read (that would cost a timer update per
// read on the hot path): when it fires early it re-arms for the rest.
template <typename Stream>
void FramedConnection<Stream>::OnIdleTimer() {
  if (!is_sending() || !WaitingForBytes()) return;
  if (std::chrono::steady_clock::now() < last_read_ + options_.idle_frame_timeout) {
    ArmIdleTimerIfWaiting();
    return;
  }
  const std::string ms = std::to_string(options_.idle_frame_timeout.count());
  BadInput(Status::Timeout(frames_received_ == 0 && decoder_.buffered_bytes() == 0
                               ? "no " + options_.first_frame_description + " within " + ms + " ms"
                               : "a partial frame saw no bytes for " + ms + " ms"));
}

// ---- writing ----

template <typename Stream>
void FramedConnection<Stream>::ScheduleFlush() {
  if (!started_ || flush_posted_ || writing_now_) return;
  flush_posted_ = true;
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->flush_posted_ = false;
    self->StartWrite();
  });
}

template <typename Stream>
void FramedConnection<Stream>::StartWrite() {
  if (closed_ || writing_now_ || !started_ || handshaking_) return;
  if (out_.empty()) {
    if (closing_) Finish(closing_reason_);
    return;
  }
  writing_now_ = true;
  ++writes_started_;
  std::swap(out_, writing_);
  asio::async_write(stream_, asio::buffer(writing_),
                    [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                      self->OnWritten(ec);
                    });
}

template <typename Stream>
void FramedConnection<Stream>::OnWritten(boost::system::error_code ec) {
  writing_now_ = false;
  writing_.clear();
  if (closed_) return;
  if (ec) {
    Finish(Status::Unavailable("write: " + ec.message()));
    return;
  }
  StartWrite();
}

}  // namespace trolley
