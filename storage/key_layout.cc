#include "storage/key_layout.h"

#include <utility>

#include "common/assert.h"
#include "common/key.h"

namespace trolley::key_layout {
namespace {

uint64_t ReadU64Be(std::string_view bytes) {
  TROLLEY_ASSERT(bytes.size() >= 8);
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

void AppendLengthPrefixed(std::string& out, std::string_view bytes) {
  TROLLEY_ASSERT(bytes.size() <= kLengthPrefixMax);
  out.push_back(static_cast<char>(bytes.size()));
  out += bytes;
}

// std::string_view compares as unsigned char (char_traits<char>), LMDB's order.
std::strong_ordering CompareBytes(std::string_view a, std::string_view b) {
  const int c = a.compare(b);
  return c < 0 ? std::strong_ordering::less
               : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

// Length byte first, then the bytes: the order of a length-prefixed field.
std::strong_ordering CompareLengthPrefixed(std::string_view a, std::string_view b) {
  if (const auto c = a.size() <=> b.size(); c != 0) return c;
  return CompareBytes(a, b);
}

}  // namespace

void AppendU64Be(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

std::string EncodeU64Be(uint64_t value) {
  std::string out;
  AppendU64Be(out, value);
  return out;
}

Result<uint64_t> DecodeU64Be(std::string_view bytes, std::string_view what) {
  if (bytes.size() != 8) {
    return Status::Corruption(std::string(what) + " is " + std::to_string(bytes.size()) +
                              " bytes, not 8");
  }
  return ReadU64Be(bytes);
}

std::string EncodeObjectKey(const ObjectKey& key) {
  std::string out;
  out.reserve(kObjectKeyHeaderBytes + key.ns.size() + key.key.size());
  AppendU64Be(out, KeyHash(key.ns, key.key));
  AppendLengthPrefixed(out, key.ns);
  out += key.key;
  return out;
}

std::string ObjectKeySeek(uint64_t hash) { return EncodeU64Be(hash); }

std::string ObjectKeySeekAfter(const ObjectKey& key) {
  return ImmediateSuccessor(EncodeObjectKey(key));
}

Result<ObjectKey> DecodeObjectKey(std::string_view raw) {
  if (raw.size() < kObjectKeyHeaderBytes + 2) {
    return Status::Corruption("object key of " + std::to_string(raw.size()) +
                              " bytes is shorter than the smallest (" +
                              std::to_string(kObjectKeyHeaderBytes + 2) + ")");
  }
  const size_t ns_size = static_cast<unsigned char>(raw[kHashBytes]);
  if (ns_size == 0) return Status::Corruption("object key has an empty namespace");
  if (raw.size() < kObjectKeyHeaderBytes + ns_size + 1) {
    return Status::Corruption("object key ends inside its namespace or has an empty key");
  }
  return ObjectKey{std::string(raw.substr(kObjectKeyHeaderBytes, ns_size)),
                   std::string(raw.substr(kObjectKeyHeaderBytes + ns_size))};
}

Result<uint64_t> ObjectKeyHash(std::string_view raw) {
  if (raw.size() < kHashBytes) return Status::Corruption("object key shorter than its hash");
  return ReadU64Be(raw);
}

std::strong_ordering CompareObjectKeys(uint64_t hash_a, const ObjectKey& a, uint64_t hash_b,
                                       const ObjectKey& b) {
  if (const auto c = hash_a <=> hash_b; c != 0) return c;
  if (const auto c = CompareLengthPrefixed(a.ns, b.ns); c != 0) return c;
  return CompareBytes(a.key, b.key);
}

std::strong_ordering CompareObjectKeys(const ObjectKey& a, const ObjectKey& b) {
  return CompareObjectKeys(KeyHash(a.ns, a.key), a, KeyHash(b.ns, b.key), b);
}

std::string HintKeyPrefix(std::string_view target) {
  std::string out;
  AppendLengthPrefixed(out, target);
  return out;
}

std::string EncodeHintKey(std::string_view target, const ObjectKey& key) {
  return HintKeyPrefix(target) + EncodeObjectKey(key);
}

Result<std::string> HintKeyTarget(std::string_view raw) {
  if (raw.empty()) return Status::Corruption("hint key is empty");
  const size_t target_size = static_cast<unsigned char>(raw[0]);
  if (target_size == 0) return Status::Corruption("hint key has an empty target");
  if (raw.size() < 1 + target_size) return Status::Corruption("hint key ends inside its target");
  return std::string(raw.substr(1, target_size));
}

Result<DecodedHintKey> DecodeHintKey(std::string_view raw) {
  Result<std::string> target = HintKeyTarget(raw);
  if (!target.ok()) return target.status();
  Result<ObjectKey> key = DecodeObjectKey(raw.substr(1 + target->size()));
  if (!key.ok()) {
    return Status::Corruption("hint key holds no valid object key: " + key.status().message());
  }
  return DecodedHintKey{std::move(target).value(), std::move(key).value()};
}

std::strong_ordering CompareHintTargets(std::string_view a, std::string_view b) {
  return CompareLengthPrefixed(a, b);
}

std::strong_ordering CompareHintKeys(std::string_view target_a, uint64_t hash_a, const ObjectKey& a,
                                     std::string_view target_b, uint64_t hash_b,
                                     const ObjectKey& b) {
  if (const auto c = CompareHintTargets(target_a, target_b); c != 0) return c;
  return CompareObjectKeys(hash_a, a, hash_b, b);
}

std::string EncodeHintValueHeader(uint64_t created_ms) {
  std::string out(kHintValueHeaderBytes, '\0');
  for (size_t i = 0; i < kHintValueHeaderBytes; ++i) {
    out[i] = static_cast<char>(created_ms >> (8 * i));
  }
  return out;
}

Result<uint64_t> HintValueCreatedMs(std::string_view raw_value) {
  if (raw_value.size() < kHintValueHeaderBytes) {
    return Status::Corruption("hint value shorter than its created_ms header");
  }
  uint64_t created_ms = 0;
  for (size_t i = kHintValueHeaderBytes; i-- > 0;) {
    created_ms = (created_ms << 8) | static_cast<unsigned char>(raw_value[i]);
  }
  return created_ms;
}

std::string_view HintValueRecord(std::string_view raw_value) {
  TROLLEY_ASSERT(raw_value.size() >= kHintValueHeaderBytes);
  return raw_value.substr(kHintValueHeaderBytes);
}

std::string DotFloorKey(ActorId actor) {
  std::string out(kDotFloorPrefix);
  AppendU64Be(out, actor);
  return out;
}

Result<ActorId> DecodeDotFloorKey(std::string_view raw) {
  if (!raw.starts_with(kDotFloorPrefix) || raw.size() != kDotFloorKeyBytes) {
    return Status::Corruption("not a dot floor key: " + std::to_string(raw.size()) + " bytes");
  }
  return ReadU64Be(raw.substr(kDotFloorPrefix.size()));
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

std::string ImmediateSuccessor(std::string_view raw) {
  std::string out(raw);
  out.push_back('\0');
  return out;
}

}  // namespace trolley::key_layout
