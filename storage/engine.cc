#include "storage/engine.h"

#include <string>

#include "common/enum_names.h"

namespace trolley {

namespace {

constexpr EnumName<Durability> kDurabilityNames[] = {
    {Durability::kSync, "sync"}, {Durability::kFlush, "flush"}, {Durability::kNone, "none"}};

}  // namespace

std::string_view DurabilityName(Durability d) { return NameOf(kDurabilityNames, d); }

Result<Durability> ParseDurability(std::string_view name) {
  return ParseName(kDurabilityNames, name, "durability");
}

Status ValidateObjectKey(const ObjectKey& key) {
  if (key.ns.empty() || key.ns.size() > kNamespaceBytesMax) {
    return Status::InvalidArgument("namespace must be 1 to " + std::to_string(kNamespaceBytesMax) +
                                   " bytes, got " + std::to_string(key.ns.size()));
  }
  if (key.key.empty() || key.key.size() > kKeyBytesMax) {
    return Status::InvalidArgument("key must be 1 to " + std::to_string(kKeyBytesMax) +
                                   " bytes, got " + std::to_string(key.key.size()));
  }
  return Status::Ok();
}

Status ValidateHint(const Hint& hint) {
  if (Status s = ValidateObjectKey(hint.key); !s.ok()) return s;
  if (hint.target.empty() || hint.target.size() > 255) {
    return Status::InvalidArgument("hint target must be 1 to 255 bytes");
  }
  return Status::Ok();
}

}  // namespace trolley
