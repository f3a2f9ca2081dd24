#include "node/put_phase.h"

#include <cstddef>

#include "common/assert.h"
#include "common/enum_names.h"

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

namespace {

// One edge of the transition table in node/put_phase.h: `from` becomes `to`.
struct PutTransition {
  PutPhase from;
  PutPhase to;
};

constexpr PutTransition kDecidedEdges[] = {
    {PutPhase::kWriting, PutPhase::kReplicating},
    {PutPhase::kWritingAnswered, PutPhase::kAnsweredStoring},
};
constexpr PutTransition kStoredEdges[] = {
    {PutPhase::kReplicating, PutPhase::kReplicatingStored},
    {PutPhase::kAnsweredStoring, PutPhase::kDraining},
};
constexpr PutTransition kAnsweredEdges[] = {
    {PutPhase::kWriting, PutPhase::kWritingAnswered},
    {PutPhase::kReplicating, PutPhase::kAnsweredStoring},
    {PutPhase::kReplicatingStored, PutPhase::kDraining},
};

// The phase `edges` lead to from `phase`; an event with no edge from `phase` is a bug.
template <size_t N>
PutPhase Follow(const PutTransition (&edges)[N], PutPhase phase) {
  for (const PutTransition& edge : edges) {
    if (edge.from == phase) return edge.to;
  }
  TROLLEY_ASSERT_MSG(false, PutPhaseName(phase));
}

}  // namespace

PutPhase Decided(PutPhase phase) { return Follow(kDecidedEdges, phase); }

PutPhase Stored(PutPhase phase) { return Follow(kStoredEdges, phase); }

PutPhase Answered(PutPhase phase) { return Follow(kAnsweredEdges, phase); }

namespace {

constexpr EnumName<PutPhase> kPutPhaseNames[] = {
    {PutPhase::kWriting, "writing"},
    {PutPhase::kWritingAnswered, "writing_answered"},
    {PutPhase::kReplicating, "replicating"},
    {PutPhase::kReplicatingStored, "replicating_stored"},
    {PutPhase::kAnsweredStoring, "answered_storing"},
    {PutPhase::kDraining, "draining"}};

}  // namespace

std::string_view PutPhaseName(PutPhase phase) { return NameOf(kPutPhaseNames, phase); }

}  // namespace trolley
