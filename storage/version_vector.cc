#include "storage/version_vector.h"

#include <algorithm>

#include "common/assert.h"

namespace trolley {

std::string ToString(const Dot& dot) {
  return "(" + std::to_string(dot.actor) + "," + std::to_string(dot.counter) + ")";
}

VersionVector VersionVector::FromEntries(std::vector<Entry> entries) {
  VersionVector vv;
  for (const Entry& e : entries) vv.Add(Dot{e.actor, e.counter});
  return vv;
}

uint64_t VersionVector::Get(ActorId actor) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const Entry& e, ActorId a) { return e.actor < a; });
  return (it != entries_.end() && it->actor == actor) ? it->counter : 0;
}

bool VersionVector::Descends(const VersionVector& other) const {
  // Both sorted: a merge walk.
  auto mine = entries_.begin();
  for (const Entry& theirs : other.entries_) {
    while (mine != entries_.end() && mine->actor < theirs.actor) ++mine;
    if (mine == entries_.end() || mine->actor != theirs.actor) return false;
    if (mine->counter < theirs.counter) return false;
  }
  return true;
}

void VersionVector::Join(const VersionVector& other) {
  std::vector<Entry> out;
  out.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->actor < b->actor)) {
      out.push_back(*a++);
    } else if (a == entries_.end() || b->actor < a->actor) {
      out.push_back(*b++);
    } else {
      out.push_back({a->actor, std::max(a->counter, b->counter)});
      ++a;
      ++b;
    }
  }
  entries_ = std::move(out);
}

void VersionVector::Add(const Dot& dot) {
  if (dot.counter == 0) return;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), dot.actor,
                             [](const Entry& e, ActorId a) { return e.actor < a; });
  if (it != entries_.end() && it->actor == dot.actor) {
    it->counter = std::max(it->counter, dot.counter);
  } else {
    entries_.insert(it, Entry{dot.actor, dot.counter});
  }
}

std::string VersionVector::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(entries_[i].actor) + ":" + std::to_string(entries_[i].counter);
  }
  return out + "}";
}

Causality Compare(const VersionVector& a, const VersionVector& b) {
  const bool a_ge = a.Descends(b);
  const bool b_ge = b.Descends(a);
  if (a_ge && b_ge) return Causality::kEqual;
  if (a_ge) return Causality::kAfter;
  if (b_ge) return Causality::kBefore;
  return Causality::kConcurrent;
}

}  // namespace trolley
