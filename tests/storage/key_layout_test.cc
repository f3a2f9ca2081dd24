// Goal: storage/key_layout.h is the on-disk key format and its order.
// Encodings are pinned byte for byte (a change is a format change), decode
// inverts encode, the Compare* functions agree with the byte order LMDB
// sorts by, the range helpers bound exactly the keys they should, and
// malformed bytes come back as Corruption, never a crash.
// Method: golden hex strings, seeded random keys (bytes 0x00..0xff
// included), and hand-built malformed keys.
#include "storage/key_layout.h"

#include <gtest/gtest.h>

#include <compare>
#include <string>
#include <vector>

#include "common/hex.h"
#include "common/key.h"
#include "common/random.h"

namespace trolley::key_layout {
namespace {

std::string RandomBytes(Random& rng, size_t min, size_t max) {
  std::string out(rng.Range(min, max), '\0');
  // Few distinct bytes, so that equal prefixes (and 0x00 / 0xff) are common.
  static constexpr unsigned char kAlphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff};
  for (char& c : out) c = static_cast<char>(kAlphabet[rng.Uniform(sizeof(kAlphabet))]);
  return out;
}

ObjectKey RandomKey(Random& rng) {
  return ObjectKey{RandomBytes(rng, 1, rng.Chance(0.5) ? 3 : kNamespaceBytesMax),
                   RandomBytes(rng, 1, rng.Chance(0.5) ? 3 : kKeyBytesMax)};
}

int Sign(std::strong_ordering o) { return o < 0 ? -1 : (o > 0 ? 1 : 0); }
int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

// An object key encoded as if its hash were `hash`: lets tests compare keys
// of equal hash (a real collision of KeyHash cannot be built).
std::string EncodeWithHash(uint64_t hash, const ObjectKey& key) {
  return ObjectKeySeek(hash) + EncodeObjectKey(key).substr(kHashBytes);
}

TEST(KeyLayoutTest, EncodingsArePinnedByteForByte) {
  EXPECT_EQ(Hex(EncodeU64Be(0x0102030405060708)), "0102030405060708");
  const ObjectKey key{"carts", "c1"};
  // KeyHash("carts", "c1"), pinned: the layout sorts by it, so changing the
  // hash moves every stored key.
  const std::string hash = "17a1f0f4988d60ab";
  EXPECT_EQ(Hex(EncodeU64Be(KeyHash("carts", "c1"))), hash);
  EXPECT_EQ(Hex(EncodeObjectKey(key)), hash + "05" + "6361727473" + "6331");
  EXPECT_EQ(Hex(EncodeHintKey("n2", key)),
            "02"
            "6e32" +
                hash +
                "05"
                "6361727473"
                "6331");
  EXPECT_EQ(Hex(HintKeyPrefix("n2")), "026e32");
  EXPECT_EQ(Hex(DotFloorKey(0x0a0b)),
            "646f742f"
            "0000000000000a0b");
  EXPECT_EQ(Hex(EncodeHintValueHeader(0x0102)), "0201000000000000");  // little-endian
  EXPECT_EQ(kMetaFormatVersion, "format_version");
  EXPECT_EQ(kMetaActorEpoch, "actor_epoch");
  EXPECT_EQ(kMetaIncarnationV1, "incarnation");
  EXPECT_EQ(kMetaCleanShutdown, "clean_shutdown");
  EXPECT_EQ(kDataFormatVersion, 2u);
}

TEST(KeyLayoutTest, DecodeInvertsEncode) {
  Random rng(17);
  for (int i = 0; i < 2000; ++i) {
    const ObjectKey key = RandomKey(rng);
    const std::string raw = EncodeObjectKey(key);
    Result<ObjectKey> decoded = DecodeObjectKey(raw);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, key);
    EXPECT_EQ(ObjectKeyHash(raw).value(), KeyHash(key.ns, key.key));

    const std::string target = RandomBytes(rng, 1, kLengthPrefixMax);
    Result<DecodedHintKey> hint = DecodeHintKey(EncodeHintKey(target, key));
    ASSERT_TRUE(hint.ok()) << hint.status().ToString();
    EXPECT_EQ(hint->target, target);
    EXPECT_EQ(hint->key, key);
    EXPECT_EQ(HintKeyTarget(EncodeHintKey(target, key)).value(), target);

    const uint64_t n = rng.Next();
    EXPECT_EQ(DecodeU64Be(EncodeU64Be(n), "n").value(), n);
    EXPECT_EQ(DecodeDotFloorKey(DotFloorKey(n)).value(), n);
    const std::string value = EncodeHintValueHeader(n) + "record";
    EXPECT_EQ(HintValueCreatedMs(value).value(), n);
    EXPECT_EQ(HintValueRecord(value), "record");
  }
}

TEST(KeyLayoutTest, ObjectKeyOrderIsByteOrder) {
  Random rng(18);
  for (int i = 0; i < 5000; ++i) {
    const ObjectKey a = RandomKey(rng);
    const ObjectKey b = rng.Chance(0.1) ? a : RandomKey(rng);
    EXPECT_EQ(Sign(CompareObjectKeys(a, b)), Sign(EncodeObjectKey(a).compare(EncodeObjectKey(b))));
    // Equal hashes: ns length, then ns, then key decide.
    const uint64_t h = rng.Chance(0.5) ? 0 : ~uint64_t{0};
    EXPECT_EQ(Sign(CompareObjectKeys(h, a, h, b)),
              Sign(EncodeWithHash(h, a).compare(EncodeWithHash(h, b))))
        << Hex(EncodeWithHash(h, a)) << " vs " << Hex(EncodeWithHash(h, b));
  }
  // The ns length comes before the ns: "b" sorts before "aa".
  EXPECT_EQ(Sign(CompareObjectKeys(5, ObjectKey{"b", "k"}, 5, ObjectKey{"aa", "k"})), -1);
  // Bytes compare unsigned: 0xff after 'a'.
  EXPECT_EQ(Sign(CompareObjectKeys(5, ObjectKey{"n", "\xff"}, 5, ObjectKey{"n", "a"})), 1);
}

TEST(KeyLayoutTest, HintKeyOrderIsByteOrder) {
  Random rng(19);
  for (int i = 0; i < 5000; ++i) {
    const std::string ta = RandomBytes(rng, 1, 4),
                      tb = rng.Chance(0.3) ? ta : RandomBytes(rng, 1, 4);
    const ObjectKey a = RandomKey(rng), b = RandomKey(rng);
    const uint64_t ha = KeyHash(a.ns, a.key), hb = KeyHash(b.ns, b.key);
    EXPECT_EQ(Sign(CompareHintKeys(ta, ha, a, tb, hb, b)),
              Sign(EncodeHintKey(ta, a).compare(EncodeHintKey(tb, b))));
    EXPECT_EQ(Sign(CompareHintTargets(ta, tb)), Sign(HintKeyPrefix(ta).compare(HintKeyPrefix(tb))));
  }
  // Targets sort by length first: n2 before n10.
  EXPECT_EQ(Sign(CompareHintTargets("n2", "n10")), -1);
  EXPECT_LT(EncodeHintKey("n2", ObjectKey{"z", "z"}), EncodeHintKey("n10", ObjectKey{"a", "a"}));
}

TEST(KeyLayoutTest, PrefixSuccessorEdgeCases) {
  EXPECT_EQ(PrefixSuccessor(""), "");
  EXPECT_EQ(PrefixSuccessor("\xff"), "");
  EXPECT_EQ(PrefixSuccessor("\xff\xff\xff"), "");
  EXPECT_EQ(PrefixSuccessor("a"), "b");
  EXPECT_EQ(PrefixSuccessor("a\xff"), "b");
  EXPECT_EQ(PrefixSuccessor("a\xff\xff"), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\x00", 1)), "\x01");
  EXPECT_EQ(PrefixSuccessor("ab\xfe"), "ab\xff");
  EXPECT_EQ(PrefixSuccessor("\x7f"), "\x80");  // unsigned: no sign overflow
  EXPECT_EQ(ImmediateSuccessor("ab"), std::string("ab\0", 3));
}

// Every key with the prefix lies in [prefix, PrefixSuccessor(prefix)), and
// every key without it lies outside.
TEST(KeyLayoutTest, PrefixRangesHoldExactlyTheirKeys) {
  Random rng(20);
  for (int i = 0; i < 3000; ++i) {
    const std::string target = RandomBytes(rng, 1, 3);
    const std::string prefix = HintKeyPrefix(target);
    const std::string end = PrefixSuccessor(prefix);
    ASSERT_FALSE(end.empty());  // a length byte below 0xff always has one
    const std::string other_target = RandomBytes(rng, 1, 3);
    const std::string raw = EncodeHintKey(other_target, RandomKey(rng));
    const bool inside = raw >= prefix && raw < end;
    EXPECT_EQ(inside, other_target == target) << Hex(raw) << " for " << Hex(prefix);
  }
}

TEST(KeyLayoutTest, SeeksBoundTheirKeys) {
  Random rng(21);
  for (int i = 0; i < 3000; ++i) {
    const ObjectKey a = RandomKey(rng), b = RandomKey(rng);
    const std::string raw_a = EncodeObjectKey(a), raw_b = EncodeObjectKey(b);
    // ObjectKeySeek(h) <= every key of hash >= h, > every key of hash < h.
    const uint64_t h = KeyHash(a.ns, a.key);
    EXPECT_LE(ObjectKeySeek(h), raw_a);
    EXPECT_EQ(raw_b >= ObjectKeySeek(h), KeyHash(b.ns, b.key) >= h);
    // ObjectKeySeekAfter(a) is past a and not past any key greater than a.
    EXPECT_GT(ObjectKeySeekAfter(a), raw_a);
    if (raw_b > raw_a) {
      EXPECT_LE(ObjectKeySeekAfter(a), raw_b);
    }
  }
}

void ExpectCorruption(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
  EXPECT_FALSE(s.message().empty()) << what;
}

TEST(KeyLayoutTest, MalformedKeysAreCorruption) {
  const std::string hash = ObjectKeySeek(42);
  ExpectCorruption(DecodeObjectKey("").status(), "empty");
  ExpectCorruption(DecodeObjectKey(hash).status(), "hash only");
  ExpectCorruption(DecodeObjectKey(hash + '\x01' + "n").status(), "no key");
  ExpectCorruption(DecodeObjectKey(hash + std::string(1, '\0') + "kk").status(), "empty ns");
  ExpectCorruption(DecodeObjectKey(hash + '\x05' + "ns").status(), "ns overruns");
  ExpectCorruption(DecodeObjectKey(hash + '\x02' + "ns").status(), "ns fills the rest");
  EXPECT_TRUE(DecodeObjectKey(hash + '\x02' + "ns" + "k").ok());
  ExpectCorruption(ObjectKeyHash("1234567").status(), "short hash");

  const std::string object = EncodeObjectKey(ObjectKey{"ns", "k"});
  ExpectCorruption(DecodeHintKey("").status(), "empty hint key");
  ExpectCorruption(DecodeHintKey(std::string(1, '\0') + object).status(), "empty target");
  ExpectCorruption(DecodeHintKey("\x09n1").status(), "target overruns");
  ExpectCorruption(DecodeHintKey("\x02n1").status(), "no object key");
  ExpectCorruption(DecodeHintKey("\x02n1" + object.substr(0, 10)).status(), "bad object key");
  ExpectCorruption(HintKeyTarget("\x03n1").status(), "target overruns");
  EXPECT_TRUE(DecodeHintKey("\x02n1" + object).ok());

  ExpectCorruption(DecodeDotFloorKey("dot/1234567").status(), "short floor key");
  ExpectCorruption(DecodeDotFloorKey("dot/123456789").status(), "long floor key");
  ExpectCorruption(DecodeDotFloorKey("dog/12345678").status(), "wrong prefix");
  ExpectCorruption(DecodeU64Be("1234567", "x").status(), "short u64");
  ExpectCorruption(DecodeU64Be("123456789", "x").status(), "long u64");
  ExpectCorruption(HintValueCreatedMs("1234567").status(), "short hint value");
}

}  // namespace
}  // namespace trolley::key_layout
