// Goal: FrameDecoder returns exactly the frames written by AppendFrame
// however the stream is split, refuses an oversized length as soon as its
// four bytes arrive and before allocating, and never holds more than one
// partial frame of at most limit + 4 bytes. Method: exhaustive split points
// on a small stream, seeded random chunkings (failures print the seed), and
// hand-written length prefixes.
#include "wire/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/random.h"
#include "tests/support/random_state.h"

namespace trolley {
namespace {

constexpr uint64_t kFrameSeed = 20261123;

std::string Stream(const std::vector<std::string>& payloads) {
  std::string out;
  for (const std::string& p : payloads) AppendFrame(out, p);
  return out;
}

// Drains every complete frame; fails the test on an error.
void Drain(FrameDecoder& decoder, std::vector<std::string>& out) {
  for (;;) {
    Result<std::optional<std::string>> frame = decoder.Next();
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (!frame->has_value()) return;
    out.push_back(std::move(**frame));
  }
}

std::string LengthPrefix(uint32_t n) {
  std::string out;
  AppendFrameHeader(out, n);
  return out;
}

TEST(FrameTest, HeaderIsLittleEndianLength) {
  std::string out;
  AppendFrame(out, "abc");
  EXPECT_EQ(out, std::string("\x03\x00\x00\x00"
                             "abc",
                             7));
  EXPECT_EQ(LengthPrefix(0x01020304), "\x04\x03\x02\x01");
}

TEST(FrameTest, SplitAtEveryBoundary) {
  const std::vector<std::string> payloads = {"hello", "", std::string(300, 'x'), "z",
                                             std::string("\0\1\2", 3)};
  const std::string stream = Stream(payloads);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut=" + std::to_string(cut));
    FrameDecoder decoder;
    std::vector<std::string> got;
    ASSERT_TRUE(decoder.Feed(std::string_view(stream).substr(0, cut)).ok());
    Drain(decoder, got);
    ASSERT_TRUE(decoder.Feed(std::string_view(stream).substr(cut)).ok());
    Drain(decoder, got);
    EXPECT_EQ(got, payloads);
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
  // One byte at a time.
  FrameDecoder decoder;
  std::vector<std::string> got;
  for (char c : stream) {
    ASSERT_TRUE(decoder.Feed(&c, 1).ok());
    Drain(decoder, got);
  }
  EXPECT_EQ(got, payloads);
}

TEST(FrameTest, ManyFramesInOneChunk) {
  std::vector<std::string> payloads;
  for (int i = 0; i < 1000; ++i) payloads.push_back("frame-" + std::to_string(i));
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(Stream(payloads)).ok());
  std::vector<std::string> got;
  Drain(decoder, got);
  EXPECT_EQ(got, payloads);
}

TEST(FrameTest, RandomChunkingsReassemble) {
  for (uint64_t c = 0; c < 300; ++c) {
    const uint64_t seed = kFrameSeed + c;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rng(seed);
    std::vector<std::string> payloads;
    const uint64_t frames = rng.Uniform(20);
    for (uint64_t f = 0; f < frames; ++f) {
      payloads.push_back(test_support::RandomBytes(rng, 0, rng.Chance(0.1) ? 5000 : 50));
    }
    const std::string stream = Stream(payloads);
    FrameDecoder decoder(5000);
    std::vector<std::string> got;
    for (size_t at = 0; at < stream.size();) {
      const size_t n = std::min<size_t>(stream.size() - at, rng.Range(1, 700));
      ASSERT_TRUE(decoder.Feed(stream.data() + at, n).ok());
      at += n;
      Drain(decoder, got);
      EXPECT_LE(decoder.buffered_bytes(), 5000u + kFrameHeaderBytes);
    }
    EXPECT_EQ(got, payloads);
  }
}

// 0xFFFFFFFF: refused on the fourth byte, with nothing allocated for it.
TEST(FrameTest, FourGibLengthIsRefusedAtOnce) {
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed("\xff\xff\xff", 3).ok());  // not yet known
  EXPECT_LE(decoder.buffered_bytes(), 3u);
  const Status s = decoder.Feed(
      "\xff"
      "payload follows",
      16);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "frame of 4294967295 bytes exceeds the limit of 8388608");
  EXPECT_LE(decoder.buffered_bytes(), kFrameHeaderBytes);
  EXPECT_TRUE(decoder.failed());
  // Failed for good: later input is refused with the same error.
  EXPECT_EQ(decoder.Feed("more", 4), s);
  Result<std::optional<std::string>> next = decoder.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status(), s);
  EXPECT_LE(decoder.buffered_bytes(), kFrameHeaderBytes);
}

TEST(FrameTest, LimitIsInclusiveAndConfigurable) {
  FrameDecoder decoder(100);
  EXPECT_EQ(decoder.frame_bytes_max(), 100u);
  ASSERT_TRUE(decoder.Feed(Stream({std::string(100, 'a')})).ok());
  std::vector<std::string> got;
  Drain(decoder, got);
  ASSERT_EQ(got.size(), 1u);
  const Status s = decoder.Feed(LengthPrefix(101));
  EXPECT_EQ(s.message(), "frame of 101 bytes exceeds the limit of 100");
}

// Frames completed before a bad length are still delivered, then the error.
TEST(FrameTest, GoodFramesBeforeABadLengthAreDelivered) {
  FrameDecoder decoder(16);
  const std::string stream = Stream({"one", "two"}) + LengthPrefix(17) + "junk";
  EXPECT_FALSE(decoder.Feed(stream).ok());
  EXPECT_EQ(**decoder.Next(), "one");
  EXPECT_EQ(**decoder.Next(), "two");
  EXPECT_FALSE(decoder.Next().ok());
}

// A peer that announces a large frame and then sends little costs little:
// the buffer grows with the bytes that arrive, never past the announced size.
TEST(FrameTest, BufferGrowsWithArrivingBytesOnly) {
  const uint32_t announced = 4 << 20;
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(LengthPrefix(announced)).ok());
  EXPECT_EQ(decoder.buffered_bytes(), kFrameHeaderBytes);
  ASSERT_TRUE(decoder.Feed("0123456789").ok());
  EXPECT_LE(decoder.buffered_bytes(), kFrameHeaderBytes + 4096);
  const std::string chunk(64 << 10, 'c');
  size_t fed = 10;
  while (fed + chunk.size() <= announced) {
    ASSERT_TRUE(decoder.Feed(chunk).ok());
    fed += chunk.size();
    ASSERT_LE(decoder.buffered_bytes(), kFrameHeaderBytes + announced);
    ASSERT_LE(decoder.buffered_bytes(), kFrameHeaderBytes + 2 * fed);
  }
  ASSERT_TRUE(decoder.Feed(std::string(announced - fed, 'd')).ok());
  Result<std::optional<std::string>> frame = decoder.Next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->size(), announced);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

// Zero-length payloads are valid frames (framing does not judge contents);
// DecodeMessage is what refuses an empty payload.
TEST(FrameTest, ZeroLengthPayloadIsAFrame) {
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(Stream({"", "", "x", ""})).ok());
  std::vector<std::string> got;
  Drain(decoder, got);
  EXPECT_EQ(got, (std::vector<std::string>{"", "", "x", ""}));
}

TEST(FrameTest, AppendFrameBatchesIntoOneBuffer) {
  std::string out = "prefix";
  AppendFrame(out, "a");
  AppendFrame(out, "");
  EXPECT_EQ(out, std::string("prefix\x01\x00\x00\x00"
                             "a\x00\x00\x00\x00",
                             15));
}

}  // namespace
}  // namespace trolley
