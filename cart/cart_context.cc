#include "cart/cart_context.h"

#include <algorithm>

#include "common/assert.h"

namespace trolley {

CartSession::CartSession(uint64_t session) : session_(session) {
  TROLLEY_ASSERT(session < (uint64_t{1} << (64 - kMutationCounterBits)));
}

uint64_t CartSession::Next() {
  TROLLEY_ASSERT(!exhausted());
  return MutationIdOf(session_, next_++);
}

bool CartContext::Covers(uint64_t id) const {
  const auto it = sessions_.find(MutationSession(id));
  const uint32_t counter = MutationCounter(id);
  if (it != sessions_.end() && counter >= 1 && counter <= it->second) return true;
  return dots_.contains(id);
}

void CartContext::Add(uint64_t id) {
  TROLLEY_ASSERT(id != 0);
  if (Covers(id)) return;
  const uint64_t session = MutationSession(id);
  const uint32_t counter = MutationCounter(id);
  const auto it = sessions_.find(session);
  const uint32_t max = it == sessions_.end() ? 0 : it->second;
  if (counter != max + 1) {
    dots_.insert(id);
    return;
  }
  uint32_t next = counter;
  // Absorb the cloud's dots that now continue the session.
  while (next < kMutationCounterMax && dots_.erase(MutationIdOf(session, next + 1)) == 1) ++next;
  sessions_[session] = next;
}

void CartContext::Join(const CartContext& other) {
  for (const auto& [session, max] : other.sessions_) {
    uint32_t& mine = sessions_[session];
    mine = std::max(mine, max);
  }
  dots_.insert(other.dots_.begin(), other.dots_.end());
  Normalize();
}

void CartContext::Normalize() {
  // Ascending ids are grouped by session, counters ascending, so one pass
  // absorbs every chain.
  for (auto it = dots_.begin(); it != dots_.end();) {
    const uint64_t session = MutationSession(*it);
    const uint32_t counter = MutationCounter(*it);
    const auto s = sessions_.find(session);
    const uint32_t max = s == sessions_.end() ? 0 : s->second;
    if (counter >= 1 && counter <= max) {
      it = dots_.erase(it);
    } else if (counter == max + 1) {
      sessions_[session] = counter;
      it = dots_.erase(it);
    } else {
      ++it;
    }
  }
}

void CartContext::Forget(uint64_t id) {
  if (dots_.erase(id) == 1) return;
  const uint64_t session = MutationSession(id);
  const uint32_t counter = MutationCounter(id);
  const auto it = sessions_.find(session);
  if (it == sessions_.end() || counter < 1 || counter > it->second) return;
  const uint32_t max = it->second;
  for (uint32_t c = counter + 1; c <= max; ++c) dots_.insert(MutationIdOf(session, c));
  if (counter == 1) {
    sessions_.erase(it);
  } else {
    it->second = counter - 1;
  }
}

std::vector<uint64_t> CartContext::Ids() const {
  std::vector<uint64_t> out(dots_.begin(), dots_.end());
  for (const auto& [session, max] : sessions_) {
    for (uint32_t c = 1; c <= max; ++c) out.push_back(MutationIdOf(session, c));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<CartContext> CartContext::FromParts(const std::vector<uint64_t>& session_maxima,
                                                  const std::vector<uint64_t>& dots) {
  CartContext out;
  for (const uint64_t id : session_maxima) {
    const uint64_t session = MutationSession(id);
    if (MutationCounter(id) == 0) return std::nullopt;
    if (!out.sessions_.empty() && out.sessions_.rbegin()->first >= session) return std::nullopt;
    out.sessions_.emplace_hint(out.sessions_.end(), session, MutationCounter(id));
  }
  for (const uint64_t id : dots) {
    if (id == 0) return std::nullopt;
    if (!out.dots_.empty() && *out.dots_.rbegin() >= id) return std::nullopt;
    const auto s = out.sessions_.find(MutationSession(id));
    const uint32_t max = s == out.sessions_.end() ? 0 : s->second;
    const uint32_t counter = MutationCounter(id);
    // Covered, or the next of its session: not canonical.
    if (counter >= 1 && counter <= max + 1) return std::nullopt;
    out.dots_.insert(out.dots_.end(), id);
  }
  return out;
}

void CartContext::CheckInvariants() const {
  for (const auto& [session, max] : sessions_) {
    TROLLEY_ASSERT(max >= 1 && max <= kMutationCounterMax);
    TROLLEY_ASSERT(session < (uint64_t{1} << (64 - kMutationCounterBits)));
  }
  for (const uint64_t id : dots_) {
    TROLLEY_ASSERT(id != 0);
    const auto s = sessions_.find(MutationSession(id));
    const uint32_t max = s == sessions_.end() ? 0 : s->second;
    const uint32_t counter = MutationCounter(id);
    TROLLEY_ASSERT_MSG(counter == 0 || counter > max + 1, "cart context is not canonical");
  }
}

}  // namespace trolley
