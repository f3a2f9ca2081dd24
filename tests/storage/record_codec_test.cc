// Goal: the record codec round-trips every valid SiblingSet and context
// exactly, and turns every bad input (truncated, flipped, misaligned, from a
// newer release, or hand-built to abuse Cap'n Proto) into a Status, never a
// crash. Random cases are seeded; a failure prints the seed to replay.
#include "storage/record_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/random.h"
#include "storage/record.capnp.h"
#include "storage/sibling_set.h"
#include "tests/support/bad_bytes.h"
#include "tests/support/capnp_words.h"
#include "tests/support/random_state.h"
#include "tests/support/seeded_cases.h"

namespace trolley {
namespace {

constexpr uint64_t kSeed = 20261121;

using test_support::FlatArray;
using test_support::ListPointer;
using test_support::ReadLittleEndian32;
using test_support::StructPointer;

// A random reachable state (tests/support/random_state.h), with enough
// steps to reach the larger sets (8+ siblings) the round trips should see.
SiblingSet RandomState(Random& rng) { return test_support::RandomState(rng, 30); }

SiblingSet ExpectRoundTrip(const SiblingSet& set) {
  const std::string bytes = EncodeSiblingSet(set);
  Result<SiblingSet> decoded = DecodeSiblingSet(bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (!decoded.ok()) return {};
  EXPECT_EQ(*decoded, set) << set.DebugString();
  EXPECT_EQ(EncodeSiblingSet(*decoded), bytes);  // deterministic
  return std::move(decoded).value();
}

// ---- Hand-built records (Cap'n Proto words: tests/support/capnp_words.h).

// The record header: magic, then the format version (little-endian).
std::string Header(const char (&magic)[2], uint16_t version) {
  return {magic[0], magic[1], static_cast<char>(version & 0xff), static_cast<char>(version >> 8)};
}

// Header + a single-segment flat array holding `segment`.
std::string FrameRaw(const char (&magic)[2], uint16_t version,
                     const std::vector<uint64_t>& segment) {
  return Header(magic, version) + FlatArray(segment);
}

// Header + any builder's flat array (possibly several segments).
std::string FrameBuilder(const char (&magic)[2], capnp::MessageBuilder& builder) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  std::string out = Header(magic, kRecordFormatVersion);
  out.append(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size());
  return out;
}

// SiblingSetRecord with context {1: n} and n siblings (1,1)..(1,n), all of
// whose value pointers point at one shared blob of `blob_words` words: a
// message of ~7n + blob words that reads as n * blob words.
std::string SharedBlobRecord(uint32_t n, uint32_t blob_words) {
  std::vector<uint64_t> w;
  w.push_back(StructPointer(0, 0, 2));                        // 0: root -> 1
  w.push_back(ListPointer(1, 7, 2));                          // 1: context -> 3
  w.push_back(ListPointer(3, 7, 7ull * n));                   // 2: siblings -> 6
  w.push_back(StructPointer(1, 2, 0));                        // 3: tag, 1 element
  w.push_back(1);                                             // 4: actor
  w.push_back(n);                                             // 5: counter
  w.push_back(StructPointer(static_cast<int32_t>(n), 6, 1));  // 6: tag, n elements
  const size_t blob_at = 7 + 7ull * n;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t base = w.size();
    w.insert(w.end(), {1, i + 1, 0, 0, 0, 0});  // actor, counter, tombstone, ids
    const auto offset = static_cast<int32_t>(blob_at - (base + 7));
    w.push_back(ListPointer(offset, 2, blob_words * 8ull));
  }
  for (uint32_t i = 0; i < blob_words; ++i) w.push_back(0x6170706c65ull + i);
  return FrameRaw(kSiblingSetMagic, kRecordFormatVersion, w);
}

// ---- Round trips

TEST(RecordCodecTest, EmptySetRoundTrips) {
  const SiblingSet empty;
  ExpectRoundTrip(empty);
  EXPECT_EQ(EncodeSiblingSet(empty).size(), 36u);  // header 4 + table 8 + root 8 + struct 16
}

TEST(RecordCodecTest, SingleSiblingRoundTrips) {
  SiblingSet set;
  WriteIntent w;
  w.value = std::string("apple x3\0pear", 13);  // embedded NUL survives
  w.write_id = 42;
  w.timestamp_ms = 1'700'000'000'123;
  set.ApplyWrite(w, 7, 0);
  const SiblingSet decoded = ExpectRoundTrip(set);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_EQ(decoded.siblings()[0].value.size(), 13u);
  EXPECT_EQ(decoded.siblings()[0].write_id, 42u);
}

TEST(RecordCodecTest, RandomStatesRoundTripInOneSegment) {
  size_t siblings_max = 0;
  size_t tombstones = 0;
  size_t bytes_max = 0;
  test_support::RunSeededCases(kSeed, 1000, [&](Random& rng, uint64_t) {
    const SiblingSet set = RandomState(rng);
    ExpectRoundTrip(set);
    const std::string bytes = EncodeSiblingSet(set);
    ASSERT_EQ(ReadLittleEndian32(bytes, 4), 0u) << "more than one segment";
    EXPECT_EQ(size_t{ReadLittleEndian32(bytes, 8)} * 8 + 12, bytes.size());
    siblings_max = std::max(siblings_max, set.size());
    bytes_max = std::max(bytes_max, bytes.size());
    for (const Sibling& s : set.siblings()) tombstones += s.tombstone ? 1 : 0;
  });
  if (HasFailure()) return;
  // The generator reaches the interesting shapes.
  EXPECT_GE(siblings_max, 8u);
  EXPECT_GT(tombstones, 0u);
  std::printf("random states: up to %zu siblings, %zu tombstones, up to %zu bytes\n", siblings_max,
              tombstones, bytes_max);
}

TEST(RecordCodecTest, TombstonesAndExpiriesArePreserved) {
  SiblingSet set;
  WriteIntent expiring;
  expiring.value = "cart";
  expiring.expiry_ms = 1'800'000'000'000;
  expiring.timestamp_ms = 1'700'000'000'000;
  set.ApplyWrite(expiring, 1, 0);
  WriteIntent del;
  del.tombstone = true;
  del.timestamp_ms = 1'700'000'000'500;
  del.write_id = 9;
  set.ApplyWrite(del, 2, 0);  // blind: concurrent with the value
  ASSERT_EQ(set.size(), 2u);
  const SiblingSet decoded = ExpectRoundTrip(set);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_FALSE(decoded.siblings()[0].tombstone);
  EXPECT_EQ(decoded.siblings()[0].expiry_ms, 1'800'000'000'000u);
  EXPECT_TRUE(decoded.siblings()[1].tombstone);
  EXPECT_EQ(decoded.siblings()[1].timestamp_ms, 1'700'000'000'500u);
  EXPECT_EQ(decoded.Visible(1'800'000'000'000).size(), 0u);
  EXPECT_EQ(decoded.Visible(1'799'999'999'999).size(), 1u);
}

TEST(RecordCodecTest, ContextsRoundTrip) {
  for (uint64_t c = 0; c < 1000; ++c) {
    SCOPED_TRACE("seed=" + std::to_string(kSeed + c));
    Random rng(kSeed + c);
    const VersionVector vv = RandomState(rng).context();
    const std::string token = EncodeContext(vv);
    Result<VersionVector> decoded = DecodeContext(token);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, vv);
  }
  EXPECT_EQ(EncodeContext(VersionVector()).size(), 28u);
}

// A set encoded by another writer in many small segments still decodes.
TEST(RecordCodecTest, MultiSegmentMessageDecodes) {
  Random rng(kSeed);
  SiblingSet set;
  while (set.size() < 3) set = RandomState(rng);
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);
  auto root = builder.initRoot<record::SiblingSetRecord>();
  auto ctx = root.initContext(static_cast<unsigned>(set.context().size()));
  for (unsigned i = 0; i < ctx.size(); ++i) {
    ctx[i].setActor(set.context().entries()[i].actor);
    ctx[i].setCounter(set.context().entries()[i].counter);
  }
  auto sibs = root.initSiblings(static_cast<unsigned>(set.size()));
  for (unsigned i = 0; i < sibs.size(); ++i) {
    const Sibling& s = set.siblings()[i];
    sibs[i].setActor(s.dot.actor);
    sibs[i].setCounter(s.dot.counter);
    sibs[i].setValue(
        capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.value.data()), s.value.size()));
    sibs[i].setTombstone(s.tombstone);
    sibs[i].setWriteId(s.write_id);
    sibs[i].setTimestampMs(s.timestamp_ms);
    sibs[i].setExpiryMs(s.expiry_ms);
  }
  const std::string bytes = FrameBuilder(kSiblingSetMagic, builder);
  ASSERT_GT(ReadLittleEndian32(bytes, 4), 0u) << "expected several segments";
  Result<SiblingSet> decoded = DecodeSiblingSet(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, set);
}

// ---- Bad input

TEST(RecordCodecTest, DecodesAtEveryAlignment) {
  Random rng(kSeed);
  SiblingSet set;
  while (set.size() < 2) set = RandomState(rng);
  const std::string bytes = EncodeSiblingSet(set);
  const std::string token = EncodeContext(set.context());
  for (size_t offset = 0; offset < 16; ++offset) {
    SCOPED_TRACE("offset=" + std::to_string(offset));
    std::string buffer(offset, 'x');
    buffer += bytes + token + "trailing";
    Result<SiblingSet> decoded =
        DecodeSiblingSet(std::string_view(buffer).substr(offset, bytes.size()));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, set);
    Result<VersionVector> vv =
        DecodeContext(std::string_view(buffer).substr(offset + bytes.size(), token.size()));
    ASSERT_TRUE(vv.ok()) << vv.status().ToString();
    EXPECT_EQ(*vv, set.context());
  }
}

TEST(RecordCodecTest, EveryTruncationIsCorruption) {
  Random rng(kSeed + 1);
  SiblingSet set;
  while (set.size() < 3) set = RandomState(rng);
  test_support::ExpectEveryTruncationIsCorruption(
      EncodeSiblingSet(set),
      [](std::string_view prefix) { return DecodeSiblingSet(prefix).status(); });
  test_support::ExpectEveryTruncationIsCorruption(
      EncodeContext(set.context()),
      [](std::string_view prefix) { return DecodeContext(prefix).status(); });
  EXPECT_NE(DecodeSiblingSet("").status().message().find("truncated"), std::string::npos);
}

TEST(RecordCodecTest, TrailingBytesAreCorruption) {
  const std::string bytes = EncodeSiblingSet(SiblingSet());
  Result<SiblingSet> decoded = DecodeSiblingSet(bytes + std::string(8, '\0'));
  test_support::ExpectCorruption(decoded.status(), "trailing");
  EXPECT_FALSE(DecodeSiblingSet(bytes + "x").ok());
}

TEST(RecordCodecTest, RandomByteFlipsNeverCrash) {
  Random sample_rng(kSeed + 2);
  std::vector<std::string> samples;
  for (int i = 0; i < 8; ++i) samples.push_back(EncodeSiblingSet(RandomState(sample_rng)));
  for (int i = 0; i < 4; ++i) samples.push_back(EncodeContext(RandomState(sample_rng).context()));
  const std::vector<StatusCode> refusals = {StatusCode::kCorruption,
                                            StatusCode::kFailedPrecondition};
  test_support::RunByteFlips(
      samples, kSeed, 10'000,
      [&](const std::string& bytes, Random&, uint64_t seed, test_support::FlipCounts& counts) {
        // Decode both ways: a flipped magic must not confuse one for the other.
        Result<SiblingSet> set = DecodeSiblingSet(bytes);
        Result<VersionVector> vv = DecodeContext(bytes);
        if (set.ok()) {
          set->CheckInvariants();
          EncodeSiblingSet(*set);  // asserts the invariants again
          ++counts.decoded;
        } else {
          test_support::ExpectRefused(set.status(), refusals, seed);
          ++counts.refused;
        }
        if (!vv.ok()) test_support::ExpectRefused(vv.status(), refusals, seed);
      });
}

TEST(RecordCodecTest, NewerFormatVersionIsFailedPrecondition) {
  std::string bytes = EncodeSiblingSet(SiblingSet());
  bytes[2] = static_cast<char>(kRecordFormatVersion + 1);
  Result<SiblingSet> decoded = DecodeSiblingSet(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(decoded.status().message(),
            "sibling set record: format version 2 is newer than this build supports (1): "
            "upgrade trolley");

  bytes[2] = 0;
  bytes[3] = 1;  // 256: the version is little-endian
  EXPECT_NE(DecodeSiblingSet(bytes).status().message().find("version 256"), std::string::npos);

  std::string token = EncodeContext(VersionVector());
  token[3] = 0x7f;
  EXPECT_EQ(DecodeContext(token).status().code(), StatusCode::kFailedPrecondition);
}

TEST(RecordCodecTest, BadHeaderIsCorruption) {
  std::string bytes = EncodeSiblingSet(SiblingSet());
  std::string zero = bytes;
  zero[2] = 0;
  EXPECT_EQ(DecodeSiblingSet(zero).status().code(), StatusCode::kCorruption);

  std::string magic = bytes;
  magic[0] = 'X';
  test_support::ExpectCorruption(DecodeSiblingSet(magic).status(), "bad magic");

  // A context token is not a record, and the message says which it is.
  Result<SiblingSet> swapped = DecodeSiblingSet(EncodeContext(VersionVector()));
  test_support::ExpectCorruption(swapped.status(), "causal context token");
  EXPECT_EQ(DecodeContext(bytes).status().code(), StatusCode::kCorruption);
}

// Well-formed Cap'n Proto that breaks a SiblingSet invariant.
TEST(RecordCodecTest, BrokenInvariantsAreCorruption) {
  struct Case {
    const char* name;
    std::vector<VersionVector::Entry> context;
    std::vector<Sibling> siblings;
  };
  auto sib = [](ActorId a, uint64_t c, std::string v = "v", bool tombstone = false) {
    Sibling s;
    s.dot = Dot{a, c};
    s.value = std::move(v);
    s.tombstone = tombstone;
    return s;
  };
  const std::vector<Case> cases = {
      {"sibling not covered", {{1, 1}}, {sib(1, 2)}},
      {"siblings out of order", {{1, 3}}, {sib(1, 2), sib(1, 1)}},
      {"duplicate dot", {{1, 3}}, {sib(1, 2), sib(1, 2)}},
      {"counter 0", {{1, 3}}, {sib(1, 0)}},
      {"tombstone with a value", {{1, 3}}, {sib(1, 1, "x", true)}},
      {"context unsorted", {{2, 1}, {1, 1}}, {}},
      {"context duplicate actor", {{1, 1}, {1, 2}}, {}},
      {"context zero counter", {{1, 0}}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<record::SiblingSetRecord>();
    auto ctx = root.initContext(static_cast<unsigned>(c.context.size()));
    for (unsigned i = 0; i < ctx.size(); ++i) {
      ctx[i].setActor(c.context[i].actor);
      ctx[i].setCounter(c.context[i].counter);
    }
    auto sibs = root.initSiblings(static_cast<unsigned>(c.siblings.size()));
    for (unsigned i = 0; i < sibs.size(); ++i) {
      sibs[i].setActor(c.siblings[i].dot.actor);
      sibs[i].setCounter(c.siblings[i].dot.counter);
      sibs[i].setValue(
          capnp::Data::Reader(reinterpret_cast<const kj::byte*>(c.siblings[i].value.data()),
                              c.siblings[i].value.size()));
      sibs[i].setTombstone(c.siblings[i].tombstone);
    }
    Result<SiblingSet> decoded = DecodeSiblingSet(FrameBuilder(kSiblingSetMagic, builder));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
}

// Many siblings whose values all point at one shared 8 KB blob: a 20 KB
// message that would read as 2 MB. The traversal limit (a small multiple of
// the input) refuses it; Cap'n Proto's default (64 MiB) would not.
TEST(RecordCodecTest, OverlappingPointersHitTraversalLimit) {
  // Control: the hand-built layout is valid and decodes when not amplified.
  Result<SiblingSet> small = DecodeSiblingSet(SharedBlobRecord(2, 1024));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  ASSERT_EQ(small->size(), 2u);
  EXPECT_EQ(small->siblings()[1].value.size(), 8192u);

  Result<SiblingSet> amplified = DecodeSiblingSet(SharedBlobRecord(256, 1024));
  test_support::ExpectCorruption(amplified.status(), "traversal limit");
}

// A 40-byte message claiming four million zero-sized siblings: without a
// tight traversal limit decode would allocate ~300 MB of Siblings.
TEST(RecordCodecTest, HugeListClaimHitsTraversalLimit) {
  const std::vector<uint64_t> words = {
      StructPointer(0, 0, 2),        // root -> struct of 2 pointers
      0,                             // context: null (empty)
      ListPointer(0, 7, 0),          // siblings: inline composite, 0 words
      StructPointer(1 << 22, 0, 0),  // tag: 4M elements of 0 words each
  };
  Result<SiblingSet> decoded = DecodeSiblingSet(FrameRaw(kSiblingSetMagic, 1, words));
  test_support::ExpectCorruption(decoded.status(), "traversal limit");

  // A list that claims more words than the message holds.
  const std::vector<uint64_t> beyond = {StructPointer(0, 0, 2), 0, ListPointer(0, 7, 7000),
                                        StructPointer(1000, 6, 1)};
  decoded = DecodeSiblingSet(FrameRaw(kSiblingSetMagic, 1, beyond));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

// Deep nesting can only hide in fields this build does not know (the schema
// has no recursion): the decoder never follows them, so a 1000-deep chain
// in an unknown third pointer is ignored, as forward compatibility requires.
// The nesting limit (16) guards any reader that does walk the whole message.
TEST(RecordCodecTest, DeepNestingInUnknownFieldIsNotFollowed) {
  std::vector<uint64_t> words = {StructPointer(0, 0, 3), 0, 0, StructPointer(0, 0, 1)};
  for (int depth = 0; depth < 1000; ++depth) words.push_back(StructPointer(0, 0, 1));
  words.push_back(0);
  Result<SiblingSet> decoded = DecodeSiblingSet(FrameRaw(kSiblingSetMagic, 1, words));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded->empty());

  // The same message read with the codec's nesting limit and a full walk.
  const std::string bytes = FrameRaw(kSiblingSetMagic, 1, words);
  kj::Array<capnp::word> aligned = kj::heapArray<capnp::word>((bytes.size() - 4) / 8);
  std::memcpy(aligned.begin(), bytes.data() + 4, bytes.size() - 4);
  capnp::ReaderOptions options;
  options.nestingLimit = 16;
  capnp::FlatArrayMessageReader reader(aligned, options);
  EXPECT_ANY_THROW(reader.getRoot<capnp::AnyPointer>().targetSize());
}

// A 20-line cart (~1.5 KB) costs well under 200 bytes of framing.
TEST(RecordCodecTest, CartSizedValueIsCompact) {
  std::string cart;
  for (int line = 0; line < 20; ++line) {
    std::string row = "sku-" + std::to_string(100000 + line) +
                      " qty=" + std::to_string(line % 5 + 1) + " added_ms=1700000000" +
                      std::to_string(100 + line) + " note=";
    row.resize(75, 'x');
    cart += row;
  }
  ASSERT_EQ(cart.size(), 1500u);
  SiblingSet set;
  WriteIntent w;
  w.value = cart;
  w.write_id = 123456789;
  w.timestamp_ms = 1'700'000'000'000;
  w.expiry_ms = 1'702'592'000'000;
  set.ApplyWrite(w, 0x1234567890abcdefull, 41);
  const std::string bytes = EncodeSiblingSet(set);
  EXPECT_LE(bytes.size(), cart.size() + 200);
  std::printf("1 sibling, 1.5 KB cart: %zu bytes encoded (%zu overhead)\n", bytes.size(),
              bytes.size() - cart.size());
  ExpectRoundTrip(set);

  // Three concurrent siblings from three actors.
  WriteIntent w2 = w;
  w2.write_id = 2;
  set.ApplyWrite(w2, 2, 0);
  w2.write_id = 3;
  set.ApplyWrite(w2, 3, 0);
  ASSERT_EQ(set.size(), 3u);
  const std::string three = EncodeSiblingSet(set);
  EXPECT_LE(three.size(), 3 * (cart.size() + 200));
  std::printf("3 siblings, 1.5 KB each: %zu bytes encoded\n", three.size());
}

}  // namespace
}  // namespace trolley
