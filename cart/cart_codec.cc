// CartState::Encode / Decode: the bytes of one cart value.
//
// Byte layout (all integers little-endian), as storage/record_codec.h:
//
//   offset  size  field
//   0       2     magic "TK" (0x54 0x4b)
//   2       2     format version, u16; this build writes kCartFormatVersion
//   4       8k    a Cap'n Proto message as written by capnp::messageToFlatArray
//                 (segment table, then segments; unpacked), root
//                 trolley::cart_record::CartRecord (cart/cart.capnp). It ends
//                 exactly at the end of the input: trailing bytes are corruption.
//
// The header lets a reader refuse a value from a newer client release
// (FailedPrecondition, "upgrade") before parsing anything, and tells a cart
// apart from anything else a key might hold. Encoding is canonical (sorted
// maps, empty lists and texts left null, one segment sized exactly), so
// equal states give equal bytes and EncodedBytes() can compute the size
// without encoding. Decode copies the input once into aligned words: store
// values are not 8-byte aligned, and Cap'n Proto requires it.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "cart/cart.capnp.h"
#include "cart/cart_internal.h"
#include "cart/cart_state.h"
#include "common/assert.h"

namespace trolley {
namespace {

namespace rec = cart_record;

// As storage/record_codec.cc: a well-formed cart reads each word once; the
// slack covers readers that read a list twice. Overlapping pointers or a
// huge list of empty structs hit the limit instead of amplifying the input.
constexpr uint64_t kTraversalWordsPerInputWord = 4;
constexpr uint64_t kTraversalWordsMin = 64;
// Our schema nests about seven deep (root, lines, line, contributions,
// contribution, attributes, attribute, text). Cap'n Proto's default is 64.
constexpr int kNestingLimit = 16;
// A segment table word and a root pointer word.
constexpr size_t kMessageBytesMin = 2 * sizeof(capnp::word);
constexpr size_t kWordBytes = sizeof(capnp::word);
constexpr std::string_view kWhat = "cart value: ";

size_t TextWords(size_t bytes) { return (bytes + 1 + kWordBytes - 1) / kWordBytes; }

template <typename T>
constexpr size_t StructWords() {
  return T::_capnpPrivate::dataWordSize + T::_capnpPrivate::pointerCount;
}

capnp::Text::Reader TextOf(const std::string& s) {
  return capnp::Text::Reader(s.data(), s.size());  // std::string is NUL-terminated
}

std::string Hex16(uint16_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
  return out;
}

Status Corrupt(std::string message) {
  return Status::Corruption(std::string(kWhat) + std::move(message));
}

// Checks the header; returns the Cap'n Proto part of `bytes`.
Result<std::string_view> Unframe(std::string_view bytes) {
  if (bytes.size() < kCartHeaderBytes) {
    return Corrupt("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
                   std::to_string(kCartHeaderBytes) + "-byte header");
  }
  if (bytes[0] != kCartMagic[0] || bytes[1] != kCartMagic[1]) {
    const auto found = static_cast<uint16_t>((static_cast<uint8_t>(bytes[0]) << 8) |
                                             static_cast<uint8_t>(bytes[1]));
    return Corrupt("bad magic " + Hex16(found) + ", expected 'TK' (not a cart value)");
  }
  const auto version = static_cast<uint16_t>(static_cast<uint8_t>(bytes[2]) |
                                             (static_cast<uint8_t>(bytes[3]) << 8));
  if (version == 0) return Corrupt("format version 0 is not a valid version");
  if (version > kCartFormatVersion) {
    return Status::FailedPrecondition(
        std::string(kWhat) + "format version " + std::to_string(version) +
        " is newer than this build supports (" + std::to_string(kCartFormatVersion) +
        "): upgrade the trolley client");
  }
  const std::string_view message = bytes.substr(kCartHeaderBytes);
  if (message.size() < kMessageBytesMin || message.size() % kWordBytes != 0) {
    return Corrupt("truncated: a " + std::to_string(message.size()) +
                   "-byte Cap'n Proto message is not a whole number of words, or shorter than " +
                   std::to_string(kMessageBytesMin) + " bytes");
  }
  return message;
}

// The semantics of `s`, or nullopt for a value this build does not know.
std::optional<CartSemantics> SemanticsOf(rec::Semantics s) {
  switch (s) {
    case rec::Semantics::UNION_MAX: return CartSemantics::kUnionMax;
    case rec::Semantics::OR_SET: return CartSemantics::kOrSet;
  }
  return std::nullopt;
}

Result<CartAttributes> ReadAttributes(capnp::List<rec::Attribute>::Reader list) {
  CartAttributes out;
  for (rec::Attribute::Reader a : list) {
    const capnp::Text::Reader key = a.getKey();
    const capnp::Text::Reader value = a.getValue();
    std::string k(key.begin(), key.size());
    if (k.empty()) return Corrupt("an attribute has an empty key");
    if (!out.empty() && out.rbegin()->first >= k) {
      return Corrupt("attributes are not sorted by key or repeat one (" +
                     cart_internal::Quoted(out.rbegin()->first) + " then " +
                     cart_internal::Quoted(k) + ")");
    }
    out.emplace_hint(out.end(), std::move(k), std::string(value.begin(), value.size()));
  }
  return out;
}

Result<CartContributions> ReadLine(const std::string& sku,
                                   capnp::List<rec::Contribution>::Reader list,
                                   CartSemantics semantics) {
  const std::string where = "line " + cart_internal::Quoted(sku) + ": ";
  if (list.size() == 0) return Corrupt(where + "no contributions");
  if (semantics == CartSemantics::kUnionMax && list.size() != 1) {
    return Corrupt(where + std::to_string(list.size()) +
                   " contributions; a union-max line has exactly one");
  }
  CartContributions out;
  for (rec::Contribution::Reader r : list) {
    const uint64_t tag = r.getTag();
    if (tag == 0) return Corrupt(where + "a contribution has tag 0");
    if (!out.empty() && out.rbegin()->first >= tag) {
      return Corrupt(where + "contribution tags are not ascending (" +
                     std::to_string(out.rbegin()->first) + " then " + std::to_string(tag) + ")");
    }
    CartContribution c;
    switch (r.getKind()) {
      case rec::ContributionKind::ADD: c.kind = CartContribution::Kind::kAdd; break;
      case rec::ContributionKind::SET: c.kind = CartContribution::Kind::kSet; break;
      default:
        return Corrupt(where + "contribution " + std::to_string(tag) + " has unknown kind " +
                       std::to_string(static_cast<uint16_t>(r.getKind())));
    }
    if (semantics == CartSemantics::kUnionMax && c.kind != CartContribution::Kind::kSet) {
      return Corrupt(where + "a union-max line holds an add contribution");
    }
    c.quantity = r.getQuantity();
    if (c.quantity == 0) return Corrupt(where + "contribution " + std::to_string(tag) + " is 0");
    c.at_ms = r.getAtMs();
    Result<CartAttributes> attributes = ReadAttributes(r.getAttributes());
    if (!attributes.ok()) {
      return Status::Corruption(attributes.status().message() + " (" + where + "contribution " +
                                std::to_string(tag) + ")");
    }
    c.attributes = std::move(attributes).value();
    out.emplace_hint(out.end(), tag, std::move(c));
  }
  return out;
}

// The record's lines, removed tags, applied ids and mark, checked.
Result<CartParts> ReadRecord(rec::CartRecord::Reader root, CartSemantics expected) {
  const std::optional<CartSemantics> semantics = SemanticsOf(root.getSemantics());
  if (!semantics) {
    return Corrupt("unknown semantics " +
                   std::to_string(static_cast<uint16_t>(root.getSemantics())));
  }
  if (*semantics != expected) {
    return Status::FailedPrecondition(
        std::string(kWhat) + "this is a " + std::string(CartSemanticsName(*semantics)) +
        " cart, but it is being read as " + std::string(CartSemanticsName(expected)) +
        ": a namespace's cart semantics cannot change while it holds carts");
  }
  std::map<std::string, CartContributions> lines;
  std::set<uint64_t> live_tags;
  for (rec::Line::Reader line : root.getLines()) {
    const capnp::Text::Reader sku_text = line.getSku();
    std::string sku(sku_text.begin(), sku_text.size());
    if (sku.empty()) return Corrupt("a line has an empty sku");
    if (!lines.empty() && lines.rbegin()->first >= sku) {
      return Corrupt("lines are not sorted by sku or repeat one (" +
                     cart_internal::Quoted(lines.rbegin()->first) + " then " +
                     cart_internal::Quoted(sku) + ")");
    }
    Result<CartContributions> contributions = ReadLine(sku, line.getContributions(), *semantics);
    if (!contributions.ok()) return contributions.status();
    for (const auto& [tag, c] : *contributions) {
      if (!live_tags.insert(tag).second) {
        return Corrupt("tag " + std::to_string(tag) + " appears in two lines");
      }
    }
    lines.emplace_hint(lines.end(), std::move(sku), std::move(contributions).value());
  }
  std::vector<uint64_t> removed;
  const capnp::List<uint64_t>::Reader removed_list = root.getRemovedTags();
  if (*semantics == CartSemantics::kUnionMax && removed_list.size() != 0) {
    return Corrupt("a union-max cart holds " + std::to_string(removed_list.size()) +
                   " removed tags");
  }
  removed.reserve(removed_list.size());
  for (const uint64_t tag : removed_list) {
    if (tag == 0) return Corrupt("removed tag 0");
    if (!removed.empty() && removed.back() >= tag) {
      return Corrupt("removed tags are not ascending (" + std::to_string(removed.back()) +
                     " then " + std::to_string(tag) + ")");
    }
    if (live_tags.contains(tag)) {
      return Corrupt("tag " + std::to_string(tag) + " is both live and removed");
    }
    removed.push_back(tag);
  }
  std::map<uint64_t, uint64_t> applied;
  for (rec::AppliedMutation::Reader a : root.getApplied()) {
    const uint64_t id = a.getId();
    if (id == 0) return Corrupt("applied mutation id 0");
    if (!applied.empty() && applied.rbegin()->first >= id) {
      return Corrupt("applied ids are not ascending (" + std::to_string(applied.rbegin()->first) +
                     " then " + std::to_string(id) + ")");
    }
    applied.emplace_hint(applied.end(), id, a.getAtMs());
  }
  std::optional<std::string> merged_into;
  if (root.hasMergedInto()) {
    const capnp::Text::Reader text = root.getMergedInto();
    if (text.size() == 0) return Corrupt("merged-into key is present but empty");
    merged_into.emplace(text.begin(), text.size());
  }
  return CartParts{*semantics, std::move(lines), std::move(removed), std::move(applied),
                   std::move(merged_into)};
}

}  // namespace

CartState CartState::FromParts(CartParts parts) {
  CartState out(parts.semantics);
  out.lines_ = std::move(parts.lines);
  out.removed_tags_ = std::move(parts.removed_tags);
  out.applied_ = std::move(parts.applied);
  out.merged_into_ = std::move(parts.merged_into);
  out.CheckInvariants();  // the pair of the check in Encode
  return out;
}

size_t CartState::EncodedBytes() const {
  size_t words = 1 + 1 + StructWords<rec::CartRecord>();  // segment table, root pointer
  if (!lines_.empty()) {
    words += 1 + lines_.size() * StructWords<rec::Line>();
    for (const auto& [sku, line] : lines_) {
      words += TextWords(sku.size());
      words += 1 + line.size() * StructWords<rec::Contribution>();
      for (const auto& [tag, c] : line) {
        if (c.attributes.empty()) continue;
        words += 1 + c.attributes.size() * StructWords<rec::Attribute>();
        for (const auto& [key, value] : c.attributes) {
          words += TextWords(key.size());
          if (!value.empty()) words += TextWords(value.size());
        }
      }
    }
  }
  words += removed_tags_.size();  // a List(UInt64) has no tag word
  if (!applied_.empty()) words += 1 + applied_.size() * StructWords<rec::AppliedMutation>();
  if (merged_into_) words += TextWords(merged_into_->size());
  return kCartHeaderBytes + words * kWordBytes;
}

std::string CartState::Encode() const {
  CheckInvariants();
  const size_t expected_bytes = EncodedBytes();
  // One segment holding exactly the message: the segment table word is not
  // part of the segment.
  const size_t segment_words = (expected_bytes - kCartHeaderBytes) / kWordBytes - 1;
  capnp::MallocMessageBuilder builder(static_cast<unsigned>(segment_words),
                                      capnp::AllocationStrategy::FIXED_SIZE);
  rec::CartRecord::Builder root = builder.initRoot<rec::CartRecord>();
  root.setSemantics(semantics_ == CartSemantics::kOrSet ? rec::Semantics::OR_SET
                                                        : rec::Semantics::UNION_MAX);
  if (!lines_.empty()) {
    auto lines = root.initLines(static_cast<unsigned>(lines_.size()));
    unsigned i = 0;
    for (const auto& [sku, line] : lines_) {
      rec::Line::Builder l = lines[i++];
      l.setSku(TextOf(sku));
      auto contributions = l.initContributions(static_cast<unsigned>(line.size()));
      unsigned j = 0;
      for (const auto& [tag, c] : line) {
        rec::Contribution::Builder b = contributions[j++];
        b.setTag(tag);
        b.setKind(c.kind == CartContribution::Kind::kSet ? rec::ContributionKind::SET
                                                         : rec::ContributionKind::ADD);
        b.setQuantity(c.quantity);
        b.setAtMs(c.at_ms);
        if (c.attributes.empty()) continue;
        auto attributes = b.initAttributes(static_cast<unsigned>(c.attributes.size()));
        unsigned k = 0;
        for (const auto& [key, value] : c.attributes) {
          rec::Attribute::Builder a = attributes[k++];
          a.setKey(TextOf(key));
          if (!value.empty()) a.setValue(TextOf(value));
        }
      }
    }
  }
  if (!removed_tags_.empty()) {
    auto removed = root.initRemovedTags(static_cast<unsigned>(removed_tags_.size()));
    for (unsigned i = 0; i < removed_tags_.size(); ++i) removed.set(i, removed_tags_[i]);
  }
  if (!applied_.empty()) {
    auto applied = root.initApplied(static_cast<unsigned>(applied_.size()));
    unsigned i = 0;
    for (const auto& [id, at_ms] : applied_) {
      applied[i].setId(id);
      applied[i].setAtMs(at_ms);
      ++i;
    }
  }
  if (merged_into_) root.setMergedInto(TextOf(*merged_into_));

  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  std::string out;
  out.reserve(kCartHeaderBytes + bytes.size());
  out.push_back(kCartMagic[0]);
  out.push_back(kCartMagic[1]);
  out.push_back(static_cast<char>(kCartFormatVersion & 0xff));
  out.push_back(static_cast<char>(kCartFormatVersion >> 8));
  out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  // One segment, and EncodedBytes() was exact.
  TROLLEY_ASSERT(builder.getSegmentsForOutput().size() == 1);
  TROLLEY_ASSERT(out.size() == expected_bytes);
  return out;
}

Result<CartState> CartState::Decode(std::string_view bytes, CartSemantics expected) {
  Result<std::string_view> message = Unframe(bytes);
  if (!message.ok()) return message.status();
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(message->size() / kWordBytes);
  std::memcpy(words.begin(), message->data(), message->size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalWordsMin + kTraversalWordsPerInputWord * words.size();
  options.nestingLimit = kNestingLimit;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      return Corrupt(std::to_string((words.end() - reader.getEnd()) * kWordBytes) +
                     " trailing bytes after the Cap'n Proto message");
    }
    Result<CartParts> parts = ReadRecord(reader.getRoot<rec::CartRecord>(), expected);
    if (!parts.ok()) return parts.status();
    return FromParts(std::move(parts).value());
  } catch (const kj::Exception& e) {
    return Corrupt(std::string("malformed Cap'n Proto message: ") + e.getDescription().cStr());
  }
}

}  // namespace trolley
