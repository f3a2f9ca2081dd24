// CartState::Encode / Decode: the bytes of one cart value.
//
// Byte layout (all integers little-endian), as storage/record_codec.h:
//
//   offset  size  field
//   0       2     magic "TK" (0x54 0x4b)
//   2       2     format version, u16; this build writes kCartFormatVersion
//   4       8k    a Cap'n Proto message as written by capnp::messageToFlatArray
//                 (segment table, then segments; unpacked), root
//                 trolley::cart_record::CartColumns (versions 3 and 2) or
//                 CartRecord (version 1) (cart/cart.capnp). Versions 1 and 2
//                 are still read (written only by cart_internal::EncodeV1 and
//                 EncodeV2, for tests): their tombstones, applied ids and live
//                 tags become the context, every id they name having been
//                 seen, so a value keeps what it removed and what it applied.
//                 It ends exactly at the end of the input: trailing bytes are
//                 corruption.
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
using cart_internal::CartTail;

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
// CartColumns.quantities: a "set" has this bit; the rest is the quantity.
constexpr uint32_t kSetBit = uint32_t{1} << 31;
static_assert(kCartQuantityLimit < kSetBit);

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

struct Framed {
  uint16_t version;
  std::string_view message;  // the Cap'n Proto part
};

// Checks the header.
Result<Framed> Unframe(std::string_view bytes) {
  if (bytes.size() < kCartHeaderBytes) {
    return Corrupt("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " +
                   std::to_string(kCartHeaderBytes) + "-byte header");
  }
  if (bytes[0] != kCartMagic[0] || bytes[1] != kCartMagic[1]) {
    const auto found = static_cast<uint16_t>((static_cast<uint8_t>(bytes[0]) << 8) |
                                             static_cast<uint8_t>(bytes[1]));
    return Corrupt("bad magic " + Hex16(found) +
                   ", expected 'TK': the key holds a value that is not a cart (written with "
                   "trolley kv put or Client::Put?); raw values and carts must not share a "
                   "namespace");
  }
  const auto version =
      static_cast<uint16_t>(static_cast<uint8_t>(bytes[2]) | (static_cast<uint8_t>(bytes[3]) << 8));
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
  return Framed{version, message};
}

// An aligned copy of a message's bytes (a whole number of words).
kj::Array<capnp::word> WordsOf(std::string_view message) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(message.size() / kWordBytes);
  std::memcpy(words.begin(), message.data(), message.size());
  return words;
}

// Reader limits for untrusted input of `words` words (see the constants).
capnp::ReaderOptions BoundedReading(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalWordsMin + kTraversalWordsPerInputWord * words;
  options.nestingLimit = kNestingLimit;
  return options;
}

// The semantics of `s`, or nullopt for a value this build does not know.
std::optional<CartSemantics> SemanticsOf(rec::Semantics s) {
  switch (s) {
    case rec::Semantics::UNION_MAX:
      return CartSemantics::kUnionMax;
    case rec::Semantics::OR_SET:
      return CartSemantics::kOrSet;
  }
  return std::nullopt;
}

rec::Semantics RecordSemantics(CartSemantics s) {
  return s == CartSemantics::kOrSet ? rec::Semantics::OR_SET : rec::Semantics::UNION_MAX;
}

Result<CartSemantics> ReadSemantics(rec::Semantics found, CartSemantics expected) {
  const std::optional<CartSemantics> semantics = SemanticsOf(found);
  if (!semantics) {
    return Corrupt("unknown semantics " + std::to_string(static_cast<uint16_t>(found)));
  }
  if (*semantics != expected) {
    return Status::FailedPrecondition(
        std::string(kWhat) + "this is a " + std::string(CartSemanticsName(*semantics)) +
        " cart, but it is being read as " + std::string(CartSemanticsName(expected)) +
        ": a namespace's cart semantics cannot change while it holds carts");
  }
  return *semantics;
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

// "line 'sku': ", to start an error message.
std::string Where(const std::string& sku) { return "line " + cart_internal::Quoted(sku) + ": "; }

// Checks one decoded contribution of line `sku` (`line` holds its earlier
// ones) and adds it.
Status AddContribution(const std::string& sku, CartSemantics semantics, uint64_t tag,
                       CartContribution c, CartContributions& line) {
  if (tag == 0) return Corrupt(Where(sku) + "a contribution has tag 0");
  if (!line.empty() && line.rbegin()->first >= tag) {
    return Corrupt(Where(sku) + "contribution tags are not ascending (" +
                   std::to_string(line.rbegin()->first) + " then " + std::to_string(tag) + ")");
  }
  if (semantics == CartSemantics::kUnionMax && c.kind != CartContribution::Kind::kSet) {
    return Corrupt(Where(sku) + "a union-max line holds an add contribution");
  }
  if (c.quantity == 0) {
    return Corrupt(Where(sku) + "contribution " + std::to_string(tag) + " is 0");
  }
  line.emplace_hint(line.end(), tag, std::move(c));
  return Status::Ok();
}

// Checks a decoded line (sku order, contribution count, tags unique across
// lines) and adds it to `lines`.
Status AddLine(std::string sku, CartContributions contributions, CartSemantics semantics,
               std::set<uint64_t>& live_tags, std::map<std::string, CartContributions>& lines) {
  if (sku.empty()) return Corrupt("a line has an empty sku");
  if (!lines.empty() && lines.rbegin()->first >= sku) {
    return Corrupt("lines are not sorted by sku or repeat one (" +
                   cart_internal::Quoted(lines.rbegin()->first) + " then " +
                   cart_internal::Quoted(sku) + ")");
  }
  if (contributions.empty()) return Corrupt(Where(sku) + "no contributions");
  if (semantics == CartSemantics::kUnionMax && contributions.size() != 1) {
    return Corrupt(Where(sku) + std::to_string(contributions.size()) +
                   " contributions; a union-max line has exactly one");
  }
  for (const auto& [tag, c] : contributions) {
    if (!live_tags.insert(tag).second) {
      return Corrupt("tag " + std::to_string(tag) + " appears in two lines");
    }
  }
  lines.emplace_hint(lines.end(), std::move(sku), std::move(contributions));
  return Status::Ok();
}

// Every version: the guest-merge mark.
template <typename Root>
Status ReadMergedInto(Root root, CartParts& parts) {
  if (root.hasMergedInto()) {
    const capnp::Text::Reader text = root.getMergedInto();
    if (text.size() == 0) return Corrupt("merged-into key is present but empty");
    parts.merged_into.emplace(text.begin(), text.size());
  }
  return Status::Ok();
}

// Versions 1 and 2: tombstones and the applied-id window. Every id they
// name, and every live tag, was seen: together they are the context.
template <typename Root>
Status ReadLegacyTail(Root root, const std::set<uint64_t>& live_tags, CartParts& parts) {
  const capnp::List<uint64_t>::Reader removed_list = root.getRemovedTags();
  if (parts.semantics == CartSemantics::kUnionMax && removed_list.size() != 0) {
    return Corrupt("a union-max cart holds " + std::to_string(removed_list.size()) +
                   " removed tags");
  }
  uint64_t previous = 0;
  for (const uint64_t tag : removed_list) {
    if (tag == 0) return Corrupt("removed tag 0");
    if (previous >= tag && previous != 0) {
      return Corrupt("removed tags are not ascending (" + std::to_string(previous) + " then " +
                     std::to_string(tag) + ")");
    }
    if (live_tags.contains(tag)) {
      return Corrupt("tag " + std::to_string(tag) + " is both live and removed");
    }
    parts.context.Add(tag);
    previous = tag;
  }
  previous = 0;
  for (rec::AppliedMutation::Reader a : root.getApplied()) {
    const uint64_t id = a.getId();
    if (id == 0) return Corrupt("applied mutation id 0");
    if (previous >= id && previous != 0) {
      return Corrupt("applied ids are not ascending (" + std::to_string(previous) + " then " +
                     std::to_string(id) + ")");
    }
    parts.context.Add(id);
    previous = id;
  }
  for (const uint64_t tag : live_tags) parts.context.Add(tag);
  return ReadMergedInto(root, parts);
}

// The causal context of a CartColumns or a head record.
template <typename Root>
Result<CartContext> ReadCausalContext(Root root) {
  std::vector<uint64_t> sessions;
  std::vector<uint64_t> dots;
  for (const uint64_t id : root.getContextSessions()) sessions.push_back(id);
  for (const uint64_t id : root.getContextDots()) dots.push_back(id);
  std::optional<CartContext> context = CartContext::FromParts(sessions, dots);
  if (!context) {
    return Corrupt(
        "the causal context is not canonical (sessions or ids out of order, a zero "
        "counter, or an id its session already covers)");
  }
  return std::move(*context);
}

// Version 3: the context, which covers every live tag.
Status ReadContext(rec::CartColumns::Reader root, const std::set<uint64_t>& live_tags,
                   CartParts& parts) {
  if (root.getRemovedTags().size() != 0 || root.getApplied().size() != 0) {
    return Corrupt("a version-3 cart holds removed tags or applied ids");
  }
  Result<CartContext> context = ReadCausalContext(root);
  if (!context.ok()) return context.status();
  for (const uint64_t tag : live_tags) {
    if (!context->Covers(tag)) {
      return Corrupt("live tag " + std::to_string(tag) + " is not in the causal context");
    }
  }
  parts.context = std::move(*context);
  return ReadMergedInto(root, parts);
}

// Format version 1.
Result<CartParts> ReadRecord(rec::CartRecord::Reader root, CartSemantics expected) {
  Result<CartSemantics> semantics = ReadSemantics(root.getSemantics(), expected);
  if (!semantics.ok()) return semantics.status();
  CartParts parts{*semantics, {}, {}, {}};
  std::set<uint64_t> live_tags;
  for (rec::Line::Reader line : root.getLines()) {
    const capnp::Text::Reader sku_text = line.getSku();
    std::string sku(sku_text.begin(), sku_text.size());
    CartContributions contributions;
    for (rec::Contribution::Reader r : line.getContributions()) {
      const uint64_t tag = r.getTag();
      CartContribution c;
      switch (r.getKind()) {
        case rec::ContributionKind::ADD:
          c.kind = CartContribution::Kind::kAdd;
          break;
        case rec::ContributionKind::SET:
          c.kind = CartContribution::Kind::kSet;
          break;
        default:
          return Corrupt(Where(sku) + "contribution " + std::to_string(tag) + " has unknown kind " +
                         std::to_string(static_cast<uint16_t>(r.getKind())));
      }
      c.quantity = r.getQuantity();
      c.at_ms = r.getAtMs();
      Result<CartAttributes> attributes = ReadAttributes(r.getAttributes());
      if (!attributes.ok()) {
        return Status::Corruption(attributes.status().message() + " (" + Where(sku) +
                                  "contribution " + std::to_string(tag) + ")");
      }
      c.attributes = std::move(attributes).value();
      if (Status s = AddContribution(sku, *semantics, tag, std::move(c), contributions); !s.ok()) {
        return s;
      }
    }
    if (Status s =
            AddLine(std::move(sku), std::move(contributions), *semantics, live_tags, parts.lines);
        !s.ok()) {
      return s;
    }
  }
  if (Status s = ReadLegacyTail(root, live_tags, parts); !s.ok()) return s;
  return parts;
}

// The attribute entries of `contributions` contributions (CartColumns,
// CartLineRecord), by contribution index.
Result<std::map<uint32_t, CartAttributes>> ReadAttributeEntries(
    capnp::List<rec::ContributionAttributes>::Reader entries, size_t contributions) {
  std::map<uint32_t, CartAttributes> attributes_of;
  for (rec::ContributionAttributes::Reader a : entries) {
    const uint32_t index = a.getContribution();
    if (index >= contributions) {
      return Corrupt("attributes of contribution " + std::to_string(index) + ", but there are " +
                     std::to_string(contributions));
    }
    if (!attributes_of.empty() && attributes_of.rbegin()->first >= index) {
      return Corrupt("attribute entries are not ascending by contribution (" +
                     std::to_string(attributes_of.rbegin()->first) + " then " +
                     std::to_string(index) + ")");
    }
    if (a.getAttributes().size() == 0) {
      return Corrupt("contribution " + std::to_string(index) + " has an empty attribute entry");
    }
    Result<CartAttributes> read = ReadAttributes(a.getAttributes());
    if (!read.ok()) {
      return Status::Corruption(read.status().message() + " (contribution " +
                                std::to_string(index) + ")");
    }
    attributes_of.emplace_hint(attributes_of.end(), index, std::move(read).value());
  }
  return attributes_of;
}

// A contribution as its quantity word (kind bit and quantity) and time.
CartContribution ContributionOf(uint32_t quantity, uint64_t at_ms) {
  CartContribution c;
  c.kind = quantity & kSetBit ? CartContribution::Kind::kSet : CartContribution::Kind::kAdd;
  c.quantity = quantity & ~kSetBit;
  c.at_ms = at_ms;
  return c;
}

// Format versions 2 and 3.
Result<CartParts> ReadColumns(rec::CartColumns::Reader root, CartSemantics expected,
                              uint16_t version) {
  Result<CartSemantics> semantics = ReadSemantics(root.getSemantics(), expected);
  if (!semantics.ok()) return semantics.status();
  CartParts parts{*semantics, {}, {}, {}};
  const capnp::Data::Reader skus = root.getSkus();
  const capnp::List<uint32_t>::Reader line_columns = root.getLines();
  const capnp::List<uint64_t>::Reader contribution_columns = root.getContributions();
  const capnp::List<uint32_t>::Reader quantities = root.getQuantities();
  const auto attributes = root.getAttributes();
  if (line_columns.size() % 2 != 0) {
    return Corrupt("the line list has an odd length " + std::to_string(line_columns.size()));
  }
  if (contribution_columns.size() != 2 * size_t{quantities.size()}) {
    return Corrupt(std::to_string(contribution_columns.size()) + " contribution words for " +
                   std::to_string(quantities.size()) + " quantities; expected two each");
  }
  const size_t contributions = quantities.size();
  // Attributes first, by contribution index.
  Result<std::map<uint32_t, CartAttributes>> attributes_read =
      ReadAttributeEntries(attributes, contributions);
  if (!attributes_read.ok()) return attributes_read.status();
  std::map<uint32_t, CartAttributes>& attributes_of = *attributes_read;
  std::set<uint64_t> live_tags;
  size_t sku_at = 0;
  size_t next = 0;  // the next contribution
  for (unsigned i = 0; i < line_columns.size(); i += 2) {
    const size_t size = line_columns[i];
    if (size == 0) return Corrupt("a line has an empty sku");
    if (size > skus.size() - sku_at) {
      return Corrupt("sku lengths add up to more than the " + std::to_string(skus.size()) +
                     " sku bytes");
    }
    std::string sku(reinterpret_cast<const char*>(skus.begin()) + sku_at, size);
    sku_at += size;
    const size_t count = line_columns[i + 1];
    if (count > contributions - next) {
      return Corrupt(Where(sku) + "claims " + std::to_string(count) + " contributions, but only " +
                     std::to_string(contributions - next) + " are left");
    }
    CartContributions line;
    for (const size_t end = next + count; next < end; ++next) {
      const auto index = static_cast<unsigned>(next);
      CartContribution c = ContributionOf(quantities[index], contribution_columns[2 * index + 1]);
      if (auto a = attributes_of.find(static_cast<uint32_t>(next)); a != attributes_of.end()) {
        c.attributes = std::move(a->second);
      }
      const uint64_t tag = contribution_columns[2 * index];
      if (Status s = AddContribution(sku, *semantics, tag, std::move(c), line); !s.ok()) {
        return s;
      }
    }
    if (Status s = AddLine(std::move(sku), std::move(line), *semantics, live_tags, parts.lines);
        !s.ok()) {
      return s;
    }
  }
  if (sku_at != skus.size()) {
    return Corrupt(std::to_string(skus.size() - sku_at) + " sku bytes belong to no line");
  }
  if (next != contributions) {
    return Corrupt(std::to_string(contributions - next) + " contributions belong to no line");
  }
  if (version == 2) {
    if (root.getContextSessions().size() != 0 || root.getContextDots().size() != 0) {
      return Corrupt("a version-2 cart holds a causal context");
    }
    if (Status s = ReadLegacyTail(root, live_tags, parts); !s.ok()) return s;
    return parts;
  }
  if (Status s = ReadContext(root, live_tags, parts); !s.ok()) return s;
  return parts;
}

// Version 3 (and a head record): the context and the mark.
template <typename Root>
void WriteTail(const CartTail& tail, Root root) {
  const CartContext& context = tail.context;
  if (!context.sessions().empty()) {
    auto sessions = root.initContextSessions(static_cast<unsigned>(context.sessions().size()));
    unsigned i = 0;
    for (const auto& [session, max] : context.sessions()) {
      sessions.set(i++, MutationIdOf(session, max));
    }
  }
  if (!context.dots().empty()) {
    auto dots = root.initContextDots(static_cast<unsigned>(context.dots().size()));
    unsigned i = 0;
    for (const uint64_t id : context.dots()) dots.set(i++, id);
  }
  if (tail.merged_into) root.setMergedInto(TextOf(*tail.merged_into));
}

// The ids versions 1 and 2 stored as tombstones (OR-Set) or applied ids
// (union+max): the context's ids that are not live.
std::vector<uint64_t> LegacyIds(const CartState& s) {
  std::set<uint64_t> live;
  for (const auto& [sku, line] : s.lines()) {
    for (const auto& [tag, c] : line) live.insert(tag);
  }
  std::vector<uint64_t> out;
  for (const uint64_t id : s.context().Ids()) {
    if (!live.contains(id)) out.push_back(id);
  }
  return out;
}

// Versions 1 and 2, for tests.
template <typename Root>
void WriteLegacyTail(const CartState& s, Root root) {
  const std::vector<uint64_t> ids = LegacyIds(s);
  if (!ids.empty() && s.semantics() == CartSemantics::kOrSet) {
    auto removed = root.initRemovedTags(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i) removed.set(i, ids[i]);
  } else if (!ids.empty()) {
    auto applied = root.initApplied(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i) applied[i].setId(ids[i]);
  }
  if (s.merged_into()) root.setMergedInto(TextOf(*s.merged_into()));
}

void WriteAttributes(const CartAttributes& from, capnp::List<rec::Attribute>::Builder to) {
  unsigned k = 0;
  for (const auto& [key, value] : from) {
    rec::Attribute::Builder a = to[k++];
    a.setKey(TextOf(key));
    if (!value.empty()) a.setValue(TextOf(value));
  }
}

// Contribution `c` tagged `tag` as entry `j` of the columns (CartColumns,
// CartLineRecord); its attributes, if any, as the next attribute entry `a`.
void WriteContribution(uint64_t tag, const CartContribution& c, unsigned j,
                       capnp::List<uint64_t>::Builder columns,
                       capnp::List<uint32_t>::Builder quantities,
                       capnp::List<rec::ContributionAttributes>::Builder attributes, unsigned& a) {
  TROLLEY_ASSERT(c.quantity <= kCartQuantityLimit);
  columns.set(2 * j, tag);
  columns.set(2 * j + 1, c.at_ms);
  quantities.set(j, c.quantity | (c.kind == CartContribution::Kind::kSet ? kSetBit : 0));
  if (c.attributes.empty()) return;
  rec::ContributionAttributes::Builder entry = attributes[a++];
  entry.setContribution(j);
  WriteAttributes(c.attributes, entry.initAttributes(static_cast<unsigned>(c.attributes.size())));
}

size_t AttributesWords(const CartAttributes& attributes) {
  size_t words = 1 + attributes.size() * StructWords<rec::Attribute>();
  for (const auto& [key, value] : attributes) {
    words += TextWords(key.size());
    if (!value.empty()) words += TextWords(value.size());
  }
  return words;
}

// Words of the context and the mark (a List(UInt64) has no tag word).
size_t TailWords(const CartTail& tail) {
  size_t words = tail.context.sessions().size() + tail.context.dots().size();
  if (tail.merged_into) words += TextWords(tail.merged_into->size());
  return words;
}

// The same in versions 1 and 2.
size_t LegacyTailWords(const CartState& s) {
  const size_t ids = LegacyIds(s).size();
  size_t words = 0;
  if (ids != 0 && s.semantics() == CartSemantics::kOrSet) {
    words += ids;
  } else if (ids != 0) {
    words += 1 + ids * StructWords<rec::AppliedMutation>();
  }
  if (s.merged_into()) words += TextWords(s.merged_into()->size());
  return words;
}

size_t BytesWords(size_t bytes) { return (bytes + kWordBytes - 1) / kWordBytes; }

CartLineSizes SizesOf(const std::map<std::string, CartContributions>& lines) {
  CartLineSizes out;
  for (const auto& [sku, line] : lines) out += cart_internal::SizesOfLine(sku, line);
  return out;
}

// Encode().size() of a cart whose lines have `sizes` and whose tail (the
// context and the mark) takes `tail_words`.
size_t ColumnsBytes(const CartLineSizes& sizes, size_t tail_words) {
  size_t words = 1 + 1 + StructWords<rec::CartColumns>();  // segment table, root pointer
  if (sizes.lines != 0) {
    words += BytesWords(sizes.sku_bytes);
    words += BytesWords(2 * 4 * sizes.lines);      // lines
    words += 2 * sizes.contributions;              // contributions
    words += BytesWords(4 * sizes.contributions);  // quantities
    if (sizes.with_attributes != 0) {
      words += 1 + sizes.with_attributes * StructWords<rec::ContributionAttributes>() +
               sizes.attributes_words;
    }
  }
  return kCartHeaderBytes + (words + tail_words) * kWordBytes;
}

// A 4-byte header (`magic`, `version` little-endian), then the message of
// `builder`: cart values and the records of a cart stored apart.
std::string FrameAs(capnp::MallocMessageBuilder& builder, const char (&magic)[2],
                    uint16_t version) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  std::string out;
  out.reserve(kCartHeaderBytes + bytes.size());
  out.push_back(magic[0]);
  out.push_back(magic[1]);
  out.push_back(static_cast<char>(version & 0xff));
  out.push_back(static_cast<char>(version >> 8));
  out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  return out;
}

// A cart value: the header, then the single segment of `builder`;
// `expected_bytes` is asserted.
std::string Frame(capnp::MallocMessageBuilder& builder, uint16_t version, size_t expected_bytes) {
  std::string out = FrameAs(builder, kCartMagic, version);
  // One segment, and the size computed beforehand was exact.
  TROLLEY_ASSERT(builder.getSegmentsForOutput().size() == 1);
  TROLLEY_ASSERT(out.size() == expected_bytes);
  return out;
}

// A builder of one segment holding exactly `bytes` of framed message: the
// segment table word is not part of the segment.
unsigned SegmentWords(size_t bytes) {
  return static_cast<unsigned>((bytes - kCartHeaderBytes) / kWordBytes - 1);
}

}  // namespace

CartState CartState::FromParts(CartParts parts) {
  CartState out(parts.semantics);
  out.lines_ = std::move(parts.lines);
  out.context_ = std::move(parts.context);
  out.merged_into_ = std::move(parts.merged_into);
  out.CheckInvariants();  // the pair of the check in Encode
  return out;
}

namespace cart_internal {

CartLineSizes SizesOfLine(const std::string& sku, const CartContributions& line) {
  CartLineSizes out;
  out.lines = 1;
  out.sku_bytes = sku.size();
  out.contributions = line.size();
  for (const auto& [tag, c] : line) {
    if (c.attributes.empty()) continue;
    ++out.with_attributes;
    out.attributes_words += AttributesWords(c.attributes);
  }
  return out;
}

size_t EncodedBytesOf(const CartLineSizes& sizes, const CartContext& context,
                      const std::optional<std::string>& merged_into) {
  return ColumnsBytes(sizes, TailWords(CartTail{context, merged_into}));
}

}  // namespace cart_internal

size_t CartState::EncodedBytes() const {
  return ColumnsBytes(SizesOf(lines_), TailWords(cart_internal::CartTail{context_, merged_into_}));
}

std::string CartState::Encode() const {
  return cart_internal::EncodeColumns(*this, kCartFormatVersion);
}

std::string CartState::EncodeLinesOnly() const {
  static const std::optional<std::string> kNoMark;
  CartContext tags;
  for (const auto& [sku, line] : lines_) {
    for (const auto& [tag, c] : line) tags.Add(tag);
  }
  return cart_internal::EncodeColumns(*this, kCartFormatVersion,
                                      cart_internal::CartTail{tags, kNoMark});
}

namespace cart_internal {

std::string EncodeColumns(const CartState& s, uint16_t version) {
  return EncodeColumns(s, version, CartTail{s.context(), s.merged_into()});
}

std::string EncodeColumns(const CartState& s, uint16_t version, const CartTail& tail) {
  TROLLEY_ASSERT(version == 2 || version == 3);
  TROLLEY_ASSERT(version == 3 || &tail.context == &s.context());
  s.CheckInvariants();
  const CartLineSizes sizes = SizesOf(s.lines());
  const size_t expected_bytes =
      ColumnsBytes(sizes, version == 3 ? TailWords(tail) : LegacyTailWords(s));
  capnp::MallocMessageBuilder builder(SegmentWords(expected_bytes),
                                      capnp::AllocationStrategy::FIXED_SIZE);
  rec::CartColumns::Builder root = builder.initRoot<rec::CartColumns>();
  root.setSemantics(RecordSemantics(s.semantics()));
  if (!s.lines().empty()) {
    const auto lines = static_cast<unsigned>(sizes.lines);
    const auto count = static_cast<unsigned>(sizes.contributions);
    kj::byte* skus = root.initSkus(static_cast<unsigned>(sizes.sku_bytes)).begin();
    auto line_columns = root.initLines(2 * lines);
    auto contribution_columns = root.initContributions(2 * count);
    auto quantities = root.initQuantities(count);
    capnp::List<rec::ContributionAttributes>::Builder attributes;
    if (sizes.with_attributes != 0) {
      attributes = root.initAttributes(static_cast<unsigned>(sizes.with_attributes));
    }
    unsigned i = 0;
    unsigned j = 0;
    unsigned a = 0;
    for (const auto& [sku, line] : s.lines()) {
      std::memcpy(skus, sku.data(), sku.size());
      skus += sku.size();
      line_columns.set(i++, static_cast<uint32_t>(sku.size()));
      line_columns.set(i++, static_cast<uint32_t>(line.size()));
      for (const auto& [tag, c] : line) {
        WriteContribution(tag, c, j++, contribution_columns, quantities, attributes, a);
      }
    }
  }
  if (version == 3) {
    WriteTail(tail, root);
  } else {
    WriteLegacyTail(s, root);
  }
  return Frame(builder, version, expected_bytes);
}

std::string EncodeV2(const CartState& s) { return EncodeColumns(s, 2); }

std::string EncodeV1(const CartState& s) {
  s.CheckInvariants();
  size_t words = 1 + 1 + StructWords<rec::CartRecord>();
  if (!s.lines().empty()) {
    words += 1 + s.lines().size() * StructWords<rec::Line>();
    for (const auto& [sku, line] : s.lines()) {
      words += TextWords(sku.size());
      words += 1 + line.size() * StructWords<rec::Contribution>();
      for (const auto& [tag, c] : line) {
        if (!c.attributes.empty()) words += AttributesWords(c.attributes);
      }
    }
  }
  const size_t expected_bytes = kCartHeaderBytes + (words + LegacyTailWords(s)) * kWordBytes;
  capnp::MallocMessageBuilder builder(SegmentWords(expected_bytes),
                                      capnp::AllocationStrategy::FIXED_SIZE);
  rec::CartRecord::Builder root = builder.initRoot<rec::CartRecord>();
  root.setSemantics(RecordSemantics(s.semantics()));
  if (!s.lines().empty()) {
    auto lines = root.initLines(static_cast<unsigned>(s.lines().size()));
    unsigned i = 0;
    for (const auto& [sku, line] : s.lines()) {
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
        WriteAttributes(c.attributes, b.initAttributes(static_cast<unsigned>(c.attributes.size())));
      }
    }
  }
  WriteLegacyTail(s, root);
  return Frame(builder, 1, expected_bytes);
}

}  // namespace cart_internal

Result<CartState> CartState::Decode(std::string_view bytes, CartSemantics expected) {
  Result<Framed> framed = Unframe(bytes);
  if (!framed.ok()) return framed.status();
  const std::string_view message = framed->message;
  const kj::Array<capnp::word> words = WordsOf(message);
  const capnp::ReaderOptions options = BoundedReading(words.size());
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      return Corrupt(std::to_string((words.end() - reader.getEnd()) * kWordBytes) +
                     " trailing bytes after the Cap'n Proto message");
    }
    Result<CartParts> parts =
        framed->version == 1
            ? ReadRecord(reader.getRoot<rec::CartRecord>(), expected)
            : ReadColumns(reader.getRoot<rec::CartColumns>(), expected, framed->version);
    if (!parts.ok()) return parts.status();
    return FromParts(std::move(parts).value());
  } catch (const kj::Exception& e) {
    return Corrupt(std::string("malformed Cap'n Proto message: ") + e.getDescription().cStr());
  }
}

// ---- a cart as a head and lines (cart_lines.h) ----

namespace {

constexpr char kHeadMagic[2] = {'T', 'H'};
constexpr char kLineMagic[2] = {'T', 'L'};
constexpr uint16_t kSplitFormatVersion = 1;
constexpr size_t kLineSizesFields = 5;

// Reads a head or line record: its header, then read(root), as untrusted
// input (bounded like CartState::Decode); errors start with `what`.
template <typename Root, typename T, typename Fn>
Result<T> ReadSplit(std::string_view bytes, const char (&magic)[2], const std::string& what,
                    Fn read) {
  auto bad = [&](const std::string& why) { return Status::Corruption(what + why); };
  if (bytes.size() < kCartHeaderBytes) {
    return bad("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the header");
  }
  if (bytes[0] != magic[0] || bytes[1] != magic[1]) {
    return bad(std::string("bad magic, expected '") + magic[0] + magic[1] + "'");
  }
  const auto version =
      static_cast<uint16_t>(static_cast<uint8_t>(bytes[2]) | (static_cast<uint8_t>(bytes[3]) << 8));
  if (version == 0) return bad("format version 0 is not a valid version");
  if (version > kSplitFormatVersion) {
    return Status::FailedPrecondition(what + "format version " + std::to_string(version) +
                                      " is newer than this build supports (" +
                                      std::to_string(kSplitFormatVersion) + ")");
  }
  const std::string_view message = bytes.substr(kCartHeaderBytes);
  if (message.size() < kMessageBytesMin || message.size() % kWordBytes != 0) {
    return bad("truncated: the Cap'n Proto message is not a whole number of words");
  }
  const kj::Array<capnp::word> words = WordsOf(message);
  const capnp::ReaderOptions options = BoundedReading(words.size());
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) return bad("trailing bytes after the message");
    Result<T> out = read(reader.getRoot<Root>());
    if (out.ok()) return out;
    // The shared readers speak of a cart value; this is a record of one.
    std::string_view why = out.status().message();
    if (why.starts_with(kWhat)) why.remove_prefix(kWhat.size());
    return Status(out.status().code(), what + std::string(why));
  } catch (const kj::Exception& e) {
    return bad(std::string("malformed Cap'n Proto message: ") + e.getDescription().cStr());
  }
}

}  // namespace

std::string EncodeCartHead(const CartHead& head) {
  capnp::MallocMessageBuilder builder;
  rec::CartHeadRecord::Builder root = builder.initRoot<rec::CartHeadRecord>();
  WriteTail(CartTail{head.context, head.merged_into}, root);
  auto sizes = root.initLineSizes(kLineSizesFields);
  sizes.set(0, head.sizes.lines);
  sizes.set(1, head.sizes.sku_bytes);
  sizes.set(2, head.sizes.contributions);
  sizes.set(3, head.sizes.with_attributes);
  sizes.set(4, head.sizes.attributes_words);
  return FrameAs(builder, kHeadMagic, kSplitFormatVersion);
}

Result<CartHead> DecodeCartHead(std::string_view bytes) {
  return ReadSplit<rec::CartHeadRecord, CartHead>(
      bytes, kHeadMagic,
      "cart head record: ", [](rec::CartHeadRecord::Reader root) -> Result<CartHead> {
        Result<CartContext> context = ReadCausalContext(root);
        if (!context.ok()) return context.status();
        CartHead head;
        head.context = std::move(context).value();
        if (root.hasMergedInto()) {
          const capnp::Text::Reader text = root.getMergedInto();
          if (text.size() == 0) return Status::Corruption("merged-into key is present but empty");
          head.merged_into.emplace(text.begin(), text.size());
        }
        const auto sizes = root.getLineSizes();
        if (sizes.size() != kLineSizesFields) {
          return Status::Corruption(std::to_string(sizes.size()) + " line sizes, expected " +
                                    std::to_string(kLineSizesFields));
        }
        head.sizes = CartLineSizes{sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]};
        return head;
      });
}

std::string EncodeCartLine(const CartContributions& line) {
  capnp::MallocMessageBuilder builder;
  rec::CartLineRecord::Builder root = builder.initRoot<rec::CartLineRecord>();
  const auto count = static_cast<unsigned>(line.size());
  auto columns = root.initContributions(2 * count);
  auto quantities = root.initQuantities(count);
  unsigned with_attributes = 0;
  for (const auto& [tag, c] : line) with_attributes += c.attributes.empty() ? 0 : 1;
  capnp::List<rec::ContributionAttributes>::Builder attributes;
  if (with_attributes != 0) attributes = root.initAttributes(with_attributes);
  unsigned j = 0, a = 0;
  for (const auto& [tag, c] : line)
    WriteContribution(tag, c, j++, columns, quantities, attributes, a);
  return FrameAs(builder, kLineMagic, kSplitFormatVersion);
}

Result<CartContributions> DecodeCartLine(std::string_view bytes, const std::string& sku) {
  return ReadSplit<rec::CartLineRecord, CartContributions>(
      bytes, kLineMagic, "cart line record of " + cart_internal::Quoted(sku) + ": ",
      [&sku](rec::CartLineRecord::Reader root) -> Result<CartContributions> {
        const auto columns = root.getContributions();
        const auto quantities = root.getQuantities();
        if (columns.size() != 2 * size_t{quantities.size()}) {
          return Status::Corruption(std::to_string(columns.size()) + " contribution words for " +
                                    std::to_string(quantities.size()) + " quantities");
        }
        Result<std::map<uint32_t, CartAttributes>> attributes_of =
            ReadAttributeEntries(root.getAttributes(), quantities.size());
        if (!attributes_of.ok()) return attributes_of.status();
        CartContributions line;
        for (unsigned i = 0; i < quantities.size(); ++i) {
          CartContribution c = ContributionOf(quantities[i], columns[2 * i + 1]);
          if (auto it = attributes_of->find(i); it != attributes_of->end()) {
            c.attributes = std::move(it->second);
          }
          if (Status s =
                  AddContribution(sku, CartSemantics::kOrSet, columns[2 * i], std::move(c), line);
              !s.ok()) {
            return s;
          }
        }
        if (line.empty()) return Status::Corruption("no contributions");
        return line;
      });
}

Result<CartState> AssembleStoredCart(const CartSplit& split) {
  std::set<uint64_t> live_tags;
  CartLineSizes sizes;
  std::map<std::string, CartContributions> checked;
  for (const auto& [sku, line] : split.lines) {
    for (const auto& [tag, c] : line) {
      if (tag == 0 || c.quantity == 0)
        return Corrupt("stored cart: line " + cart_internal::Quoted(sku) +
                       " has a zero tag or quantity");
    }
    sizes += cart_internal::SizesOfLine(sku, line);
    if (Status s = AddLine(sku, line, CartSemantics::kOrSet, live_tags, checked); !s.ok()) {
      return Status::Corruption("stored cart: " + s.message());
    }
  }
  for (const uint64_t tag : live_tags) {
    if (!split.head.context.Covers(tag)) {
      return Corrupt("stored cart: live tag " + std::to_string(tag) +
                     " is not in the head's causal context");
    }
  }
  if (!(sizes == split.head.sizes)) {
    return Corrupt("stored cart: the head's line sizes are not its lines' (" +
                   std::to_string(split.head.sizes.lines) + " lines in the head, " +
                   std::to_string(sizes.lines) + " stored)");
  }
  return AssembleCart(split);
}

}  // namespace trolley
