#include "storage/sibling_set.h"

#include <algorithm>
#include <tuple>

#include "common/assert.h"

namespace trolley {
namespace {

bool DotLess(const Sibling& a, const Sibling& b) { return a.dot < b.dot; }

// Two states must never hold different content under one dot: a dot names
// one write. If a broken or restored peer sends one anyway, pick the same
// winner on every replica so that merge stays a join.
const Sibling& PickSameDot(const Sibling& a, const Sibling& b) {
  auto key = [](const Sibling& s) {
    return std::tie(s.tombstone, s.value, s.write_id, s.timestamp_ms, s.expiry_ms);
  };
  return key(a) >= key(b) ? a : b;
}

}  // namespace

std::optional<SiblingSet> SiblingSet::FromParts(VersionVector context,
                                                std::vector<Sibling> siblings) {
  for (size_t i = 0; i < siblings.size(); ++i) {
    if (siblings[i].dot.counter == 0) return std::nullopt;
    if (!context.Covers(siblings[i].dot)) return std::nullopt;
    if (i > 0 && !(siblings[i - 1].dot < siblings[i].dot)) return std::nullopt;
  }
  SiblingSet set;
  set.context_ = std::move(context);
  set.siblings_ = std::move(siblings);
  return set;
}

WriteOutcome SiblingSet::ApplyWrite(WriteIntent intent, ActorId actor, uint64_t counter_floor) {
  TROLLEY_ASSERT(!intent.transform);  // resolved by the engine first
  const VersionVector before = context_;
  std::erase_if(siblings_, [&](const Sibling& s) { return intent.context.Covers(s.dot); });
  context_.Join(intent.context);

  WriteOutcome outcome;
  if (intent.write_id != 0) {
    for (const Sibling& s : siblings_) {
      // Only a true retry (the same bytes) is absorbed: a client that
      // reused the id for a new value from a newer read must not have it
      // folded into a sibling that never saw what that read saw.
      if (s.write_id == intent.write_id && s.tombstone == intent.tombstone &&
          (intent.tombstone || s.value == intent.value)) {
        outcome.dot = s.dot;
        outcome.deduplicated = true;
        TROLLEY_ASSERT(context_.Descends(before));
        return outcome;
      }
    }
  }

  const uint64_t counter = std::max({counter_floor, context_.Get(actor)}) + 1;
  Sibling sibling;
  sibling.dot = Dot{actor, counter};
  if (!intent.tombstone) sibling.value = std::move(intent.value);
  sibling.tombstone = intent.tombstone;
  sibling.write_id = intent.write_id;
  sibling.timestamp_ms = intent.timestamp_ms;
  sibling.expiry_ms = intent.tombstone ? 0 : intent.expiry_ms;
  context_.Add(sibling.dot);
  // The new dot is above every dot of `actor` here, so it sorts after them.
  siblings_.insert(std::upper_bound(siblings_.begin(), siblings_.end(), sibling, DotLess),
                   std::move(sibling));
  outcome.dot = Dot{actor, counter};
  TROLLEY_ASSERT(context_.Descends(before));
  return outcome;
}

void SiblingSet::Merge(const SiblingSet& other) {
  std::vector<Sibling> out;
  out.reserve(siblings_.size() + other.siblings_.size());
  auto a = siblings_.begin();
  auto b = other.siblings_.begin();
  // Keep a sibling if both states hold it, or if the other state never saw
  // its dot. A sibling one state saw and no longer holds was overwritten.
  while (a != siblings_.end() || b != other.siblings_.end()) {
    if (b == other.siblings_.end() || (a != siblings_.end() && a->dot < b->dot)) {
      if (!other.context_.Covers(a->dot)) out.push_back(std::move(*a));
      ++a;
    } else if (a == siblings_.end() || b->dot < a->dot) {
      if (!context_.Covers(b->dot)) out.push_back(*b);
      ++b;
    } else {
      out.push_back(PickSameDot(*a, *b));
      ++a;
      ++b;
    }
  }
  siblings_ = std::move(out);
  const VersionVector before = context_;
  context_.Join(other.context_);
  TROLLEY_ASSERT(context_.Descends(before));
}

bool SiblingSet::Covers(const SiblingSet& other) const {
  if (!context_.Descends(other.context_)) return false;
  // Every sibling of `other` is either here too or was overwritten here.
  for (const Sibling& s : other.siblings_) {
    auto it = std::lower_bound(siblings_.begin(), siblings_.end(), s, DotLess);
    const bool held = it != siblings_.end() && it->dot == s.dot;
    if (!held && !context_.Covers(s.dot)) return false;
    if (held && !(PickSameDot(*it, s) == *it)) return false;
  }
  return true;
}

std::vector<const Sibling*> SiblingSet::Visible(uint64_t now_ms) const {
  std::vector<const Sibling*> out;
  for (const Sibling& s : siblings_) {
    if (!s.tombstone && !s.ExpiredAt(now_ms)) out.push_back(&s);
  }
  return out;
}

void SiblingSet::DropExpiredAt(uint64_t now_ms) {
  bool any = false;
  for (const Sibling& s : siblings_) any |= s.ExpiredAt(now_ms);
  if (!any) return;
  std::vector<Sibling> kept;
  for (const Sibling& s : siblings_) {
    if (!s.ExpiredAt(now_ms)) kept.push_back(s);
  }
  auto stripped = FromParts(context_, std::move(kept));
  TROLLEY_ASSERT(stripped.has_value());
  *this = std::move(*stripped);
}

bool SiblingSet::FullyExpiredAt(uint64_t now_ms) const {
  if (siblings_.empty()) return false;
  return std::all_of(siblings_.begin(), siblings_.end(),
                     [&](const Sibling& s) { return s.ExpiredAt(now_ms); });
}

bool SiblingSet::OnlyTombstonesOlderThan(uint64_t cutoff_ms) const {
  if (siblings_.empty()) return false;
  return std::all_of(siblings_.begin(), siblings_.end(),
                     [&](const Sibling& s) { return s.tombstone && s.timestamp_ms <= cutoff_ms; });
}

uint64_t SiblingSet::ExpiryMs(uint64_t now_ms) const {
  uint64_t latest = 0;
  for (const Sibling* s : Visible(now_ms)) {
    if (s->expiry_ms == 0) return 0;
    latest = std::max(latest, s->expiry_ms);
  }
  return latest;
}

size_t SiblingSet::ValueBytes() const {
  size_t total = 0;
  for (const Sibling& s : siblings_) total += s.value.size();
  return total;
}

void SiblingSet::CheckInvariants() const {
  for (size_t i = 0; i < siblings_.size(); ++i) {
    TROLLEY_ASSERT(siblings_[i].dot.counter >= 1);
    TROLLEY_ASSERT_MSG(context_.Covers(siblings_[i].dot), DebugString());
    if (i > 0) TROLLEY_ASSERT_MSG(siblings_[i - 1].dot < siblings_[i].dot, DebugString());
    if (siblings_[i].tombstone) TROLLEY_ASSERT(siblings_[i].value.empty());
  }
}

std::string SiblingSet::DebugString() const {
  std::string out = "context=" + context_.ToString() + " siblings=[";
  for (size_t i = 0; i < siblings_.size(); ++i) {
    if (i > 0) out += ", ";
    const Sibling& s = siblings_[i];
    out += ToString(s.dot) + (s.tombstone ? " tombstone" : " '" + s.value.substr(0, 16) + "'");
  }
  return out + "]";
}

}  // namespace trolley
