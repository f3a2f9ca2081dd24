// Message codec: the bytes of one protocol message (wire/messages.h) inside
// one frame (wire/frame.h).
//
// A payload is a Cap'n Proto message as written by capnp::writeMessage
// (segment table, then segments; unpacked) whose root is the union
// trolley::wire::Envelope of wire/protocol.capnp. The Asio transport
// encodes what the node core sends and decodes every frame it receives;
// the simulator may round-trip messages through it (buggify) so that codec
// bugs show up in simulation too.
//
// Contract:
//  1. DecodeMessage(EncodeMessage(m)) == m for every m that passes
//     ValidateMessage and whose SiblingSets keep their invariants.
//     A message encodes into one segment (a size estimate is made first).
//  2. DecodeMessage's input is untrusted. It never crashes, never asserts on
//     the input and needs no alignment (unaligned input is copied once into
//     an aligned buffer). Reads are bounded by a traversal limit of
//     kMessageTraversalWordsMin + kMessageTraversalWordsPerWord * payload words,
//     and nesting by kMessageNestingLimit, so a small payload cannot make decode
//     read or allocate much more than its own size.
//  3. Errors:
//     - Corruption: the bytes are not a well-formed Cap'n Proto message
//       (short, not whole words, trailing bytes, bad pointers, limits hit;
//       the message says which), or a sibling set or version vector breaks
//       its invariants (context not sorted by actor, zero counters, siblings
//       out of dot order or not covered, a tombstone with a value).
//     - InvalidArgument: "unknown message type N" (a newer peer's union
//       member), "unknown status code N", or field contents that break
//       ValidateMessage (ns/key lengths, node ids, limits), prefixed with
//       the message name.
//  4. EncodeMessage does not validate field contents (a message a peer
//     would refuse still encodes; call ValidateMessage on anything built
//     from user input) but asserts SiblingSet invariants (a broken state is
//     a bug in this process) and that no string reaches Cap'n Proto's
//     512 MiB blob limit (callers enforce object-size limits far below it).
// Threading: pure functions; each call builds its own Cap'n Proto message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "wire/frame.h"
#include "wire/messages.h"

namespace trolley {

inline constexpr uint64_t kMessageTraversalWordsPerWord = 4;
inline constexpr uint64_t kMessageTraversalWordsMin = 64;
inline constexpr int kMessageNestingLimit = 16;

std::string EncodeMessage(const Message& message);
Result<Message> DecodeMessage(std::string_view payload);

// Encodes `message` straight into `out` as one frame (AppendFrame without
// the intermediate copy). LimitExceeded, with `out` unchanged, if the
// payload would exceed `frame_bytes_max`, the receiver's limit.
Status AppendMessageFrame(std::string& out, const Message& message,
                          uint32_t frame_bytes_max = kFrameBytesMax);

}  // namespace trolley
