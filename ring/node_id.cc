#include "ring/node_id.h"

#include <ostream>

namespace trolley {

Status ValidateNodeId(const NodeId& node) {
  if (node.name.empty()) {
    return Status::InvalidArgument("node name is empty: give every node a name such as \"n1\"");
  }
  if (node.name.size() > kNodeNameBytesMax) {
    return Status::InvalidArgument("node name \"" + node.name.substr(0, 32) + "...\" is " +
                                   std::to_string(node.name.size()) + " bytes; the limit is " +
                                   std::to_string(kNodeNameBytesMax));
  }
  for (const char c : node.name) {
    // Printable ASCII without the space: '!' (0x21) to '~' (0x7e).
    if (c < '!' || c > '~') {
      return Status::InvalidArgument("node name \"" + node.name +
                                     "\" holds a space or a non-printable byte; use printable "
                                     "ASCII such as \"n1\"");
    }
  }
  return Status::Ok();
}

std::ostream& operator<<(std::ostream& out, const NodeId& node) { return out << node.name; }

}  // namespace trolley
