// Random related OR-Set states and mutations for the delta and line-layout
// property tests (cart_delta_test.cc, cart_lines_test.cc): three devices
// apply random mutations and merge each other's states now and then. A
// mutation id names one mutation: a retry repeats it exactly, so a tag is
// always the same sku's contribution.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cart/cart_state.h"
#include "common/random.h"
#include "tests/cart/cart_test_util.h"

namespace trolley::cart_test {

struct RandomHistory {
  std::map<uint64_t, Mutation> issued;  // by id
  uint64_t next_id = 1;
  // Observed tags of a remove or set: true, only tags of its own sku (as a
  // view token names them); false, tags of any line, as a buggy client
  // might send.
  bool observed_of_own_line = false;
};

inline std::vector<uint64_t> LiveTags(const CartState& s) { return s.ObservedTags(nullptr); }

// Tags a shopper's view could name: some a device holds (of line `sku`
// only, when given), ids issued before (perhaps removed since), ids never
// issued.
inline std::vector<uint64_t> SomeTags(Random& rng, const std::vector<CartState>& devices,
                                      const RandomHistory& h, const std::string* sku) {
  std::vector<uint64_t> out;
  for (uint64_t n = rng.Uniform(5); n > 0; --n) {
    const uint64_t pick = rng.Uniform(3);
    if (pick == 0) {
      const std::vector<uint64_t> tags = devices[rng.Uniform(devices.size())].ObservedTags(sku);
      if (!tags.empty()) out.push_back(tags[rng.Uniform(tags.size())]);
    } else if (pick == 1 && !h.issued.empty()) {
      auto it = h.issued.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng.Uniform(h.issued.size())));
      if (sku == nullptr || it->second.sku == *sku) out.push_back(it->first);
    } else {
      out.push_back(1'000'000 + rng.Uniform(1'000'000));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A random mutation over a few skus: usually a new one, sometimes an
// exact retry of one issued before.
inline Mutation RandomMutation(Random& rng, const std::vector<CartState>& devices,
                               RandomHistory& h) {
  if (!h.issued.empty() && rng.Chance(0.1)) {
    auto it = h.issued.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng.Uniform(h.issued.size())));
    return it->second;
  }
  const uint64_t id = h.next_id++;
  const std::string sku = "sku-" + std::to_string(rng.Uniform(6));
  CartAttributes attributes;
  if (rng.Chance(0.2)) attributes["size"] = rng.Chance(0.5) ? "M" : "L";
  const uint64_t now = kT0 + rng.Uniform(1000);
  Mutation m;
  switch (rng.Uniform(8)) {
    case 0:
    case 1:
    case 2:
      m = Mutation::Add(id, sku, 1 + static_cast<uint32_t>(rng.Uniform(4)), now, attributes);
      break;
    case 3:
    case 4:
      m = Mutation::SetQuantity(id, sku, static_cast<uint32_t>(rng.Uniform(6)), now, attributes);
      break;
    case 5:
    case 6:
      m = Mutation::Remove(id, sku, now);
      break;
    default:
      m = Mutation::Clear(id, now);
      break;
  }
  if (m.kind != Mutation::Kind::kAdd && rng.Chance(0.7)) {
    const bool own = h.observed_of_own_line && m.kind != Mutation::Kind::kClear;
    m.observed = SomeTags(rng, devices, h, own ? &m.sku : nullptr);
    std::erase(*m.observed, m.id);  // a mutation never observes itself
  }
  h.issued.emplace(id, m);
  return m;
}

// Three devices' states after a random history (only what succeeds is applied).
inline std::vector<CartState> RandomDevices(Random& rng, RandomHistory& h) {
  std::vector<CartState> devices(3, CartState(CartSemantics::kOrSet));
  for (uint64_t step = rng.Uniform(40); step > 0; --step) {
    CartState& s = devices[rng.Uniform(devices.size())];
    if (rng.Chance(0.2)) {
      s = CartState::Merge(CartSemantics::kOrSet, devices);
      continue;
    }
    (void)s.Apply(RandomMutation(rng, devices, h), kLimits);
  }
  return devices;
}

inline CartLimits RandomLimits(Random& rng) {
  if (rng.Chance(0.7)) return kLimits;
  CartLimits tight;  // to reach lines_max, the quantity cap and the size limit
  tight.lines_max = 1 + rng.Uniform(4);
  tight.quantity_max = 1 + static_cast<uint32_t>(rng.Uniform(6));
  tight.encoded_bytes_max = 200 + rng.Uniform(400);
  return tight;
}

inline CartState Join(const CartState& a, const CartState& b) {
  const std::vector<CartState> both{a, b};
  return CartState::Merge(CartSemantics::kOrSet, both);
}

}  // namespace trolley::cart_test
