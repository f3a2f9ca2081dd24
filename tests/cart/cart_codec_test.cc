// Goal: a cart value round-trips exactly and deterministically, its size is
// known without encoding, and every bad input (truncated, flipped, from a
// newer release, of the other semantics, or hand-built to break an
// invariant or abuse Cap'n Proto) becomes a Status, never a crash.
// Method: random reachable carts (seeded; a failure prints the seed), every
// truncation, random byte flips, and hand-built records.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cart/cart.capnp.h"
#include "cart/cart_internal.h"
#include "cart/cart_state.h"
#include "common/hex.h"
#include "common/random.h"
#include "tests/cart/cart_test_util.h"
#include "tests/support/bad_bytes.h"
#include "tests/support/capnp_words.h"
#include "tests/support/seeded_cases.h"

namespace trolley {
namespace {

using cart_test::kLimits;
using cart_test::Name;
using test_support::FlatArray;
using test_support::ListPointer;
using test_support::ReadLittleEndian32;
using test_support::StructPointer;
using test_support::TextWords;

constexpr uint64_t kSeed = 20261121;
constexpr CartSemantics kBoth[] = {CartSemantics::kUnionMax, CartSemantics::kOrSet};

std::string RandomText(Random& rng, size_t size_max) {
  std::string out(1 + rng.Uniform(size_max), '\0');
  for (char& c : out) c = static_cast<char>(rng.Chance(0.9) ? 'a' + rng.Uniform(26) : rng.Next());
  return out;
}

// A reachable cart: a few devices apply random mutations (some retried,
// some with attributes) and merge each other's states at random.
CartState RandomCart(Random& rng, CartSemantics semantics) {
  const size_t devices = 1 + rng.Uniform(3);
  std::vector<CartState> states(devices, CartState(semantics));
  const uint64_t steps = rng.Uniform(40);
  std::vector<Mutation> issued;
  for (uint64_t step = 0; step < steps; ++step) {
    CartState& s = states[rng.Uniform(devices)];
    if (rng.Chance(0.2)) {
      s = CartState::Merge(semantics, states);
      continue;
    }
    Mutation m;
    if (!issued.empty() && rng.Chance(0.1)) {
      m = issued[rng.Uniform(issued.size())];
    } else {
      const std::string sku =
          rng.Chance(0.8) ? "sku-" + std::to_string(rng.Uniform(6)) : RandomText(rng, 20);
      CartAttributes attributes;
      if (rng.Chance(0.3)) {
        for (uint64_t i = rng.Uniform(3); i > 0; --i) {
          attributes[RandomText(rng, 8)] = rng.Chance(0.2) ? "" : RandomText(rng, 12);
        }
      }
      const uint64_t id = rng.Chance(0.5) ? 1 + rng.Uniform(1000) : 1 + rng.Next() / 2;
      const uint64_t now = rng.Next() >> rng.Uniform(64);
      const uint64_t kind = rng.Uniform(10);
      if (kind < 5) {
        m = Mutation::Add(id, sku, 1 + static_cast<uint32_t>(rng.Uniform(5)), now, attributes);
      } else if (kind < 7) {
        m = Mutation::SetQuantity(id, sku, static_cast<uint32_t>(rng.Uniform(8)), now, attributes);
      } else if (kind < 9) {
        m = Mutation::Remove(id, sku, now);
      } else {
        m = Mutation::Clear(id, now);
      }
      issued.push_back(m);
    }
    const Status st = s.Apply(m, kLimits);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  CartState out = states[rng.Uniform(devices)];
  if (rng.Chance(0.3)) out = CartState::Merge(semantics, states);
  if (rng.Chance(0.1)) {
    EXPECT_TRUE(out.MarkMergedInto(RandomText(rng, 30)).ok());
  }
  out.CheckInvariants();
  return out;
}

CartState ExpectRoundTrip(const CartState& s) {
  const std::string bytes = s.Encode();
  EXPECT_EQ(bytes.size(), s.EncodedBytes());
  Result<CartState> decoded = CartState::Decode(bytes, s.semantics());
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (!decoded.ok()) return CartState(s.semantics());
  EXPECT_EQ(*decoded, s) << s.DebugString();
  EXPECT_EQ(decoded->Encode(), bytes);
  return std::move(decoded).value();
}

// The value header: magic, then the format version (little-endian).
std::string Header(uint16_t version) {
  return {kCartMagic[0], kCartMagic[1], static_cast<char>(version & 0xff),
          static_cast<char>(version >> 8)};
}

// Header + any builder's flat array.
std::string FrameBuilder(capnp::MessageBuilder& builder, uint16_t version = kCartFormatVersion) {
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  std::string out = Header(version);
  out.append(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size());
  return out;
}

// Header + a single-segment message of raw words (tests/support/capnp_words.h).
std::string FrameRaw(const std::vector<uint64_t>& segment, uint16_t version) {
  return Header(version) + FlatArray(segment);
}

// ---- Round trips

TEST(CartCodecTest, EmptyCartsRoundTrip) {
  for (CartSemantics sem : kBoth) {
    SCOPED_TRACE(Name(sem));
    const CartState empty(sem);
    ExpectRoundTrip(empty);
    EXPECT_EQ(empty.Encode().size(), 108u);  // header 4, table 8, root 8, struct 88
  }
}

TEST(CartCodecTest, RandomCartsRoundTripExactlyInOneSegment) {
  size_t bytes_max = 0;
  size_t lines_max = 0;
  size_t context_ids = 0;
  size_t attributes = 0;
  test_support::RunSeededCases(kSeed, 2000, [&](Random& rng, uint64_t c) {
    const CartState s = RandomCart(rng, kBoth[c % 2]);
    ExpectRoundTrip(s);
    const std::string bytes = s.Encode();
    ASSERT_EQ(ReadLittleEndian32(bytes, 4), 0u) << "more than one segment";
    bytes_max = std::max(bytes_max, bytes.size());
    lines_max = std::max(lines_max, s.lines().size());
    context_ids += s.context().dots().size() + s.context().sessions().size();
    for (const CartLine& line : s.Lines(kLimits)) attributes += line.attributes.size();
  });
  if (HasFailure()) return;
  EXPECT_GE(lines_max, 5u);
  EXPECT_GT(context_ids, 0u);
  EXPECT_GT(attributes, 0u);
  std::printf("random carts: up to %zu lines, %zu bytes; %zu context entries in all\n", lines_max,
              bytes_max, context_ids);
}

TEST(CartCodecTest, EncodeLinesOnlyIsTheEncodingOfLinesOnly) {
  size_t differing = 0;
  test_support::RunSeededCases(kSeed, 2000, [&](Random& rng, uint64_t c) {
    const CartState s = RandomCart(rng, kBoth[c % 2]);
    const std::string lines_only = s.EncodeLinesOnly();
    ASSERT_EQ(lines_only, s.LinesOnly().Encode()) << s.DebugString();
    if (lines_only != s.Encode()) ++differing;  // the context or the mark left out
  });
  EXPECT_GT(differing, 0u);
}

TEST(CartCodecTest, FullCartSize) {
  // 200 lines of one contribution each with a 20-byte sku and one attribute.
  CartState s(CartSemantics::kOrSet);
  for (uint64_t i = 0; i < 200; ++i) {
    const Status st = s.Apply(Mutation::Add(i + 1, "sku-" + std::to_string(1000000000000000 + i), 1,
                                            1'700'000'000'000, {{"size", "XL"}}),
                              kLimits);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ExpectRoundTrip(s);
  std::printf("200-line cart: %zu bytes\n", s.EncodedBytes());
  EXPECT_LT(s.EncodedBytes(), 32u * 1024);
}

// ---- Bad input

TEST(CartCodecTest, DecodesAtEveryAlignment) {
  Random rng(kSeed);
  CartState s(CartSemantics::kOrSet);
  while (s.lines().size() < 2) s = RandomCart(rng, CartSemantics::kOrSet);
  const std::string bytes = s.Encode();
  for (size_t offset = 0; offset < 16; ++offset) {
    std::string buffer(offset, 'x');
    buffer += bytes + "trailing";
    Result<CartState> decoded = CartState::Decode(
        std::string_view(buffer).substr(offset, bytes.size()), CartSemantics::kOrSet);
    ASSERT_TRUE(decoded.ok()) << "offset=" << offset << " " << decoded.status().ToString();
    EXPECT_EQ(*decoded, s);
  }
}

TEST(CartCodecTest, EveryTruncationIsCorruption) {
  for (CartSemantics sem : kBoth) {
    SCOPED_TRACE(Name(sem));
    Random rng(kSeed + 1);
    CartState s(sem);
    while (s.lines().size() < 3) s = RandomCart(rng, sem);
    test_support::ExpectEveryTruncationIsCorruption(s.Encode(), [sem](std::string_view prefix) {
      const Status st = CartState::Decode(prefix, sem).status();
      EXPECT_EQ(st.message().rfind("cart value: ", 0), 0u) << st.message();
      return st;
    });
  }
  EXPECT_NE(CartState::Decode("", CartSemantics::kOrSet).status().message().find("truncated"),
            std::string::npos);
}

TEST(CartCodecTest, TrailingBytesAreCorruption) {
  const std::string bytes = CartState(CartSemantics::kOrSet).Encode();
  Result<CartState> decoded =
      CartState::Decode(bytes + std::string(8, '\0'), CartSemantics::kOrSet);
  test_support::ExpectCorruption(decoded.status(), "trailing");
  EXPECT_EQ(CartState::Decode(bytes + "x", CartSemantics::kOrSet).status().code(),
            StatusCode::kCorruption);
}

TEST(CartCodecTest, RandomByteFlipsNeverCrash) {
  Random sample_rng(kSeed + 2);
  std::vector<std::string> samples;
  for (int i = 0; i < 16; ++i) {
    CartState s = RandomCart(sample_rng, kBoth[i % 2]);
    while (s.lines().empty()) s = RandomCart(sample_rng, kBoth[i % 2]);
    samples.push_back(s.Encode());
  }
  test_support::RunByteFlips(
      samples, kSeed, 20'000,
      [](const std::string& bytes, Random& rng, uint64_t seed, test_support::FlipCounts& counts) {
        for (CartSemantics sem : kBoth) {
          Result<CartState> s = CartState::Decode(bytes, sem);
          if (s.ok()) {
            s->CheckInvariants();
            EXPECT_EQ(CartState::Decode(s->Encode(), sem).value(), *s);
            s->Lines(kLimits);
            CartState copy = *s;
            (void)copy.Apply(Mutation::Add(rng.Next() | 1, "apple", 1, 0), kLimits);
            CartState::Merge(sem, std::vector<CartState>{*s, copy});
            ++counts.decoded;
          } else {
            test_support::ExpectRefused(
                s.status(), {StatusCode::kCorruption, StatusCode::kFailedPrecondition}, seed);
            ++counts.refused;
          }
        }
      });
}

TEST(CartCodecTest, HeaderErrors) {
  std::string bytes = CartState(CartSemantics::kOrSet).Encode();
  std::string newer = bytes;
  newer[2] = static_cast<char>(kCartFormatVersion + 1);
  Result<CartState> decoded = CartState::Decode(newer, CartSemantics::kOrSet);
  EXPECT_EQ(decoded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(decoded.status().message(),
            "cart value: format version " + std::to_string(kCartFormatVersion + 1) +
                " is newer than this build supports (" + std::to_string(kCartFormatVersion) +
                "): upgrade the trolley client");
  newer[2] = 0;
  newer[3] = 1;  // 256: little-endian
  EXPECT_NE(CartState::Decode(newer, CartSemantics::kOrSet).status().message().find("version 256"),
            std::string::npos);

  std::string zero = bytes;
  zero[2] = 0;
  EXPECT_EQ(CartState::Decode(zero, CartSemantics::kOrSet).status().code(),
            StatusCode::kCorruption);
  std::string magic = bytes;
  magic[1] = 'S';  // a sibling-set record's magic
  decoded = CartState::Decode(magic, CartSemantics::kOrSet);
  test_support::ExpectCorruption(decoded.status(), "bad magic 0x5453");
  // What to do about it: a raw value in a cart namespace (docs/client.md).
  EXPECT_NE(decoded.status().message().find("raw values and carts must not share a namespace"),
            std::string::npos)
      << decoded.status().message();
}

TEST(CartCodecTest, OtherSemanticsIsFailedPrecondition) {
  CartState s(CartSemantics::kOrSet);
  ASSERT_TRUE(s.Apply(Mutation::Add(1, "apple", 1, 0), kLimits).ok());
  Result<CartState> decoded = CartState::Decode(s.Encode(), CartSemantics::kUnionMax);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(decoded.status().message().find("this is a or-set cart, but it is being read as "
                                            "union-max"),
            std::string::npos)
      << decoded.status().message();
  EXPECT_EQ(CartState::Decode(CartState(CartSemantics::kUnionMax).Encode(), CartSemantics::kOrSet)
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

// Well-formed Cap'n Proto that breaks an invariant: Corruption, saying what.
// Format version 1 (CartRecord), which this build still reads.
TEST(CartCodecTest, BrokenInvariantsAreCorruption) {
  using Root = cart_record::CartRecord::Builder;
  auto contribution = [](cart_record::Contribution::Builder b, uint64_t tag, uint32_t q,
                         cart_record::ContributionKind kind = cart_record::ContributionKind::ADD) {
    b.setTag(tag);
    b.setQuantity(q);
    b.setKind(kind);
  };
  // Lines (sku, tags), each contribution an "add 1" (or "set 1" in union-max).
  auto lines = [&](Root root, std::vector<std::pair<std::string, std::vector<uint64_t>>> ls,
                   cart_record::ContributionKind kind = cart_record::ContributionKind::ADD) {
    auto list = root.initLines(static_cast<unsigned>(ls.size()));
    for (unsigned i = 0; i < ls.size(); ++i) {
      if (!ls[i].first.empty()) list[i].setSku(ls[i].first);
      auto cs = list[i].initContributions(static_cast<unsigned>(ls[i].second.size()));
      for (unsigned j = 0; j < cs.size(); ++j) contribution(cs[j], ls[i].second[j], 1, kind);
    }
    return list;
  };
  const auto kSet = cart_record::ContributionKind::SET;
  struct Case {
    const char* name;
    CartSemantics semantics;
    std::function<void(Root)> build;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"unsorted lines", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"b", {1}}, {"a", {2}}});
       },
       "not sorted by sku"},
      {"duplicate sku", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {1}}, {"a", {2}}});
       },
       "repeat"},
      {"empty sku", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"", {1}}});
       },
       "empty sku"},
      {"line without contributions", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {}}});
       },
       "no contributions"},
      {"tag 0", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {0}}});
       },
       "tag 0"},
      {"tags unsorted", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {3, 2}}});
       },
       "not ascending"},
      {"tag in two lines", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {5}}, {"b", {5}}});
       },
       "two lines"},
      {"quantity 0", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {1}}})[0].getContributions()[0].setQuantity(0);
       },
       "is 0"},
      {"unknown kind", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {1}}})[0].getContributions()[0].setKind(
             static_cast<cart_record::ContributionKind>(9));
       },
       "unknown kind 9"},
      {"live and removed", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {4}}});
         r.initRemovedTags(1).set(0, 4);
       },
       "both live and removed"},
      {"removed unsorted", CartSemantics::kOrSet,
       [&](Root r) {
         auto t = r.initRemovedTags(2);
         t.set(0, 9);
         t.set(1, 8);
       },
       "removed tags are not ascending"},
      {"removed tag 0", CartSemantics::kOrSet, [&](Root r) { r.initRemovedTags(1).set(0, 0); },
       "removed tag 0"},
      {"applied unsorted", CartSemantics::kOrSet,
       [&](Root r) {
         auto a = r.initApplied(2);
         a[0].setId(5);
         a[1].setId(5);
       },
       "applied ids are not ascending"},
      {"applied id 0", CartSemantics::kUnionMax, [&](Root r) { r.initApplied(1); },
       "applied mutation id 0"},
      {"empty merged-into", CartSemantics::kOrSet, [&](Root r) { r.setMergedInto(""); },
       "merged-into key is present but empty"},
      {"attribute with empty key", CartSemantics::kOrSet,
       [&](Root r) {
         lines(r, {{"a", {1}}})[0].getContributions()[0].initAttributes(1)[0].setValue("v");
       },
       "empty key"},
      {"attributes unsorted", CartSemantics::kOrSet,
       [&](Root r) {
         auto as = lines(r, {{"a", {1}}})[0].getContributions()[0].initAttributes(2);
         as[0].setKey("z");
         as[1].setKey("c");
       },
       "not sorted by key"},
      {"union-max line of two", CartSemantics::kUnionMax,
       [&](Root r) {
         lines(r, {{"a", {1, 2}}}, kSet);
       },
       "exactly one"},
      {"union-max add", CartSemantics::kUnionMax,
       [&](Root r) {
         lines(r, {{"a", {1}}});
       },
       "add contribution"},
      {"union-max tombstones", CartSemantics::kUnionMax,
       [&](Root r) { r.initRemovedTags(1).set(0, 3); }, "removed tags"},
      {"unknown semantics", CartSemantics::kOrSet,
       [&](Root r) { r.setSemantics(static_cast<cart_record::Semantics>(7)); },
       "unknown semantics 7"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    capnp::MallocMessageBuilder builder;
    Root root = builder.initRoot<cart_record::CartRecord>();
    root.setSemantics(c.semantics == CartSemantics::kOrSet ? cart_record::Semantics::OR_SET
                                                           : cart_record::Semantics::UNION_MAX);
    c.build(root);
    Result<CartState> decoded = CartState::Decode(FrameBuilder(builder, 1), c.semantics);
    test_support::ExpectCorruption(decoded.status(), c.message);
  }
  // Control: the builder helpers make a valid cart when nothing is broken.
  capnp::MallocMessageBuilder builder;
  Root root = builder.initRoot<cart_record::CartRecord>();
  root.setSemantics(cart_record::Semantics::OR_SET);
  lines(root, {{"a", {1, 2}}, {"b", {3}}});
  root.initRemovedTags(1).set(0, 4);
  Result<CartState> decoded = CartState::Decode(FrameBuilder(builder, 1), CartSemantics::kOrSet);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->Lines(kLimits).size(), 2u);
}

// Format versions 2 and 3 (CartColumns): the columns must agree with each
// other, and (version 3) with the causal context.
TEST(CartCodecTest, BrokenColumnsAreCorruption) {
  using Root = cart_record::CartColumns::Builder;
  constexpr uint32_t kSet = uint32_t{1} << 31;
  // A well-formed or-set cart: lines "a" (tags 1, 2) and "bc" (tag 3), the
  // second contribution of "a" with an attribute.
  struct Columns {
    std::string skus = "abc";
    std::vector<uint32_t> lines = {1, 2, 2, 1};
    std::vector<uint64_t> contributions = {1, 10, 2, 20, 3, 30};
    std::vector<uint32_t> quantities = {1, 2, 3};
    std::vector<std::pair<uint32_t, std::vector<std::string>>> attributes = {{1, {"size"}}};
    bool union_max = false;
    std::vector<uint64_t> context_sessions = {MutationIdOf(0, 3)};  // ids 1..3
    std::vector<uint64_t> context_dots;
    std::vector<uint64_t> removed;  // versions 1 and 2 only
    uint16_t version = kCartFormatVersion;
  };
  auto build = [](const Columns& c, capnp::MallocMessageBuilder& builder) {
    Root root = builder.initRoot<cart_record::CartColumns>();
    root.setSemantics(c.union_max ? cart_record::Semantics::UNION_MAX
                                  : cart_record::Semantics::OR_SET);
    root.setSkus(kj::arrayPtr(reinterpret_cast<const kj::byte*>(c.skus.data()), c.skus.size()));
    auto lines = root.initLines(static_cast<unsigned>(c.lines.size()));
    for (unsigned i = 0; i < c.lines.size(); ++i) lines.set(i, c.lines[i]);
    auto contributions = root.initContributions(static_cast<unsigned>(c.contributions.size()));
    for (unsigned i = 0; i < c.contributions.size(); ++i) {
      contributions.set(i, c.contributions[i]);
    }
    auto quantities = root.initQuantities(static_cast<unsigned>(c.quantities.size()));
    for (unsigned i = 0; i < c.quantities.size(); ++i) quantities.set(i, c.quantities[i]);
    auto attributes = root.initAttributes(static_cast<unsigned>(c.attributes.size()));
    for (unsigned i = 0; i < c.attributes.size(); ++i) {
      attributes[i].setContribution(c.attributes[i].first);
      const auto& keys = c.attributes[i].second;
      auto list = attributes[i].initAttributes(static_cast<unsigned>(keys.size()));
      for (unsigned k = 0; k < keys.size(); ++k) {
        if (!keys[k].empty()) list[k].setKey(keys[k]);
      }
    }
    auto put = [](auto list, const std::vector<uint64_t>& values) {
      for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
    };
    if (!c.context_sessions.empty()) {
      put(root.initContextSessions(static_cast<unsigned>(c.context_sessions.size())),
          c.context_sessions);
    }
    if (!c.context_dots.empty()) {
      put(root.initContextDots(static_cast<unsigned>(c.context_dots.size())), c.context_dots);
    }
    if (!c.removed.empty()) {
      put(root.initRemovedTags(static_cast<unsigned>(c.removed.size())), c.removed);
    }
  };
  auto decode = [&](const Columns& c) {
    capnp::MallocMessageBuilder builder;
    build(c, builder);
    return CartState::Decode(FrameBuilder(builder, c.version),
                             c.union_max ? CartSemantics::kUnionMax : CartSemantics::kOrSet);
  };
  {
    SCOPED_TRACE("control");
    Result<CartState> good = decode(Columns{});
    ASSERT_TRUE(good.ok()) << good.status().ToString();
    EXPECT_EQ(good->lines().size(), 2u);
    EXPECT_EQ(good->lines().at("a").at(2).at_ms, 20u);
    EXPECT_EQ(good->lines().at("a").at(2).attributes.count("size"), 1u);
    EXPECT_EQ(good->lines().at("bc").at(3).quantity, 3u);
  }
  struct Case {
    const char* name;
    std::function<void(Columns&)> change;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"odd line list", [](Columns& c) { c.lines.pop_back(); }, "odd length"},
      {"contribution words", [](Columns& c) { c.contributions.pop_back(); }, "expected two each"},
      {"sku bytes overrun", [](Columns& c) { c.lines[2] = 3; }, "more than the 3 sku bytes"},
      {"sku bytes left over", [](Columns& c) { c.skus += "d"; }, "belong to no line"},
      {"empty sku", [](Columns& c) { c.lines[0] = 0; }, "empty sku"},
      {"unsorted skus",
       [](Columns& c) {
         c.skus = "bca";
         c.lines = {2, 1, 1, 2};
       },
       "not sorted by sku"},
      {"line of no contributions", [](Columns& c) { c.lines[3] = 0; }, "no contributions"},
      {"count overrun", [](Columns& c) { c.lines[3] = 2; }, "only 1 are left"},
      {"contributions left over", [](Columns& c) { c.lines[1] = 1; }, "belong to no line"},
      {"tag 0", [](Columns& c) { c.contributions[0] = 0; }, "tag 0"},
      {"tags unsorted", [](Columns& c) { c.contributions[2] = 1; }, "not ascending"},
      {"tag in two lines", [](Columns& c) { c.contributions[4] = 1; }, "two lines"},
      {"quantity 0", [](Columns& c) { c.quantities[0] = 0; }, "is 0"},
      {"set of quantity 0", [](Columns& c) { c.quantities[0] = kSet; }, "is 0"},
      {"attributes out of range", [](Columns& c) { c.attributes[0].first = 3; }, "but there are 3"},
      {"attributes unsorted",
       [](Columns& c) {
         c.attributes = {{1, {"size"}}, {0, {"size"}}};
       },
       "not ascending"},
      {"empty attribute entry", [](Columns& c) { c.attributes[0].second.clear(); },
       "empty attribute entry"},
      {"attribute with empty key", [](Columns& c) { c.attributes[0].second = {""}; }, "empty key"},
      {"union-max add",
       [](Columns& c) {
         c.union_max = true;
         c.lines = {1, 1, 2, 1};
         c.contributions = {1, 10, 3, 30};
         c.quantities = {kSet | 1, 3};
         c.attributes.clear();
       },
       "add contribution"},
      {"union-max line of two",
       [](Columns& c) {
         c.union_max = true;
         c.quantities = {kSet | 1, kSet | 2, kSet | 3};
       },
       "exactly one"},
      {"live tag outside the context",
       [](Columns& c) { c.context_sessions = {MutationIdOf(0, 2)}; },
       "live tag 3 is not in the causal context"},
      {"context id its session covers", [](Columns& c) { c.context_dots = {2}; }, "not canonical"},
      {"context id that continues its session", [](Columns& c) { c.context_dots = {4}; },
       "not canonical"},
      {"context session of counter 0",
       [](Columns& c) {
         c.context_sessions = {MutationIdOf(0, 3), MutationIdOf(1, 0)};
       },
       "not canonical"},
      {"context sessions unsorted",
       [](Columns& c) {
         c.context_sessions = {MutationIdOf(2, 1), MutationIdOf(0, 3)};
       },
       "not canonical"},
      {"version 3 with tombstones", [](Columns& c) { c.removed = {9}; },
       "version-3 cart holds removed tags"},
      {"version 2 with a context", [](Columns& c) { c.version = 2; },
       "version-2 cart holds a causal context"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Columns columns;
    c.change(columns);
    Result<CartState> decoded = decode(columns);
    test_support::ExpectCorruption(decoded.status(), c.message);
  }
}

// Values written in format versions 1 and 2 read as the same state (their
// tombstones, applied ids and live tags are the context) and are rewritten
// in version 3.
TEST(CartCodecTest, FormatVersions1And2StillRead) {
  size_t bytes_old[3] = {0, 0, 0};
  size_t bytes_v3 = 0;
  for (uint64_t c = 0; c < 2000; ++c) {
    const uint64_t seed = kSeed + 100 + c;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rng(seed);
    const CartState s = RandomCart(rng, kBoth[c % 2]);
    const int version = c < 1000 ? 1 : 2;
    const std::string old = version == 1 ? cart_internal::EncodeV1(s) : cart_internal::EncodeV2(s);
    ASSERT_EQ(old[2], version);
    Result<CartState> decoded = CartState::Decode(old, s.semantics());
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, s);
    EXPECT_EQ(decoded->Encode(), s.Encode());
    bytes_old[version] += old.size();
    if (version == 1) bytes_v3 += s.Encode().size();
  }
  std::printf("1000 random carts: %zu bytes in version 1, %zu in version 3\n", bytes_old[1],
              bytes_v3);
}

// Bytes written by the last release of format version 2 (its Encode and
// EncodeV1, as shipped), for an or-set cart of adds 0x1111 (apple, size L)
// and 0x2222 (pear), remove 0x3333 (pear), add 0x4444 (apple), clear
// 0x5555, add 0x6666 (kiwi x3); and a union+max cart of adds 0x7777 (apple
// x2) and 0x8888 (pear), remove 0x9999 (pear). Every id is in the context:
// what was removed stays removed, what was applied is not applied again.
TEST(CartCodecTest, FixturesOfVersions1And2Read) {
  const std::string or_set_v2 =
      "544b02000000000017000000000000000100080001000000000000001d000000220000001d000000140000001d"
      "00000015000000210000000c00000000000000000000001d0000001d0000002500000027000000000000000000"
      "00006b6977690000000004000000010000006666000000000000ed030000000000000300000000000000111100"
      "00000000002222000000000000444400000000000008000000020000003333000000000000ea03000000000000"
      "5555000000000000ec03000000000000";
  const std::string or_set_v1 =
      "544b01000000000017000000000000000100040001000000000000000d000000170000002d0000001d00000035"
      "0000002700000000000000000000000400000000000200050000002a00000005000000270000006b6977690000"
      "0000040000000300010066660000000000000000000003000000ed030000000000000000000000000000111100"
      "00000000002222000000000000444400000000000008000000020000003333000000000000ea03000000000000"
      "5555000000000000ec03000000000000";
  const std::string union_max_v2 =
      "544b02000000000016000000000000000100080000000000000000001d0000002a0000001d000000140000001d"
      "00000015000000210000000c000000000000000000000000000000000000001900000037000000000000000000"
      "00006170706c6500000005000000010000007777000000000000e80300000000000002000080000000000c0000"
      "00020000007777000000000000e8030000000000008888000000000000e9030000000000009999000000000000"
      "ea03000000000000";
  const std::string union_max_v1 =
      "544b01000000000016000000000000000100040000000000000000000d00000017000000000000000000000029"
      "0000003700000000000000000000000400000000000200050000003200000005000000270000006170706c6500"
      "0000040000000300010077770000000000000100000002000000e80300000000000000000000000000000c0000"
      "00020000007777000000000000e8030000000000008888000000000000e9030000000000009999000000000000"
      "ea03000000000000";
  for (const std::string& hex : {or_set_v2, or_set_v1}) {
    Result<CartState> cart = CartState::Decode(Unhex(hex).value(), CartSemantics::kOrSet);
    ASSERT_TRUE(cart.ok()) << cart.status().ToString();
    EXPECT_EQ(cart->Lines(kLimits), (std::vector<CartLine>{CartLine{"kiwi", 3, {}}}));
    EXPECT_EQ(cart->context().Ids(),
              (std::vector<uint64_t>{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666}));
    // A retried add that was removed stays removed; a sibling of the old
    // format still holding it does not bring it back.
    CartState retried = *cart;
    ASSERT_TRUE(retried.Apply(Mutation::Add(0x1111, "apple", 2, 1000), kLimits).ok());
    EXPECT_EQ(retried, *cart);
    CartState before_clear(CartSemantics::kOrSet);
    ASSERT_TRUE(before_clear.Apply(Mutation::Add(0x1111, "apple", 2, 1000), kLimits).ok());
    EXPECT_EQ(
        CartState::Merge(CartSemantics::kOrSet, std::vector{before_clear, *cart}).Lines(kLimits),
        cart->Lines(kLimits));
    EXPECT_EQ(cart->Encode()[2], 3) << "rewritten in version 3";
  }
  for (const std::string& hex : {union_max_v2, union_max_v1}) {
    Result<CartState> cart = CartState::Decode(Unhex(hex).value(), CartSemantics::kUnionMax);
    ASSERT_TRUE(cart.ok()) << cart.status().ToString();
    EXPECT_EQ(cart->Lines(kLimits), (std::vector<CartLine>{CartLine{"apple", 2, {}}}));
    EXPECT_EQ(cart->context().Ids(), (std::vector<uint64_t>{0x7777, 0x8888, 0x9999}));
    CartState retried = *cart;
    ASSERT_TRUE(retried.Apply(Mutation::Add(0x7777, "apple", 2, 1000), kLimits).ok());
    EXPECT_EQ(retried, *cart) << "an applied add is not applied again";
  }
}

// A cart written by another writer in several segments still reads.
TEST(CartCodecTest, MultiSegmentMessageDecodes) {
  Random rng(kSeed + 3);
  CartState s(CartSemantics::kOrSet);
  while (s.lines().size() < 3) s = RandomCart(rng, CartSemantics::kOrSet);
  const std::string bytes = s.Encode();
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>((bytes.size() - 4) / 8);
  std::memcpy(words.begin(), bytes.data() + 4, bytes.size() - 4);
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);
  builder.setRoot(reader.getRoot<cart_record::CartColumns>());
  const std::string multi = FrameBuilder(builder);
  ASSERT_GT(ReadLittleEndian32(multi, 4), 0u) << "expected several segments";
  Result<CartState> decoded = CartState::Decode(multi, CartSemantics::kOrSet);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, s);
  EXPECT_EQ(decoded->Encode(), bytes);  // re-encoded canonically
}

// A 40-byte message (format version 1) claiming four million zero-sized
// lines hits the traversal limit instead of allocating.
TEST(CartCodecTest, HugeListClaimHitsTraversalLimit) {
  const std::vector<uint64_t> words = {
      StructPointer(0, 1, 4),  // root -> struct of 1 data word, 4 pointers
      1,                       // semantics = orSet
      ListPointer(3, 7, 0),    // lines: inline composite, 0 words -> word 6
      0,
      0,
      0,                             // removedTags, applied, mergedInto
      StructPointer(1 << 22, 0, 0),  // tag: 4M elements of 0 words
  };
  Result<CartState> decoded = CartState::Decode(FrameRaw(words, 1), CartSemantics::kOrSet);
  test_support::ExpectCorruption(decoded.status(), "traversal limit");
}

// n lines, each with one contribution whose attribute list is shared: a
// message of ~8n + v words that reads as n * v words. The traversal limit
// (a small multiple of the input) refuses it; Cap'n Proto's default
// (64 MiB) would not.
std::string SharedAttributeRecord(uint32_t n, uint32_t value_words) {
  std::vector<uint64_t> w = {StructPointer(0, 1, 4),
                             1,
                             ListPointer(3, 7, 2ull * n),
                             0,
                             0,
                             0,
                             StructPointer(static_cast<int32_t>(n), 0, 2)};
  const size_t lines_at = w.size();
  const size_t blocks_at = lines_at + 2ull * n;
  const size_t shared_at = blocks_at + 6ull * n;
  auto offset = [](size_t pointer_at, size_t target) {
    return static_cast<int32_t>(target - (pointer_at + 1));
  };
  for (uint32_t i = 0; i < n; ++i) {
    const size_t block = blocks_at + 6ull * i;
    w.push_back(ListPointer(offset(lines_at + 2ull * i, block), 2, 8));          // sku
    w.push_back(ListPointer(offset(lines_at + 2ull * i + 1, block + 1), 7, 4));  // contributions
  }
  for (uint32_t i = 0; i < n; ++i) {
    const size_t block = blocks_at + 6ull * i;
    char sku[16] = {};
    std::snprintf(sku, sizeof(sku), "s%06u", i % 1000000);  // 7 chars, NUL: sorted, unique
    w.push_back(TextWords(sku)[0]);
    w.push_back(StructPointer(1, 3, 1));                           // tag: one contribution
    w.push_back(i + 1);                                            // tag
    w.push_back(uint64_t{1} << 32);                                // kind add, quantity 1
    w.push_back(0);                                                // atMs
    w.push_back(ListPointer(offset(block + 5, shared_at), 7, 2));  // attributes
  }
  w.push_back(StructPointer(1, 0, 2));                 // shared: tag, one attribute
  w.push_back(ListPointer(1, 2, 2));                   // key -> "k"
  w.push_back(ListPointer(1, 2, value_words * 8ull));  // value
  w.push_back(TextWords("k")[0]);                      // "k\0"
  // The value: value_words * 8 - 1 letters and the NUL.
  const std::vector<uint64_t> value = TextWords(std::string(value_words * 8 - 1, 'a'));
  w.insert(w.end(), value.begin(), value.end());
  return FrameRaw(w, 1);
}

TEST(CartCodecTest, OverlappingPointersHitTraversalLimit) {
  // Control: the hand-built layout is valid and decodes when not amplified.
  Result<CartState> small = CartState::Decode(SharedAttributeRecord(2, 512), CartSemantics::kOrSet);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  ASSERT_EQ(small->Lines(kLimits).size(), 2u);
  EXPECT_EQ(small->Lines(kLimits)[1].attributes.at("k").size(), 4095u);

  Result<CartState> amplified =
      CartState::Decode(SharedAttributeRecord(256, 512), CartSemantics::kOrSet);
  test_support::ExpectCorruption(amplified.status(), "traversal limit");
}

}  // namespace
}  // namespace trolley
