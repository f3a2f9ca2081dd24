// Framing of a byte stream into messages: every frame is a 4-byte
// little-endian payload length, then the payload (one encoded Envelope,
// wire/message_codec.h). The length comes first so that a receiver can
// refuse an oversized frame before it allocates anything (docs/design.md,
// 'Wire messages').
//
// Writers: AppendFrame() appends one frame to a buffer, so many frames can
// be batched into one socket write.
// Readers: a FrameDecoder per connection. The transport feeds it whatever
// chunks the socket returns, split anywhere, then drains Next():
//
//     Status fed = decoder.Feed(chunk);        // refuses a bad length at once
//     for (;;) {
//       Result<std::optional<std::string>> frame = decoder.Next();
//       if (!frame.ok()) { /* send ErrorReply, close */ break; }
//       if (!*frame) break;                    // need more bytes
//       Handle(**frame);
//     }
//
// Invariants of FrameDecoder:
//   1. A length above frame_bytes_max is refused (InvalidArgument, "frame of
//      N bytes exceeds the limit of M") as soon as its 4 bytes are known,
//      before any allocation for the payload. The decoder is then failed:
//      every later Feed() returns the same error, and Next() returns it once
//      the frames completed before the bad length have been drained.
//   2. The partial frame never holds more than 4 + frame_bytes_max bytes, and
//      its buffer grows with the payload bytes that arrive (4 KiB at first,
//      then doubling, never past the announced length): a peer that
//      announces 8 MB and sends nothing costs nothing. Completed frames wait in a
//      queue until Next() takes them; that queue holds at most the bytes fed
//      since the last drain, so drain after every Feed().
//   3. Frames come out whole, in order, however the input was split.
//   4. A zero-length payload is a valid frame and comes out as "": framing
//      does not judge contents. (DecodeMessage refuses it as Corruption, so
//      on a Trolley connection it still closes the connection.)
// Threading: one decoder per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace trolley {

inline constexpr size_t kFrameHeaderBytes = 4;
// The default largest payload a decoder accepts. Coordinated writes are
// capped below this (LmdbEngineOptions::object_bytes_max, 5 MiB by default),
// but merges are never refused, so a state can outgrow it: senders check
// (AppendMessageFrame returns LimitExceeded) rather than assume.
inline constexpr uint32_t kFrameBytesMax = 8 << 20;

// Appends the 4-byte length and `payload` to `out`. The caller keeps payloads
// within the peer's limit (kFrameBytesMax); asserts the length fits 32 bits.
void AppendFrame(std::string& out, std::string_view payload);
// Appends only the 4-byte length; the caller appends exactly that many bytes.
void AppendFrameHeader(std::string& out, uint32_t payload_bytes);

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t frame_bytes_max = kFrameBytesMax);

  // Consumes all of `bytes`. Ok, or the error of invariant 1.
  Status Feed(std::string_view bytes);
  Status Feed(const char* data, size_t n) { return Feed(std::string_view(data, n)); }

  // The next complete payload; nullopt when more bytes are needed; the
  // error once the decoder has failed and the completed frames are drained.
  Result<std::optional<std::string>> Next();

  // Bytes held: the partial frame's header and the buffer reserved for its
  // payload, plus completed frames not yet taken by Next().
  size_t buffered_bytes() const;
  bool failed() const { return !error_.ok(); }
  uint32_t frame_bytes_max() const { return frame_bytes_max_; }

 private:
  // Each consumes from the front of `bytes`.
  Status TakeHeader(std::string_view& bytes);
  void TakePayload(std::string_view& bytes);
  void Grow(size_t need);
  void CompleteFrame();

  // The first allocation for a payload: small, so that announcing a large
  // frame and sending a few bytes costs little.
  static constexpr size_t kFrameInitialBytes = 4096;

  uint32_t frame_bytes_max_;
  char header_[kFrameHeaderBytes] = {};
  size_t header_bytes_ = 0;      // of the current frame, 0..4
  uint32_t payload_bytes_ = 0;   // the current frame's length, once the header is whole
  std::string payload_;          // the current frame's payload so far
  size_t payload_reserved_ = 0;  // bytes reserved for it; 0 before its first byte
  std::deque<std::string> ready_;
  size_t ready_bytes_ = 0;
  Status error_;
};

}  // namespace trolley
