// NodeId: the name of one Trolley node ("n1", "cart-db-3").
//
// A strong type so that a node name is never confused with a key, a
// namespace or an actor id. It is a plain value: ordered and hashed by its
// name, cheap enough to copy. Ordering is byte-wise on the name and is the
// only order the ring uses to break ties, so it must be the same on every
// machine (std::string's operator<=> is).
//
// Invariants of a valid NodeId (checked by ValidateNodeId, which the ring
// applies to every node it is given):
//   1. the name is not empty and at most kNodeNameBytesMax bytes;
//   2. the name holds printable ASCII without spaces, so it can appear in
//      `key=value` log lines and in the admin CLI unquoted.
// Threading: a value type; no shared state.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

#include "common/status.h"

namespace trolley {

inline constexpr size_t kNodeNameBytesMax = 255;

struct NodeId {
  std::string name;

  friend bool operator==(const NodeId&, const NodeId&) = default;
  friend std::strong_ordering operator<=>(const NodeId&, const NodeId&) = default;
};

// Ok, or InvalidArgument naming the node and what is wrong with its name.
Status ValidateNodeId(const NodeId& node);

// Prints the name (GoogleTest messages, logs).
std::ostream& operator<<(std::ostream& out, const NodeId& node);

}  // namespace trolley

template <>
struct std::hash<trolley::NodeId> {
  size_t operator()(const trolley::NodeId& node) const noexcept {
    return std::hash<std::string>{}(node.name);
  }
};
