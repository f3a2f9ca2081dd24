// PutPhase: where one coordinated put is, as one explicit state instead of
// separate flags, and the only transitions between states. Pure; the put
// coordinator (node/put_coordinator.h) drives it. See docs/design.md,
// 'The node core'.
//
// Three facts change over a put's life, each once and never back: the
// local engine decided the new state (replication starts), the client got
// its answer, the local commit called back. Their reachable combinations:
//
//   kWriting             local write running, nothing decided, client waiting
//   kWritingAnswered     the same, but the client got kTimeout (storage stalled)
//   kReplicating         decided and sent to the targets, commit running,
//                        client waiting for W
//   kReplicatingStored   the same, local commit done
//   kAnsweredStoring     client answered, local commit still running
//   kDraining            client answered, commit done; waiting for targets
//
// A put leaves the coordinator when it is kDraining and every target has
// answered (or been given up on), or when its local write fails before
// anything was decided. Transitions not listed below are bugs (asserted):
// notably Answered() twice, so a client never gets two replies.
//
//   Decided:   kWriting -> kReplicating, kWritingAnswered -> kAnsweredStoring
//   Stored:    kReplicating -> kReplicatingStored, kAnsweredStoring -> kDraining
//   Answered:  kWriting -> kWritingAnswered, kReplicating -> kAnsweredStoring,
//              kReplicatingStored -> kDraining
#pragma once

#include <cstdint>
#include <string_view>

namespace trolley {

enum class PutPhase : uint8_t {
  kWriting,
  kWritingAnswered,
  kReplicating,
  kReplicatingStored,
  kAnsweredStoring,
  kDraining,
};

// The state was decided: replication has started.
bool IsDecided(PutPhase phase);
// The client got its answer.
bool IsAnswered(PutPhase phase);
// The local commit called back.
bool IsStored(PutPhase phase);

PutPhase Decided(PutPhase phase);
PutPhase Stored(PutPhase phase);
PutPhase Answered(PutPhase phase);

std::string_view PutPhaseName(PutPhase phase);

}  // namespace trolley
