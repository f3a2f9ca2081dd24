#include "storage/record_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "storage/record_capnp.h"

namespace trolley {
namespace {

// Reads may touch at most this many words per word of input. A well-formed
// record reads each word once; the slack is for readers that read a list
// twice. A hostile record whose pointers overlap (many siblings sharing one
// big value) or that claims a huge list of empty structs hits the limit
// instead of making decode allocate far more than its input.
constexpr uint64_t kTraversalWordsPerInputWord = 4;
constexpr uint64_t kTraversalWordsMin = 64;
// Our schema nests three deep (root, list, value); anything deeper is not
// ours. Cap'n Proto's default is 64.
constexpr int kNestingLimit = 16;
// A segment table word and a root pointer word.
constexpr size_t kMessageBytesMin = 2 * sizeof(capnp::word);
// Cap'n Proto's limit on a Data blob (29-bit element count).
constexpr size_t kValueBytesMax = (size_t{1} << 29) - 1;

constexpr size_t kWordBytes = sizeof(capnp::word);

size_t WordsFor(size_t bytes) { return (bytes + kWordBytes - 1) / kWordBytes; }

std::string Hex16(uint16_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
  return out;
}

// Header + flat array of `builder`.
std::string Frame(const char (&magic)[2], capnp::MallocMessageBuilder& builder) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  std::string out;
  out.reserve(kRecordHeaderBytes + bytes.size());
  out.push_back(magic[0]);
  out.push_back(magic[1]);
  out.push_back(static_cast<char>(kRecordFormatVersion & 0xff));
  out.push_back(static_cast<char>(kRecordFormatVersion >> 8));
  out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  TROLLEY_ASSERT(out.size() % kWordBytes == kRecordHeaderBytes);
  return out;
}

// Checks the header; on success returns the Cap'n Proto part of `bytes`.
// `what` names the kind in messages ("sibling set record").
Result<std::string_view> Unframe(std::string_view bytes, const char (&magic)[2],
                                 const char (&other_magic)[2], std::string_view other_what,
                                 std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  if (bytes.size() < kRecordHeaderBytes) {
    return Status::Corruption(prefix + "truncated: " + std::to_string(bytes.size()) +
                              " bytes, shorter than the " + std::to_string(kRecordHeaderBytes) +
                              "-byte header");
  }
  if (bytes[0] != magic[0] || bytes[1] != magic[1]) {
    const uint16_t found = static_cast<uint16_t>((static_cast<uint8_t>(bytes[0]) << 8) |
                                                 static_cast<uint8_t>(bytes[1]));
    std::string message =
        prefix + "bad magic " + Hex16(found) + ", expected '" + std::string(magic, 2) + "'";
    if (bytes[0] == other_magic[0] && bytes[1] == other_magic[1]) {
      message += " (this is a " + std::string(other_what) + ")";
    }
    return Status::Corruption(std::move(message));
  }
  const uint16_t version =
      static_cast<uint16_t>(static_cast<uint8_t>(bytes[2]) | (static_cast<uint8_t>(bytes[3]) << 8));
  if (version == 0) return Status::Corruption(prefix + "format version 0 is not a valid version");
  if (version > kRecordFormatVersion) {
    return Status::FailedPrecondition(prefix + "format version " + std::to_string(version) +
                                      " is newer than this build supports (" +
                                      std::to_string(kRecordFormatVersion) + "): upgrade trolley");
  }
  const std::string_view message = bytes.substr(kRecordHeaderBytes);
  if (message.size() < kMessageBytesMin || message.size() % kWordBytes != 0) {
    return Status::Corruption(prefix + "truncated: a " + std::to_string(message.size()) +
                              "-byte Cap'n Proto message is not a whole number of words, or "
                              "shorter than " +
                              std::to_string(kMessageBytesMin) + " bytes");
  }
  return message;
}

// Copies `message` (a whole number of words) into an aligned buffer: LMDB
// values and slices of network buffers are not 8-byte aligned, and Cap'n
// Proto refuses unaligned input.
kj::Array<capnp::word> AlignedCopy(std::string_view message) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(message.size() / kWordBytes);
  std::memcpy(words.begin(), message.data(), message.size());
  return words;
}

capnp::ReaderOptions LimitsFor(size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalWordsMin + kTraversalWordsPerInputWord * words;
  options.nestingLimit = kNestingLimit;
  return options;
}

// Words a message for `set` needs, so that it fits in one segment (which
// keeps encoding deterministic and compact). An underestimate only costs a
// second segment.
size_t EstimateWords(const SiblingSet& set) {
  using Sib = record::SiblingRecord::_capnpPrivate;
  using Vv = record::VvEntry::_capnpPrivate;
  size_t words = 1 + record::SiblingSetRecord::_capnpPrivate::dataWordSize +
                 record::SiblingSetRecord::_capnpPrivate::pointerCount;
  words += 1 + set.context().size() * (Vv::dataWordSize + Vv::pointerCount);
  words += 1 + set.size() * (Sib::dataWordSize + Sib::pointerCount);
  for (const Sibling& s : set.siblings()) words += WordsFor(s.value.size());
  return words;
}

// The framed record in `bytes` (own magic `magic`; `other_magic` names the
// other record kind, for a clear error), read with `read` from a bounded
// Cap'n Proto reader. Every failure is Corruption (FailedPrecondition for a
// newer format, from Unframe) prefixed with `what`.
template <typename T, typename Read>
Result<T> DecodeRecord(std::string_view bytes, const char (&magic)[2], const char (&other_magic)[2],
                       std::string_view other_what, std::string_view what, Read read) {
  Result<std::string_view> message = Unframe(bytes, magic, other_magic, other_what, what);
  if (!message.ok()) return message.status();
  const kj::Array<capnp::word> words = AlignedCopy(*message);
  try {
    capnp::FlatArrayMessageReader reader(words, LimitsFor(words.size()));
    if (reader.getEnd() != words.end()) {
      return Status::Corruption(std::string(what) + ": " +
                                std::to_string((words.end() - reader.getEnd()) * kWordBytes) +
                                " trailing bytes after the Cap'n Proto message");
    }
    Result<T> value = read(reader);
    if (!value.ok()) return Status::Corruption(std::string(what) + ": " + value.status().message());
    return value;
  } catch (const kj::Exception& e) {
    return Status::Corruption(std::string(what) +
                              ": malformed Cap'n Proto message: " + e.getDescription().cStr());
  }
}

}  // namespace

std::string EncodeSiblingSet(const SiblingSet& set) {
  set.CheckInvariants();
  capnp::MallocMessageBuilder builder(static_cast<unsigned>(EstimateWords(set)));
  WriteSiblingSetRecord(set, builder.initRoot<record::SiblingSetRecord>());
  return Frame(kSiblingSetMagic, builder);
}

Result<SiblingSet> DecodeSiblingSet(std::string_view bytes) {
  return DecodeRecord<SiblingSet>(
      bytes, kSiblingSetMagic, kContextMagic, "causal context token", "sibling set record",
      [](capnp::FlatArrayMessageReader& reader) {
        return ReadSiblingSetRecord(reader.getRoot<record::SiblingSetRecord>());
      });
}

std::string EncodeContext(const VersionVector& context) {
  capnp::MallocMessageBuilder builder(
      static_cast<unsigned>(3 + context.size() * record::VvEntry::_capnpPrivate::dataWordSize));
  record::ContextRecord::Builder root = builder.initRoot<record::ContextRecord>();
  if (!context.empty()) {
    WriteContextRecord(context, root.initEntries(static_cast<unsigned>(context.size())));
  }
  return Frame(kContextMagic, builder);
}

Result<VersionVector> DecodeContext(std::string_view bytes) {
  return DecodeRecord<VersionVector>(
      bytes, kContextMagic, kSiblingSetMagic, "sibling set record", "causal context token",
      [](capnp::FlatArrayMessageReader& reader) {
        return ReadContextRecord(reader.getRoot<record::ContextRecord>().getEntries());
      });
}

// ---- record_capnp.h

void WriteContextRecord(const VersionVector& vv, capnp::List<record::VvEntry>::Builder list) {
  TROLLEY_ASSERT(list.size() == vv.size());
  unsigned i = 0;
  for (const VersionVector::Entry& e : vv.entries()) {
    TROLLEY_ASSERT(e.counter >= 1);
    list[i].setActor(e.actor);
    list[i].setCounter(e.counter);
    ++i;
  }
}

void WriteSiblingSetRecord(const SiblingSet& set, record::SiblingSetRecord::Builder out) {
  set.CheckInvariants();
  if (!set.context().empty()) {
    WriteContextRecord(set.context(), out.initContext(static_cast<unsigned>(set.context().size())));
  }
  if (set.empty()) return;
  auto list = out.initSiblings(static_cast<unsigned>(set.size()));
  unsigned i = 0;
  for (const Sibling& s : set.siblings()) {
    record::SiblingRecord::Builder sib = list[i++];
    sib.setActor(s.dot.actor);
    sib.setCounter(s.dot.counter);
    if (!s.value.empty()) {
      TROLLEY_ASSERT(s.value.size() <= kValueBytesMax);
      sib.setValue(
          capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.value.data()), s.value.size()));
    }
    sib.setTombstone(s.tombstone);
    sib.setWriteId(s.write_id);
    sib.setTimestampMs(s.timestamp_ms);
    sib.setExpiryMs(s.expiry_ms);
  }
}

Result<VersionVector> ReadContextRecord(capnp::List<record::VvEntry>::Reader list) {
  std::vector<VersionVector::Entry> entries;
  entries.reserve(list.size());
  for (record::VvEntry::Reader e : list) {
    const VersionVector::Entry entry{e.getActor(), e.getCounter()};
    if (entry.counter == 0) {
      return Status::Corruption("context entry for actor " + std::to_string(entry.actor) +
                                " has counter 0");
    }
    if (!entries.empty() && entries.back().actor >= entry.actor) {
      return Status::Corruption("context entries are not sorted by actor (" +
                                std::to_string(entries.back().actor) + " then " +
                                std::to_string(entry.actor) + ")");
    }
    entries.push_back(entry);
  }
  VersionVector vv = VersionVector::FromEntries(std::move(entries));
  TROLLEY_ASSERT(vv.size() == list.size());
  return vv;
}

Result<SiblingSet> ReadSiblingSetRecord(record::SiblingSetRecord::Reader in) {
  Result<VersionVector> context = ReadContextRecord(in.getContext());
  if (!context.ok()) return context.status();
  const capnp::List<record::SiblingRecord>::Reader list = in.getSiblings();
  std::vector<Sibling> siblings;
  siblings.reserve(list.size());
  for (record::SiblingRecord::Reader r : list) {
    Sibling s;
    s.dot = Dot{r.getActor(), r.getCounter()};
    const capnp::Data::Reader value = r.getValue();
    s.value.assign(reinterpret_cast<const char*>(value.begin()), value.size());
    s.tombstone = r.getTombstone();
    s.write_id = r.getWriteId();
    s.timestamp_ms = r.getTimestampMs();
    s.expiry_ms = r.getExpiryMs();
    if (s.tombstone && !s.value.empty()) {
      return Status::Corruption("tombstone " + ToString(s.dot) + " carries a " +
                                std::to_string(s.value.size()) + "-byte value");
    }
    siblings.push_back(std::move(s));
  }
  std::optional<SiblingSet> set =
      SiblingSet::FromParts(std::move(context).value(), std::move(siblings));
  if (!set) {
    return Status::Corruption(
        "siblings are not sorted by dot, share a dot, have counter 0 or are not covered by the "
        "context");
  }
  set->CheckInvariants();  // the pair of the check in WriteSiblingSetRecord
  return std::move(*set);
}

}  // namespace trolley
