// A NodeEnv the node-core module tests drive by hand: a transport that
// records what is sent, a ManualClock, a seeded Random, and an engine whose
// put callbacks and hint writes wait until the test releases them. No
// storage semantics: states are whatever the test hands back.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/logger.h"
#include "common/random.h"
#include "node/env.h"
#include "node/membership.h"
#include "node/node_context.h"
#include "ring/ring.h"
#include "storage/aae_tree.h"
#include "storage/engine.h"

namespace trolley::testing {

struct Sent {
  Endpoint to;
  Message message;
};

class RecordingTransport final : public Transport {
 public:
  void Send(const Endpoint& to, Message message) override {
    sent.push_back(Sent{to, std::move(message)});
  }
  // The messages of type T sent so far, with where they went; clears them.
  template <class T>
  std::vector<std::pair<Endpoint, T>> Take() {
    std::vector<std::pair<Endpoint, T>> out;
    std::vector<Sent> rest;
    for (Sent& s : sent) {
      if (auto* m = std::get_if<T>(&s.message)) {
        out.emplace_back(s.to, std::move(*m));
      } else {
        rest.push_back(std::move(s));
      }
    }
    sent = std::move(rest);
    return out;
  }
  std::vector<Sent> sent;
};

// Hints in a map; Add's callback waits in `pending` until RunPending().
class FakeHintStore final : public HintStore {
 public:
  void Add(Hint hint, DoneCallback done) override {
    hints[{hint.target, hint.key.ns + "/" + hint.key.key}] = hint;
    pending.push_back([done = std::move(done)] {
      if (done) done(Status::Ok());
    });
  }
  Result<std::vector<Hint>> List(std::string_view target, size_t limit) override {
    std::vector<Hint> out;
    for (const auto& [k, h] : hints) {
      if (k.first == target && out.size() < limit) out.push_back(h);
    }
    return out;
  }
  Result<std::vector<std::string>> Targets() override {
    std::vector<std::string> out;
    for (const auto& [k, h] : hints) {
      if (out.empty() || out.back() != k.first) out.push_back(k.first);
    }
    return out;
  }
  void RemoveDelivered(std::string target, ObjectKey key, SiblingSet, DoneCallback done) override {
    hints.erase({target, key.ns + "/" + key.key});
    done(Status::Ok());
  }
  void Drop(std::string target, ObjectKey key, DoneCallback done) override {
    hints.erase({target, key.ns + "/" + key.key});
    done(Status::Ok());
  }
  Result<HintStats> Stats() override { return HintStats{hints.size(), 0}; }
  void RunPending() {
    std::deque<std::function<void()>> run = std::move(pending);
    pending.clear();
    for (auto& fn : run) fn();
  }

  std::map<std::pair<std::string, std::string>, Hint> hints;
  std::deque<std::function<void()>> pending;
};

// Puts wait in `puts` until the test calls Decide/Finish on them.
class ScriptedEngine final : public Engine {
 public:
  struct PendingPut {
    ObjectKey key;
    StateCallback decided;
    StateCallback done;
  };
  Result<SiblingSet> Get(const ObjectKey&) override { return Status::NotFound("no such key"); }
  void Put(ObjectKey key, WriteIntent, ActorId, StateCallback decided,
           StateCallback done) override {
    puts.push_back(PendingPut{std::move(key), std::move(decided), std::move(done)});
  }
  void Merge(ObjectKey key, SiblingSet remote, StateCallback done) override {
    merged.push_back(std::move(key));
    done(Result<SiblingSet>(std::move(remote)));
  }
  Result<ScanPage> Scan(uint64_t, uint64_t, const ObjectKey*, size_t) override {
    return ScanPage{};
  }
  using Engine::Sweep;
  void Sweep(uint64_t, TombstoneCutoff, SweepCallback done) override { done(SweepReport{}); }
  // The anti-entropy tree and listings are what the test puts in `tree`
  // and `segment_keys` (empty unless it does); `unreadable_segments` fail.
  std::vector<uint64_t> AaeSegments(uint32_t first, uint32_t count) override {
    return tree.Segments(first, count);
  }
  std::vector<uint64_t> AaeBranches(uint32_t first, uint32_t count) override {
    return tree.Branches(first, count);
  }
  Result<std::vector<AaeKeyVersion>> AaeSegmentKeys(uint32_t segment) override {
    if (unreadable_segments.contains(segment)) return Status::IOError("segment unreadable");
    auto it = segment_keys.find(segment);
    return it == segment_keys.end() ? std::vector<AaeKeyVersion>{} : it->second;
  }
  AaeTreeStats AaeStats() override { return {}; }
  HintStore& hints() override { return hint_store; }
  void Sync(std::string_view, DoneCallback done) override { done(Status::Ok()); }
  void Cork() override {}
  void Uncork() override {}
  uint64_t incarnation() const override { return 1; }

  // The put's new state is decided (an empty state: contents do not matter).
  void Decide(size_t i) { puts.at(i).decided(Result<SiblingSet>(SiblingSet())); }
  void Finish(size_t i, Status status) {
    if (status.ok()) {
      puts.at(i).done(Result<SiblingSet>(SiblingSet()));
    } else {
      puts.at(i).done(Result<SiblingSet>(status));
    }
  }

  std::vector<PendingPut> puts;
  std::vector<ObjectKey> merged;  // the keys of every Merge, in order
  AaeTree tree;
  std::map<uint32_t, std::vector<AaeKeyVersion>> segment_keys;
  std::set<uint32_t> unreadable_segments;
  FakeHintStore hint_store;
};

// Keeps every line logged, with its level.
class CapturingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view line) override {
    lines.emplace_back(level, std::string(line));
  }
  std::vector<std::pair<LogLevel, std::string>> lines;
};

// A NodeContext over the fakes, for node `self` of a ring of `members`
// with `partitions` partitions.
struct FakeNode {
  explicit FakeNode(const std::vector<std::string>& members, const std::string& self,
                    NodeOptions options = {}, uint32_t partitions = 64) {
    std::vector<NodeId> ids;
    for (const std::string& m : members) ids.push_back(NodeId{m});
    options.node_id = self;
    if (options.namespaces.empty()) options.namespaces = {NamespaceOptions{"carts", 3, 2, 2}};
    ctx = std::make_unique<NodeContext>(
        options, NodeEnv{&transport, &clock, &engine, &random, &log},
        Membership::Create(Ring::Build(ids, partitions).value(), {}).value(), ActorId{7});
  }
  RecordingTransport transport;
  ManualClock clock;
  ScriptedEngine engine;
  Random random{42};
  CapturingLogger log;
  std::unique_ptr<NodeContext> ctx;
};

}  // namespace trolley::testing
