// Goal: on random histories, SiblingSet keeps exactly the writes that no
// other write observed, and merge is a join (commutative, associative,
// idempotent).
//
// Method: a reference model that knows nothing about dots. Each write gets
// an id (stored as the sibling's value); a client's "seen" set is every
// write id it has observed (reads join the replica's knowledge into it,
// as a client that keeps its context does); a replica "knows" every write
// it received or that a write it received had observed. The siblings a
// replica must hold are the writes it knows that no write it knows
// observed. Comparing that to the real SiblingSet after every step checks
// "no acknowledged write lost" and "never a dominated sibling" at once.
// Cases are seeded: TROLLEY_PROPERTY_SEED and TROLLEY_PROPERTY_CASES
// override the defaults; a failure prints the seed to replay.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "storage/sibling_set.h"
#include "tests/support/property_env.h"

namespace trolley {
namespace {

const uint64_t kBaseSeed = test_support::PropertyBaseSeed();
const uint64_t kCases = test_support::PropertyCases();

using IdSet = std::set<int>;

struct ModelReplica {
  SiblingSet state;
  uint64_t counter_floor = 0;
  IdSet known;
};

struct ModelClient {
  VersionVector context;
  IdSet seen;
  int last_write = -1;
  bool last_tombstone = false;
  int last_replica = 0;
  VersionVector last_context;
  IdSet last_seen;  // what the last write observed
};

class History {
 public:
  History(uint64_t seed, int replicas, int clients) : rng_(seed) {
    replicas_.resize(static_cast<size_t>(replicas));
    clients_.resize(static_cast<size_t>(clients));
  }

  // One random step; returns false (with a message) if the model disagrees.
  bool Step(std::string* why) {
    const uint64_t kind = rng_.Uniform(100);
    ModelClient& c = clients_[rng_.Uniform(clients_.size())];
    const size_t r = rng_.Uniform(replicas_.size());
    ModelReplica& rep = replicas_[r];
    if (kind < 30) {  // read
      c.context.Join(rep.state.context());
      c.seen.insert(rep.known.begin(), rep.known.end());
    } else if (kind < 65) {  // write or delete through replica r
      Write(c, r, rng_.Chance(0.1));
    } else if (kind < 75 && c.last_write >= 0) {  // retry the last write, same coordinator
      const size_t before = replicas_[static_cast<size_t>(c.last_replica)].state.size();
      WriteIntent w;
      w.context = c.last_context;
      w.tombstone = c.last_tombstone;  // a retry resends the same intent
      if (!w.tombstone) w.value = std::to_string(c.last_write);
      w.write_id = static_cast<uint64_t>(c.last_write) + 1;
      ModelReplica& coord = replicas_[static_cast<size_t>(c.last_replica)];
      const bool held = HoldsWrite(coord.state, c.last_write);
      const WriteOutcome out =
          coord.state.ApplyWrite(w, ActorOf(c.last_replica), coord.counter_floor);
      if (held && !out.deduplicated) return Fail(why, "retry of a held write added a sibling");
      if (held && coord.state.size() > before) return Fail(why, "retry grew the sibling set");
      if (!out.deduplicated) {
        // The write had been overwritten meanwhile: the retry is a new,
        // concurrent write of the same intent. Model it as one.
        coord.counter_floor = std::max(coord.counter_floor, out.dot.counter);
        written_.push_back(c.last_seen);
        ++stale_retries_;  // one more writer, concurrent with the client's chain
        RelabelLast(coord.state, out.dot);
        if (w.tombstone) tombstones_.insert(out.dot);
        coord.known.insert(c.last_seen.begin(), c.last_seen.end());
        coord.known.insert(static_cast<int>(written_.size()) - 1);
      }
    } else {  // anti-entropy / read repair / hint: one replica merges another's state
      const size_t from = rng_.Uniform(replicas_.size());
      const SiblingSet before = rep.state;
      rep.state.Merge(replicas_[from].state);
      if (!rep.state.context().Descends(before.context())) return Fail(why, "context went back");
      rep.known.insert(replicas_[from].known.begin(), replicas_[from].known.end());
      if (rng_.Chance(0.2)) {  // re-delivery of the same state changes nothing
        const SiblingSet once = rep.state;
        rep.state.Merge(replicas_[from].state);
        if (!(rep.state == once)) return Fail(why, "re-delivery changed the state");
      }
    }
    return CheckAll(why);
  }

  // Merge everything everywhere; all replicas must end identical.
  bool Converge(std::string* why) {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      for (size_t j = 0; j < replicas_.size(); ++j) {
        replicas_[i].state.Merge(replicas_[j].state);
        replicas_[i].known.insert(replicas_[j].known.begin(), replicas_[j].known.end());
      }
    }
    for (size_t i = 0; i < replicas_.size(); ++i) {
      replicas_[i].state.Merge(replicas_.back().state);
      replicas_[i].known = replicas_.back().known;
    }
    for (const ModelReplica& rep : replicas_) {
      if (!(rep.state == replicas_[0].state)) return Fail(why, "replicas did not converge");
    }
    return CheckAll(why);
  }

  const std::vector<ModelReplica>& replicas() const { return replicas_; }
  size_t clients() const { return clients_.size(); }

 private:
  static ActorId ActorOf(size_t replica) { return 100 + replica; }

  void Write(ModelClient& c, size_t r, bool tombstone) {
    ModelReplica& rep = replicas_[r];
    const int id = static_cast<int>(written_.size());
    written_.push_back(c.seen);  // what this write observed
    WriteIntent w;
    w.context = c.context;
    w.value = std::to_string(id);
    w.tombstone = tombstone;
    w.write_id = static_cast<uint64_t>(id) + 1;
    const WriteOutcome out = rep.state.ApplyWrite(w, ActorOf(r), rep.counter_floor);
    rep.counter_floor = std::max(rep.counter_floor, out.dot.counter);
    if (tombstone) tombstones_.insert(out.dot);
    dot_to_id_[out.dot] = id;
    rep.known.insert(c.seen.begin(), c.seen.end());
    rep.known.insert(id);
    c.last_write = id;
    c.last_tombstone = tombstone;
    c.last_replica = static_cast<int>(r);
    c.last_context = c.context;
    c.last_seen = c.seen;
    // The client keeps the context the write returned, so its own next
    // write observes this one (a client's writes form a chain).
    c.context.Join(rep.state.context());
    c.seen.insert(rep.known.begin(), rep.known.end());
  }

  void RelabelLast(const SiblingSet&, Dot dot) {
    dot_to_id_[dot] = static_cast<int>(written_.size()) - 1;
  }

  bool HoldsWrite(const SiblingSet& s, int id) const {
    for (const Sibling& sib : s.siblings()) {
      if (IdOf(sib) == id) return true;
    }
    return false;
  }

  int IdOf(const Sibling& s) const {
    auto it = dot_to_id_.find(s.dot);
    return it == dot_to_id_.end() ? -1 : it->second;
  }

  bool CheckAll(std::string* why) const {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      const ModelReplica& rep = replicas_[i];
      rep.state.CheckInvariants();
      IdSet expected;
      for (int w : rep.known) {
        bool observed = false;
        for (int other : rep.known) observed |= written_[static_cast<size_t>(other)].count(w) > 0;
        if (!observed) expected.insert(w);
      }
      IdSet actual;
      for (const Sibling& s : rep.state.siblings()) actual.insert(IdOf(s));
      if (actual != expected) {
        return Fail(why, "replica " + std::to_string(i) + " holds " + Show(actual) +
                             " but the model expects " + Show(expected) + "; state " +
                             rep.state.DebugString());
      }
      if (rep.state.size() > clients_.size() + stale_retries_) {
        return Fail(why, "more siblings than concurrent writers");
      }
    }
    return true;
  }

  static std::string Show(const IdSet& s) {
    std::string out = "{";
    for (int x : s) out += std::to_string(x) + " ";
    return out + "}";
  }

  static bool Fail(std::string* why, std::string message) {
    *why = std::move(message);
    return false;
  }

  Random rng_;
  std::vector<ModelReplica> replicas_;
  std::vector<ModelClient> clients_;
  std::vector<IdSet> written_;  // written_[id] = the writes id observed
  std::map<Dot, int> dot_to_id_;
  std::set<Dot> tombstones_;
  size_t stale_retries_ = 0;  // retries of an overwritten write (new concurrent writes)
};

// Every replica holds exactly the unobserved writes it knows, after every
// step; no more siblings than clients; full exchange converges.
TEST(SiblingSetPropertyTest, NoWriteLostNoDominatedSiblingAndConvergence) {
  for (uint64_t i = 0; i < kCases; ++i) {
    const uint64_t seed = kBaseSeed + i;
    Random shape(seed ^ 0x5eed);
    History h(seed, static_cast<int>(shape.Range(2, 4)), static_cast<int>(shape.Range(1, 4)));
    std::string why;
    const int steps = static_cast<int>(shape.Range(5, 40));
    for (int s = 0; s < steps; ++s) {
      ASSERT_TRUE(h.Step(&why)) << why << "\n  replay: TROLLEY_PROPERTY_SEED=" << seed
                                << " TROLLEY_PROPERTY_CASES=1";
    }
    ASSERT_TRUE(h.Converge(&why)) << why << "\n  replay: TROLLEY_PROPERTY_SEED=" << seed
                                  << " TROLLEY_PROPERTY_CASES=1";
  }
}

// States of one key's history, taken from random replicas at random times.
std::vector<SiblingSet> SampleStates(uint64_t seed, int count) {
  Random shape(seed ^ 0xabc);
  History h(seed, static_cast<int>(shape.Range(2, 4)), static_cast<int>(shape.Range(1, 4)));
  std::vector<SiblingSet> out;
  std::string why;
  while (static_cast<int>(out.size()) < count) {
    EXPECT_TRUE(h.Step(&why)) << why;
    if (shape.Chance(0.3)) out.push_back(h.replicas()[shape.Uniform(h.replicas().size())].state);
  }
  return out;
}

SiblingSet Join(SiblingSet a, const SiblingSet& b) {
  a.Merge(b);
  return a;
}

TEST(SiblingSetPropertyTest, MergeIsCommutative) {
  for (uint64_t i = 0; i < kCases; ++i) {
    const auto s = SampleStates(kBaseSeed + i, 2);
    ASSERT_EQ(Join(s[0], s[1]), Join(s[1], s[0]))
        << "replay: TROLLEY_PROPERTY_SEED=" << kBaseSeed + i << " TROLLEY_PROPERTY_CASES=1";
  }
}

TEST(SiblingSetPropertyTest, MergeIsAssociative) {
  for (uint64_t i = 0; i < kCases; ++i) {
    const auto s = SampleStates(kBaseSeed + i, 3);
    ASSERT_EQ(Join(Join(s[0], s[1]), s[2]), Join(s[0], Join(s[1], s[2])))
        << "replay: TROLLEY_PROPERTY_SEED=" << kBaseSeed + i << " TROLLEY_PROPERTY_CASES=1";
  }
}

TEST(SiblingSetPropertyTest, MergeIsIdempotentAndCoversItsInputs) {
  for (uint64_t i = 0; i < kCases; ++i) {
    const auto s = SampleStates(kBaseSeed + i, 2);
    ASSERT_EQ(Join(s[0], s[0]), s[0]);
    const SiblingSet j = Join(s[0], s[1]);
    ASSERT_TRUE(j.Covers(s[0]));
    ASSERT_TRUE(j.Covers(s[1]));
    ASSERT_EQ(Join(j, s[1]), j);
  }
}

}  // namespace
}  // namespace trolley
