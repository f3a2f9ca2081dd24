// Goal: every protocol message round-trips exactly through the Cap'n Proto
// codec, and every bad payload (random, truncated, from a newer peer,
// hand-built to abuse Cap'n Proto, or with invalid field contents) becomes
// a Status, never a crash or a large allocation. Method: seeded random
// messages and byte strings (failures print the seed), hand-built payloads.
#include "wire/message_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/random.h"
#include "ring/ring.h"
#include "tests/support/bad_bytes.h"
#include "tests/support/capnp_words.h"
#include "tests/support/random_state.h"
#include "tests/support/seeded_cases.h"
#include "tests/wire/wire_test_util.h"
#include "wire/protocol.capnp.h"

namespace trolley {
namespace {

using test_support::FlatArray;
using test_support::ListPointer;
using test_support::RandomBytes;
using test_support::ReadLittleEndian32;
using test_support::StructPointer;
using wire_test::RandomMessage;

constexpr uint64_t kSeed = 20261122;
constexpr size_t kMessageTypes = std::variant_size_v<Message>;

void ExpectRoundTrip(const Message& m) {
  ASSERT_TRUE(ValidateMessage(m).ok()) << ValidateMessage(m).ToString();
  const std::string bytes = EncodeMessage(m);
  EXPECT_EQ(ReadLittleEndian32(bytes, 0), 0u) << MessageName(m) << " took more than one segment";
  EXPECT_EQ(size_t{ReadLittleEndian32(bytes, 4)} * 8 + 8, bytes.size());
  Result<Message> decoded = DecodeMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << MessageName(m) << ": " << decoded.status().ToString();
  EXPECT_EQ(decoded->index(), m.index());
  EXPECT_TRUE(*decoded == m) << MessageName(m);
}

// The ClientGetReply layout, by hand: envelope -> reply -> state, with the
// state's sibling list pointer given by the caller (words from index 9 on).
std::vector<uint64_t> ClientGetReplyWithSiblings(uint64_t siblings_pointer) {
  using P = wire::ClientGetReply::_capnpPrivate;
  static_assert(P::dataWordSize == 2 && P::pointerCount == 2);
  return {
      StructPointer(0, 1, 1),  // 0: root -> envelope at 1
      3,                       // 1: discriminant: clientGetReply
      StructPointer(0, 2, 2),  // 2: -> reply at 3
      7,                       // 3: id
      0,                       // 4: code ok
      0,                       // 5: message: null
      StructPointer(0, 0, 2),  // 6: state -> 7
      0,                       // 7: context: null
      siblings_pointer,        // 8: siblings
  };
}

// ---- Round trips

TEST(MessageCodecTest, EveryMessageTypeRoundTrips) {
  test_support::RunSeededCases(kSeed, 200, [](Random& rng, uint64_t) {
    for (size_t index = 0; index < kMessageTypes; ++index) {
      ExpectRoundTrip(RandomMessage(rng, index));
      if (HasFailure()) return;
    }
  });
}

TEST(MessageCodecTest, DefaultMessagesRoundTrip) {
  // Empty states, empty strings and zeros: fields left null on the wire.
  ExpectRoundTrip(Hello{});
  ExpectRoundTrip(ClientGetReply{RequestId{1}, StatusCode::kNotFound, "", SiblingSet()});
  ExpectRoundTrip(ClientPut{.id = RequestId{2}, .ns = "carts", .key = "k", .tombstone = true});
  ExpectRoundTrip(ReplicaGetReply{});
  ExpectRoundTrip(RingInfoReply{});
  ExpectRoundTrip(ErrorReply{RequestId{0}, StatusCode::kFailedPrecondition, "m"});
  ExpectRoundTrip(StatusRequest{});
  ExpectRoundTrip(StatusReply{.node_id = "n1"});
  ExpectRoundTrip(CartUpdate{.ns = "carts", .cart_id = "c", .mutation_id = 1});
  ExpectRoundTrip(CartUpdateReply{});
}

TEST(MessageCodecTest, CartUpdateRoundTripsEveryField) {
  ExpectRoundTrip(CartUpdate{.id = RequestId{7},
                             .ns = "carts",
                             .cart_id = "user-1",
                             .kind = CartMutationKind::kSetQuantity,
                             .sku = "sku-1",
                             .quantity = 3,
                             .attributes = {{"colour", "red"}, {"size", "M"}},
                             .now_ms = 1'700'000'000'000,
                             .mutation_id = 0xfeedface,
                             .observed = {0x11, 0x22, 0xfeedfa00},
                             .w = 2,
                             .timeout_ms = 500,
                             .forwarded = true,
                             .ttl_ms = 86'400'000});
  ExpectRoundTrip(CartUpdate{.id = RequestId{8},
                             .ns = "carts",
                             .cart_id = "user-1",
                             .kind = CartMutationKind::kMergeGuest,
                             .now_ms = 1'700'000'000'000,
                             .mutation_id = 0x5eed,
                             .guest = std::string("TK\x03\x00 any bytes", 15),
                             .strategy = CartMergeStrategy::kKeepUser});
  ExpectRoundTrip(CartUpdate{.id = RequestId{9},
                             .ns = "guest",
                             .cart_id = "g-1",
                             .kind = CartMutationKind::kMarkMerged,
                             .mutation_id = 0x5eed,
                             .merged_into = "carts/user-1"});
}

// The untrusted-input limits of a CartUpdate, each on an otherwise valid one.
TEST(MessageCodecTest, InvalidCartUpdateIsRefused) {
  const CartUpdate valid{.id = RequestId{1},
                         .ns = "carts",
                         .cart_id = "c",
                         .sku = "s",
                         .quantity = 1,
                         .mutation_id = 5};
  ASSERT_TRUE(DecodeMessage(EncodeMessage(valid)).ok());
  struct Case {
    std::string what;
    CartUpdate m;
    std::string message_has;
  };
  std::vector<Case> cases;
  auto with = [&](std::string what, auto change, std::string message_has) {
    CartUpdate m = valid;
    change(m);
    cases.push_back({std::move(what), std::move(m), std::move(message_has)});
  };
  with(
      "zero id", [](CartUpdate& m) { m.mutation_id = 0; }, "mutation_id must be nonzero");
  with(
      "no key", [](CartUpdate& m) { m.cart_id.clear(); }, "ns/key");
  with(
      "long sku", [](CartUpdate& m) { m.sku.assign(kCartSkuBytesMax + 1, 's'); }, "sku is");
  with(
      "many attributes",
      [](CartUpdate& m) {
        for (size_t i = 0; i <= kCartAttributesMax; ++i) {
          m.attributes.emplace_back("k" + std::to_string(1000 + i), "v");
        }
      },
      "attributes exceed the limit");
  with(
      "big attribute",
      [](CartUpdate& m) {
        m.attributes = {{"k", std::string(kCartAttributeBytesMax, 'v')}};
      },
      "an attribute is");
  with(
      "unsorted attributes",
      [](CartUpdate& m) {
        m.attributes = {{"b", "1"}, {"a", "2"}};
      },
      "not sorted and unique");
  with(
      "duplicate attributes",
      [](CartUpdate& m) {
        m.attributes = {{"a", "1"}, {"a", "2"}};
      },
      "not sorted and unique");
  with(
      "many observed tags", [](CartUpdate& m) { m.observed.assign(kCartObservedTagsMax + 1, 7); },
      "observed tags");
  with(
      "big guest cart", [](CartUpdate& m) { m.guest.assign(kCartGuestBytesMax + 1, 'g'); },
      "the guest cart is");
  with(
      "unknown strategy", [](CartUpdate& m) { m.strategy = static_cast<CartMergeStrategy>(3); },
      "unknown guest merge strategy 3");
  with(
      "long merged_into",
      [](CartUpdate& m) {
        m.kind = CartMutationKind::kMarkMerged;
        m.merged_into.assign(kCartMergedIntoBytesMax + 1, 'k');
      },
      "merged_into is");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_FALSE(ValidateMessage(c.m).ok());
    const Result<Message> decoded = DecodeMessage(EncodeMessage(c.m));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(decoded.status().message().rfind("CartUpdate: ", 0), 0u)
        << decoded.status().message();
    EXPECT_NE(decoded.status().message().find(c.message_has), std::string::npos)
        << decoded.status().message();
  }
}

TEST(MessageCodecTest, UnknownCartMutationKindIsInvalidArgument) {
  capnp::MallocMessageBuilder builder;
  auto update = builder.initRoot<wire::Envelope>().initCartUpdate();
  update.setNs(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("carts"), 5));
  update.setCartId(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("c"), 1));
  update.setMutationId(3);
  update.setKind(static_cast<wire::CartMutationKind>(6));
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const std::string bytes(reinterpret_cast<const char*>(words.begin()), words.size() * 8);
  const Result<Message> decoded = DecodeMessage(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "CartUpdate: unknown mutation kind 6");
  update.setKind(wire::CartMutationKind::CLEAR);
  const kj::Array<capnp::word> ok_words = capnp::messageToFlatArray(builder);
  EXPECT_TRUE(DecodeMessage(
                  std::string(reinterpret_cast<const char*>(ok_words.begin()), ok_words.size() * 8))
                  .ok());
}

TEST(MessageCodecTest, StatusReplyRoundTripsEveryField) {
  // Distinct values everywhere, so a field written to or read from the
  // wrong slot shows.
  const StatusReply m{.id = RequestId{101},
                      .code = StatusCode::kIOError,
                      .message = "hint stats: disk on fire",
                      .node_id = "cart-db-1",
                      .incarnation = 102,
                      .actor = 0xfedcba9876543210ull,
                      .partitions = 64,
                      .partitions_owned = 21,
                      .partitions_replicated = 63,
                      .hints_pending = 104,
                      .hints_oldest_ms = 1'700'000'000'105,
                      .pending_requests = 106,
                      .peers = {{"cart-db-2", true, 0},
                                {"cart-db-3", false, 107},
                                {"cart-db-4", true, ~uint64_t{0}}},
                      .counters = {{"puts_ok", 108}, {"fallback_writes", 117}, {"x_9", 0}},
                      .aae_pairs = {{7, "cart-db-2", 118, 119, 120, 121, 122},
                                    {63, "cart-db-3", 123, 0, 124, 125, 126}},
                      .aae_pairs_total = 127};
  ExpectRoundTrip(m);
  Result<Message> decoded = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(decoded.ok());
  const auto& got = std::get<StatusReply>(*decoded);
  EXPECT_EQ(got.peers.size(), 3u);
  EXPECT_FALSE(got.peers[1].up);
  EXPECT_EQ(got.peers[1].hints_pending, 107u);
  EXPECT_EQ(FindValue(got.counters, "fallback_writes"), 117u);
  EXPECT_EQ(got.counters[0], (NamedValue{"puts_ok", 108}));
  EXPECT_EQ(got.code, StatusCode::kIOError);
  ASSERT_EQ(got.aae_pairs.size(), 2u);
  EXPECT_EQ(got.aae_pairs[1], (AaePairStatus{63, "cart-db-3", 123, 0, 124, 125, 126}));
  EXPECT_EQ(got.aae_pairs_total, 127u);
}

// The list `member` of `reply`, filled with `max` + 1 copies of `element`:
// refused while reading as InvalidArgument saying `refusal`; with `max`
// copies it round-trips.
template <typename T>
void ExpectListBoundedAt(StatusReply reply, std::vector<T> StatusReply::*member, size_t max,
                         const T& element, std::string_view refusal) {
  (reply.*member).assign(max + 1, element);
  Result<Message> too_many = DecodeMessage(EncodeMessage(reply));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_many.status().message(), refusal);
  (reply.*member).pop_back();
  ExpectRoundTrip(reply);
}

TEST(MessageCodecTest, StatusReplyAaePairsAreBoundedAndChecked) {
  auto decode = [](const StatusReply& m) { return DecodeMessage(EncodeMessage(m)); };
  // More pairs than a reply may hold: refused while reading.
  ExpectListBoundedAt(StatusReply{.node_id = "n1", .aae_pairs_total = kStatusAaePairsMax + 1},
                      &StatusReply::aae_pairs, kStatusAaePairsMax, AaePairStatus{.peer = "n2"},
                      "StatusReply: 16385 anti-entropy pairs exceeds the limit of 16384");
  // A partition past the ring, a bad peer id, more pairs than the total.
  Result<Message> past_ring = decode(StatusReply{.node_id = "n1",
                                                 .partitions = 8,
                                                 .aae_pairs = {{.partition = 8, .peer = "n2"}},
                                                 .aae_pairs_total = 1});
  ASSERT_FALSE(past_ring.ok());
  EXPECT_EQ(past_ring.status().message(), "StatusReply: aae partition 8 is not below 8");
  Result<Message> bad_peer = decode(
      StatusReply{.node_id = "n1", .aae_pairs = {{.peer = "bad peer"}}, .aae_pairs_total = 1});
  ASSERT_FALSE(bad_peer.ok());
  EXPECT_EQ(bad_peer.status().message().rfind("StatusReply: aae peer: ", 0), 0u)
      << bad_peer.status().message();
  Result<Message> over_total = decode(StatusReply{
      .node_id = "n1", .aae_pairs = {{.peer = "n2"}, {.peer = "n3"}}, .aae_pairs_total = 1});
  ASSERT_FALSE(over_total.ok());
  EXPECT_EQ(over_total.status().message(),
            "StatusReply: 2 anti-entropy pairs; the limit is 16384 and aae_pairs_total 1");
}

TEST(MessageCodecTest, InvalidStatusReplyIsRefused) {
  auto decode = [](const StatusReply& m) { return DecodeMessage(EncodeMessage(m)); };
  Result<Message> no_id = decode(StatusReply{.id = RequestId{1}});
  ASSERT_FALSE(no_id.ok());
  EXPECT_EQ(no_id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no_id.status().message().rfind("StatusReply: node_id: ", 0), 0u)
      << no_id.status().message();

  Result<Message> bad_peer =
      decode(StatusReply{.node_id = "n1", .peers = {{"n2", true, 0}, {"bad peer", true, 0}}});
  ASSERT_FALSE(bad_peer.ok());
  EXPECT_EQ(bad_peer.status().message().rfind("StatusReply: peer: ", 0), 0u)
      << bad_peer.status().message();

  Result<Message> share = decode(StatusReply{
      .node_id = "n1", .partitions = 64, .partitions_owned = 30, .partitions_replicated = 20});
  ASSERT_FALSE(share.ok());
  EXPECT_EQ(share.status().message(),
            "StatusReply: partitions: need owned <= replicated <= partitions, got 30, 20, 64");

  // More peers than any ring has members: refused while reading, before
  // the peers are copied.
  ExpectListBoundedAt(StatusReply{.node_id = "n1"}, &StatusReply::peers, kPartitionsMax,
                      PeerStatus{"p", true, 0},
                      "StatusReply: 65537 peers exceeds the limit of 65536");

  // Counters: bounded in number (while reading) and in their names.
  ExpectListBoundedAt(StatusReply{.node_id = "n1"}, &StatusReply::counters, kStatusCountersMax,
                      NamedValue{"c", 1}, "StatusReply: 257 counters exceeds the limit of 256");
  for (const std::string& name :
       {std::string(), std::string("Puts-OK"), std::string(kCounterNameBytesMax + 1, 'a')}) {
    Result<Message> bad_name = decode(StatusReply{.node_id = "n1", .counters = {{name, 1}}});
    ASSERT_FALSE(bad_name.ok()) << name;
    EXPECT_NE(bad_name.status().message().find("is not 1..64 bytes of [a-z0-9_]"),
              std::string::npos)
        << bad_name.status().message();
  }
}

TEST(MessageCodecTest, NamesFollowTheVariantOrder) {
  EXPECT_EQ(MessageName(Hello{}), "Hello");
  EXPECT_EQ(MessageName(ClientPut{}), "ClientPut");
  EXPECT_EQ(MessageName(ReplicaWriteReply{}), "ReplicaWriteReply");
  EXPECT_EQ(MessageName(ErrorReply{}), "ErrorReply");
  EXPECT_EQ(MessageName(StatusRequest{}), "StatusRequest");
  EXPECT_EQ(MessageName(StatusReply{}), "StatusReply");
  EXPECT_EQ(MessageName(CartUpdate{}), "CartUpdate");
  EXPECT_EQ(MessageName(CartUpdateReply{}), "CartUpdateReply");
  EXPECT_EQ(MessageName(AaeHashRequest{}), "AaeHashRequest");
  EXPECT_EQ(MessageName(AaeKeysReply{}), "AaeKeysReply");
  EXPECT_EQ(Message(AaeKeysReply{}).index(), kMessageTypes - 1);
}

// Another writer may use many segments; they decode the same.
TEST(MessageCodecTest, MultiSegmentMessageDecodes) {
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);
  auto put = builder.initRoot<wire::Envelope>().initClientPut();
  put.setId(9);
  const std::string ns = "carts";
  const std::string key = "user-1";
  put.setNs(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(ns.data()), ns.size()));
  put.setKey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(key.data()), key.size()));
  auto ctx = put.initContext(2);
  ctx[0].setActor(3);
  ctx[0].setCounter(1);
  ctx[1].setActor(5);
  ctx[1].setCounter(8);
  put.setWriteId(77);
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  const std::string bytes(reinterpret_cast<const char*>(words.asBytes().begin()),
                          words.asBytes().size());
  ASSERT_GT(ReadLittleEndian32(bytes, 0), 0u) << "expected several segments";
  Result<Message> decoded = DecodeMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const ClientPut expected{.id = RequestId{9},
                           .ns = ns,
                           .key = key,
                           .context = VersionVector::FromEntries({{3, 1}, {5, 8}}),
                           .write_id = 77};
  EXPECT_TRUE(*decoded == Message(expected));
}

TEST(MessageCodecTest, DecodesAtEveryAlignment) {
  Random rng(kSeed);
  const Message m = RandomMessage(rng, 8);  // ReplicaWrite
  const std::string bytes = EncodeMessage(m);
  for (size_t offset = 0; offset < 16; ++offset) {
    SCOPED_TRACE("offset=" + std::to_string(offset));
    std::string buffer(offset, 'x');
    buffer += bytes + "trailing";
    Result<Message> decoded = DecodeMessage(std::string_view(buffer).substr(offset, bytes.size()));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == m);
  }
}

TEST(MessageCodecTest, FramedMessagesRoundTrip) {
  Random rng(kSeed + 1);
  std::vector<Message> sent;
  std::string stream;
  for (size_t index = 0; index < kMessageTypes; ++index) {
    sent.push_back(RandomMessage(rng, index));
    ASSERT_TRUE(AppendMessageFrame(stream, sent.back()).ok());
  }
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(stream).ok());
  for (const Message& m : sent) {
    Result<std::optional<std::string>> frame = decoder.Next();
    ASSERT_TRUE(frame.ok() && frame->has_value());
    EXPECT_EQ(**frame, EncodeMessage(m));  // the same bytes as the unframed encoding
    Result<Message> decoded = DecodeMessage(**frame);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == m) << MessageName(m);
  }
  EXPECT_FALSE(decoder.Next()->has_value());
}

TEST(MessageCodecTest, OversizedMessageIsNotFramed) {
  const ClientPut put{
      .id = RequestId{1}, .ns = "carts", .key = "k", .value = std::string(5000, 'v')};
  std::string out = "already here";
  const Status s = AppendMessageFrame(out, put, 4096);
  EXPECT_EQ(s.code(), StatusCode::kLimitExceeded);
  EXPECT_NE(s.message().find("ClientPut of"), std::string::npos) << s.message();
  EXPECT_EQ(out, "already here");
  EXPECT_TRUE(AppendMessageFrame(out, put, 8192).ok());
}

// ---- Bad input

TEST(MessageCodecTest, RandomBytesNeverCrash) {
  int ok = 0;
  for (uint64_t c = 0; c < 10'000; ++c) {
    const uint64_t seed = kSeed + c;
    Random rng(seed);
    std::string bytes = RandomBytes(rng, 0, 512);
    const uint64_t shape = rng.Uniform(3);  // 0: raw bytes
    if (shape >= 1 && bytes.size() >= 32) {
      // 1: a plausible segment table, so decoding gets past it to the pointers.
      bytes.resize(bytes.size() / 8 * 8);
      const auto words = static_cast<uint32_t>(bytes.size() / 8 - 1);
      bytes.replace(0, 8, FlatArray(std::vector<uint64_t>(words)).substr(0, 8));
      if (shape == 2) {
        // 2: and an envelope root with a known or unknown discriminant,
        // whose message struct holds random words.
        const auto data_words = static_cast<uint16_t>(rng.Uniform(4));
        const auto pointers = static_cast<uint16_t>(rng.Uniform(4));
        const std::string head = FlatArray({StructPointer(0, 1, 1), rng.Uniform(kMessageTypes + 2),
                                            StructPointer(0, data_words, pointers)});
        bytes.replace(8, 24, head.substr(8));
      }
    }
    Result<Message> decoded = DecodeMessage(bytes);
    if (decoded.ok()) {
      ++ok;
      EXPECT_TRUE(ValidateMessage(*decoded).ok()) << "seed=" << seed;
      Result<Message> again = DecodeMessage(EncodeMessage(*decoded));
      ASSERT_TRUE(again.ok()) << "seed=" << seed << " " << again.status().ToString();
      EXPECT_TRUE(*again == *decoded) << "seed=" << seed;
    } else {
      test_support::ExpectRefused(decoded.status(),
                                  {StatusCode::kCorruption, StatusCode::kInvalidArgument}, seed);
    }
    if (HasFailure()) return;
  }
  std::printf("random bytes: %d of 10000 decoded\n", ok);
}

TEST(MessageCodecTest, RandomByteFlipsNeverCrash) {
  Random sample_rng(kSeed + 2);
  std::vector<std::string> samples;
  for (size_t index = 0; index < kMessageTypes; ++index) {
    samples.push_back(EncodeMessage(RandomMessage(sample_rng, index)));
  }
  test_support::RunByteFlips(
      samples, kSeed, 10'000,
      [](const std::string& bytes, Random&, uint64_t seed, test_support::FlipCounts& counts) {
        Result<Message> decoded = DecodeMessage(bytes);
        if (decoded.ok()) {
          ++counts.decoded;
          EXPECT_TRUE(ValidateMessage(*decoded).ok()) << "seed=" << seed;
          EncodeMessage(*decoded);  // asserts SiblingSet invariants again
        } else {
          ++counts.refused;
          test_support::ExpectRefused(
              decoded.status(), {StatusCode::kCorruption, StatusCode::kInvalidArgument}, seed);
        }
      });
}

TEST(MessageCodecTest, EveryTruncationIsAnError) {
  Random rng(kSeed + 3);
  for (size_t index = 0; index < kMessageTypes; ++index) {
    const Message m = RandomMessage(rng, index);
    SCOPED_TRACE(MessageName(m));
    test_support::ExpectEveryTruncationIsCorruption(
        EncodeMessage(m), [](std::string_view prefix) { return DecodeMessage(prefix).status(); });
  }
  EXPECT_NE(DecodeMessage("").status().message().find("truncated"), std::string::npos);
}

TEST(MessageCodecTest, TrailingBytesAreCorruption) {
  const std::string bytes = EncodeMessage(Ping{42});
  Result<Message> decoded = DecodeMessage(bytes + std::string(8, '\0'));
  test_support::ExpectCorruption(decoded.status(), "trailing");
}

// A newer peer's union member: the envelope is well formed, the message unknown.
TEST(MessageCodecTest, UnknownUnionMemberIsInvalidArgument) {
  // Control: the hand-built envelope decodes with a known discriminant (Ping).
  std::vector<uint64_t> words = {StructPointer(0, 1, 1), 10, StructPointer(0, 1, 0), 99};
  Result<Message> ping = DecodeMessage(FlatArray(words));
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_TRUE(*ping == Message(Ping{99}));

  words[1] = kMessageTypes;
  Result<Message> decoded = DecodeMessage(FlatArray(words));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "unknown message type " + std::to_string(kMessageTypes));
  words[1] = 0xffff;
  EXPECT_EQ(DecodeMessage(FlatArray(words)).status().message(), "unknown message type 65535");
}

TEST(MessageCodecTest, UnknownStatusCodeIsInvalidArgument) {
  const std::string bytes =
      EncodeMessage(ErrorReply{RequestId{1}, static_cast<StatusCode>(200), "from the future"});
  Result<Message> decoded = DecodeMessage(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "ErrorReply: unknown status code 200");
}

// A ~80-byte payload claiming four million zero-sized siblings: without a
// tight traversal limit decode would build ~300 MB of Siblings.
TEST(MessageCodecTest, HugeListClaimHitsTraversalLimit) {
  // Control: the layout is valid with a small list.
  std::vector<uint64_t> words = ClientGetReplyWithSiblings(ListPointer(0, 7, 0));
  words.push_back(StructPointer(0, 0, 0));  // tag: 0 elements
  ASSERT_TRUE(DecodeMessage(FlatArray(words)).ok())
      << DecodeMessage(FlatArray(words)).status().ToString();

  // 4M elements of 0 words. The traversal limit trips when the list pointer
  // is read, before the decoder reserves or builds a single Sibling (no
  // timing is asserted: the error text shows which check refused it).
  words.back() = StructPointer(1 << 22, 0, 0);
  Result<Message> decoded = DecodeMessage(FlatArray(words));
  test_support::ExpectCorruption(decoded.status(), "traversal limit");
}

// Many siblings whose values all point at one shared 8 KB blob: a ~20 KB
// payload that would read as 2 MB. The traversal limit refuses it.
TEST(MessageCodecTest, OverlappingPointersHitTraversalLimit) {
  auto shared_blob = [](uint32_t n, uint32_t blob_words) {
    std::vector<uint64_t> w = ClientGetReplyWithSiblings(ListPointer(0, 7, 7ull * n));
    w.push_back(StructPointer(static_cast<int32_t>(n), 6, 1));  // 9: siblings tag
    const size_t context_at = w.size() + 7ull * n;              // the context's tag
    w[7] = ListPointer(static_cast<int32_t>(context_at - 8), 7, 2);
    const size_t blob_at = context_at + 3;
    for (uint32_t i = 0; i < n; ++i) {
      const size_t base = w.size();
      w.insert(w.end(), {1, i + 1, 0, 0, 0, 0});  // actor, counter, tombstone, ids
      w.push_back(ListPointer(static_cast<int32_t>(blob_at - (base + 7)), 2, blob_words * 8ull));
    }
    TROLLEY_ASSERT(w.size() == context_at);
    w.insert(w.end(), {StructPointer(1, 2, 0), 1, n});  // context {1: n}
    for (uint32_t i = 0; i < blob_words; ++i) w.push_back(0x6170706c65ull + i);
    return FlatArray(w);
  };
  Result<Message> small = DecodeMessage(shared_blob(2, 1024));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  ASSERT_EQ(std::get<ClientGetReply>(*small).state.size(), 2u);

  Result<Message> amplified = DecodeMessage(shared_blob(256, 1024));
  test_support::ExpectCorruption(amplified.status(), "traversal limit");
}

// The schema has no recursion, so deep nesting can only hide in fields this
// build does not know; the decoder never follows them (forward
// compatibility), and a full walk with the codec's nesting limit refuses it.
TEST(MessageCodecTest, DeepNestingIsNeverFollowed) {
  // Envelope -> Ping with an unknown second pointer: a 1000-deep chain.
  std::vector<uint64_t> words = {StructPointer(0, 1, 1), 10, StructPointer(0, 1, 1), 5,
                                 StructPointer(0, 0, 1)};
  for (int depth = 0; depth < 1000; ++depth) words.push_back(StructPointer(0, 0, 1));
  words.push_back(0);
  const std::string bytes = FlatArray(words);
  Result<Message> decoded = DecodeMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(*decoded == Message(Ping{5}));

  kj::Array<capnp::word> aligned = kj::heapArray<capnp::word>(bytes.size() / 8);
  std::memcpy(aligned.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.nestingLimit = kMessageNestingLimit;
  capnp::FlatArrayMessageReader reader(aligned, options);
  EXPECT_ANY_THROW(reader.getRoot<capnp::AnyPointer>().targetSize());
}

// Well-formed Cap'n Proto carrying a state or context that breaks the
// version invariants: Corruption, naming the message.
TEST(MessageCodecTest, BrokenVersionInvariantsAreCorruption) {
  auto put_with_context = [](std::vector<std::pair<uint64_t, uint64_t>> entries) {
    capnp::MallocMessageBuilder builder;
    auto put = builder.initRoot<wire::Envelope>().initClientPut();
    const std::string ns = "carts";
    put.setNs(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(ns.data()), ns.size()));
    put.setKey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(ns.data()), ns.size()));
    auto ctx = put.initContext(static_cast<unsigned>(entries.size()));
    for (unsigned i = 0; i < ctx.size(); ++i) {
      ctx[i].setActor(entries[i].first);
      ctx[i].setCounter(entries[i].second);
    }
    const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
    return std::string(reinterpret_cast<const char*>(words.asBytes().begin()),
                       words.asBytes().size());
  };
  ASSERT_TRUE(DecodeMessage(put_with_context({{1, 1}, {2, 5}})).ok());
  for (const auto& entries : std::vector<std::vector<std::pair<uint64_t, uint64_t>>>{
           {{2, 1}, {1, 1}}, {{1, 1}, {1, 2}}, {{1, 0}}}) {
    Result<Message> decoded = DecodeMessage(put_with_context(entries));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(decoded.status().message().rfind("ClientPut: context", 0), 0u)
        << decoded.status().message();
  }

  // A sibling not covered by the state's context.
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<wire::Envelope>().initReplicaGetReply();
  auto state = reply.initState();
  state.initContext(1)[0].setActor(1);
  state.getContext()[0].setCounter(1);
  auto sib = state.initSiblings(1)[0];
  sib.setActor(1);
  sib.setCounter(2);
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  Result<Message> decoded = DecodeMessage(
      std::string(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size()));
  test_support::ExpectCorruption(decoded.status(), "ReplicaGetReply: siblings");
}

TEST(MessageCodecTest, InvalidNamespaceAndKeyLengthsAreRefused) {
  const std::string ns64(64, 'n');
  const std::string key400(400, 'k');
  ExpectRoundTrip(ClientGet{RequestId{1}, ns64, key400, 0, 0, false});
  ExpectRoundTrip(ReplicaWrite{RequestId{1}, "n", "k", SiblingSet(), ""});

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "k"}, {ns64 + "n", "k"}, {"carts", ""}, {"carts", key400 + "k"}};
  for (const auto& [ns, key] : bad) {
    SCOPED_TRACE("ns=" + std::to_string(ns.size()) + " key=" + std::to_string(key.size()));
    const std::vector<Message> messages = {
        ClientGet{RequestId{1}, ns, key, 0, 0, false},
        ClientPut{.id = RequestId{1}, .ns = ns, .key = key, .value = "v"},
        ReplicaGet{RequestId{1}, ns, key},
        ReplicaWrite{RequestId{1}, ns, key, SiblingSet(), ""},
    };
    for (const Message& m : messages) {
      Result<Message> decoded = DecodeMessage(EncodeMessage(m));
      ASSERT_FALSE(decoded.ok()) << MessageName(m);
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(decoded.status().message().rfind(std::string(MessageName(m)) + ": ns/key: ", 0), 0u)
          << decoded.status().message();
    }
  }
}

// ---- Size and cost

std::string CartValue() {
  std::string cart;
  for (int line = 0; line < 20; ++line) {
    std::string row =
        "sku-" + std::to_string(100000 + line) + " qty=" + std::to_string(line % 5 + 1) + " note=";
    row.resize(75, 'x');
    cart += row;
  }
  return cart;
}

// A put of a 20-line (1.5 KB) cart with a 3-actor context costs under 250
// bytes of protocol (16 per context entry, 56 per sibling, ~100 fixed).
TEST(MessageCodecTest, TypicalPutIsCompact) {
  const std::string cart = CartValue();
  ASSERT_EQ(cart.size(), 1500u);
  const ClientPut put{
      .id = RequestId{123456},
      .ns = "carts",
      .key = "user-0012345678",
      .context = VersionVector::FromEntries(
          {{0x1234567890abcdefull, 41}, {0x2234567890abcdefull, 7}, {0x3234567890abcdefull, 12}}),
      .value = cart,
      .write_id = 0x5eed5eed5eedull};
  const std::string bytes = EncodeMessage(put);
  EXPECT_LE(bytes.size(), cart.size() + 250);

  SiblingSet state;
  state.ApplyWrite(
      WriteIntent{put.context, cart, false, put.write_id, 1'700'000'000'000, 0, nullptr},
      0x1234567890abcdefull, 41);
  const ClientPutReply reply{put.id, StatusCode::kOk, "", state};
  const ReplicaWrite replicate{RequestId{99}, put.ns, put.key, state, ""};
  const std::string reply_bytes = EncodeMessage(reply);
  const std::string replicate_bytes = EncodeMessage(replicate);
  EXPECT_LE(reply_bytes.size(), cart.size() + 250);
  EXPECT_LE(replicate_bytes.size(), cart.size() + 250);
  std::printf(
      "1.5 KB cart: ClientPut %zu bytes, ClientPutReply %zu, ReplicaWrite %zu "
      "(+4 framing each)\n",
      bytes.size(), reply_bytes.size(), replicate_bytes.size());
}

// Not a gate (timings on a shared VM are noisy): prints the cost per message.
TEST(MessageCodecTest, ReportEncodeDecodeCost) {
  const std::string cart = CartValue();
  const ClientPut put{.id = RequestId{1},
                      .ns = "carts",
                      .key = "user-0012345678",
                      .context = VersionVector::FromEntries({{1, 41}, {2, 7}, {3, 12}}),
                      .value = cart,
                      .write_id = 77};
  constexpr int kRounds = 20'000;
  size_t sink = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) sink += EncodeMessage(put).size();
  const auto encode = std::chrono::steady_clock::now() - start;
  const std::string bytes = EncodeMessage(put);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) sink += DecodeMessage(bytes).ok() ? 1 : 0;
  const auto decode = std::chrono::steady_clock::now() - start;
  EXPECT_GT(sink, 0u);
  using std::chrono::nanoseconds;
  std::printf(
      "ClientPut 1.5 KB: encode %.0f ns, decode %.0f ns (per message)\n",
      static_cast<double>(std::chrono::duration_cast<nanoseconds>(encode).count()) / kRounds,
      static_cast<double>(std::chrono::duration_cast<nanoseconds>(decode).count()) / kRounds);
}

}  // namespace
}  // namespace trolley
