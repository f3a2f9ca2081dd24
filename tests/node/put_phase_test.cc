// Goal: PutPhase has exactly the transitions its header lists, its three
// facts (decided, answered, stored) read back right in every state, and
// every other transition (a second answer above all) is an assertion.
// Method: a table of (phase, event) -> next phase or death.
#include "node/put_phase.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace trolley {
namespace {

constexpr PutPhase kAll[] = {PutPhase::kWriting,         PutPhase::kWritingAnswered,
                             PutPhase::kReplicating,     PutPhase::kReplicatingStored,
                             PutPhase::kAnsweredStoring, PutPhase::kDraining};

TEST(PutPhaseTest, FactsOfEachPhase) {
  struct Row {
    PutPhase phase;
    bool decided, answered, stored;
  };
  const Row rows[] = {
      {PutPhase::kWriting, false, false, false},
      {PutPhase::kWritingAnswered, false, true, false},
      {PutPhase::kReplicating, true, false, false},
      {PutPhase::kReplicatingStored, true, false, true},
      {PutPhase::kAnsweredStoring, true, true, false},
      {PutPhase::kDraining, true, true, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(PutPhaseName(r.phase)));
    EXPECT_EQ(IsDecided(r.phase), r.decided);
    EXPECT_EQ(IsAnswered(r.phase), r.answered);
    EXPECT_EQ(IsStored(r.phase), r.stored);
  }
}

enum class Event { kDecided, kStored, kAnswered };

PutPhase Apply(PutPhase p, Event e) {
  switch (e) {
    case Event::kDecided:
      return Decided(p);
    case Event::kStored:
      return Stored(p);
    case Event::kAnswered:
      return Answered(p);
  }
  return p;
}

// nullopt: the transition is a bug and asserts.
std::optional<PutPhase> Expected(PutPhase p, Event e) {
  using P = PutPhase;
  switch (e) {
    case Event::kDecided:
      if (p == P::kWriting) return P::kReplicating;
      if (p == P::kWritingAnswered) return P::kAnsweredStoring;
      return std::nullopt;
    case Event::kStored:
      if (p == P::kReplicating) return P::kReplicatingStored;
      if (p == P::kAnsweredStoring) return P::kDraining;
      return std::nullopt;
    case Event::kAnswered:
      if (p == P::kWriting) return P::kWritingAnswered;
      if (p == P::kReplicating) return P::kAnsweredStoring;
      if (p == P::kReplicatingStored) return P::kDraining;
      return std::nullopt;
  }
  return std::nullopt;
}

TEST(PutPhaseTest, EveryPhaseAndEventGoesWhereTheTableSays) {
  for (PutPhase p : kAll) {
    for (Event e : {Event::kDecided, Event::kStored, Event::kAnswered}) {
      SCOPED_TRACE(std::string(PutPhaseName(p)) + " event " + std::to_string(static_cast<int>(e)));
      const std::optional<PutPhase> want = Expected(p, e);
      if (want) {
        EXPECT_EQ(Apply(p, e), *want);
        // Facts only ever turn on: none is lost by a transition.
        EXPECT_GE(IsDecided(*want), IsDecided(p));
        EXPECT_GE(IsAnswered(*want), IsAnswered(p));
        EXPECT_GE(IsStored(*want), IsStored(p));
      } else {
        EXPECT_DEATH(Apply(p, e), "false");
      }
    }
  }
}

TEST(PutPhaseTest, EveryOrderOfTheThreeFactsEndsDrainingExceptStoreBeforeDecide) {
  // Decide must come before Stored (the engine decides no later than it
  // commits); the client's answer may come at any point.
  const std::vector<std::vector<Event>> orders = {
      {Event::kDecided, Event::kStored, Event::kAnswered},
      {Event::kDecided, Event::kAnswered, Event::kStored},
      {Event::kAnswered, Event::kDecided, Event::kStored},
  };
  for (const auto& order : orders) {
    PutPhase p = PutPhase::kWriting;
    for (Event e : order) p = Apply(p, e);
    EXPECT_EQ(p, PutPhase::kDraining);
  }
}

}  // namespace
}  // namespace trolley
