#include "node/put_phase.h"

#include "common/assert.h"

namespace trolley {

bool IsDecided(PutPhase phase) {
  return phase != PutPhase::kWriting && phase != PutPhase::kWritingAnswered;
}

bool IsAnswered(PutPhase phase) {
  return phase == PutPhase::kWritingAnswered || phase == PutPhase::kAnsweredStoring ||
         phase == PutPhase::kDraining;
}

bool IsStored(PutPhase phase) {
  return phase == PutPhase::kReplicatingStored || phase == PutPhase::kDraining;
}

PutPhase Decided(PutPhase phase) {
  switch (phase) {
    case PutPhase::kWriting:
      return PutPhase::kReplicating;
    case PutPhase::kWritingAnswered:
      return PutPhase::kAnsweredStoring;
    default:
      TROLLEY_ASSERT_MSG(false, PutPhaseName(phase));
  }
}

PutPhase Stored(PutPhase phase) {
  switch (phase) {
    case PutPhase::kReplicating:
      return PutPhase::kReplicatingStored;
    case PutPhase::kAnsweredStoring:
      return PutPhase::kDraining;
    default:
      TROLLEY_ASSERT_MSG(false, PutPhaseName(phase));
  }
}

PutPhase Answered(PutPhase phase) {
  switch (phase) {
    case PutPhase::kWriting:
      return PutPhase::kWritingAnswered;
    case PutPhase::kReplicating:
      return PutPhase::kAnsweredStoring;
    case PutPhase::kReplicatingStored:
      return PutPhase::kDraining;
    default:
      TROLLEY_ASSERT_MSG(false, PutPhaseName(phase));
  }
}

std::string_view PutPhaseName(PutPhase phase) {
  switch (phase) {
    case PutPhase::kWriting:
      return "writing";
    case PutPhase::kWritingAnswered:
      return "writing_answered";
    case PutPhase::kReplicating:
      return "replicating";
    case PutPhase::kReplicatingStored:
      return "replicating_stored";
    case PutPhase::kAnsweredStoring:
      return "answered_storing";
    case PutPhase::kDraining:
      return "draining";
  }
  return "?";
}

}  // namespace trolley
