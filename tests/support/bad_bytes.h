// The bad-input checks every codec test runs (record, message and cart
// codecs): every truncation of a valid encoding is refused, and seeded
// random byte flips either decode to a valid value or are refused with a
// Status, never a crash. Each codec test supplies the decode and the checks
// of a decoded value; these helpers hold the loops, the seeding and the
// accounting, so the three codecs are held to the same rule.
//
// Header-only, for GoogleTest binaries: the checks are EXPECT/ASSERTs of the
// running test. A failing case names its seed; case c of a run seeded s
// uses Random(s + c), so the seed alone replays it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "tests/support/seeded_cases.h"

namespace trolley::test_support {

// Expects `s` to be a refusal with one of `codes` and a message saying why.
inline void ExpectRefused(const Status& s, const std::vector<StatusCode>& codes, uint64_t seed) {
  EXPECT_FALSE(s.ok()) << "seed=" << seed;
  EXPECT_TRUE(std::find(codes.begin(), codes.end(), s.code()) != codes.end())
      << "seed=" << seed << " " << s.ToString();
  EXPECT_FALSE(s.message().empty()) << "seed=" << seed;
}

// Expects `s` to be Corruption with `says` in its message.
inline void ExpectCorruption(const Status& s, std::string_view says) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
}

// Calls decode(prefix) for every proper prefix of `bytes` (length 0 to
// size - 1) and asserts it returns a Corruption status.
template <typename Decode>  // (std::string_view) -> Status
void ExpectEveryTruncationIsCorruption(std::string_view bytes, Decode decode) {
  for (size_t len = 0; len < bytes.size(); ++len) {
    const Status s = decode(bytes.substr(0, len));
    ASSERT_FALSE(s.ok()) << "len=" << len;
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << "len=" << len << " " << s.ToString();
  }
}

// How the flipped inputs of RunByteFlips fared.
struct FlipCounts {
  int decoded = 0;
  int refused = 0;
};

// Runs `cases` cases: case c takes Random(base_seed + c), copies one of
// `samples` (non-empty encodings), XORs 1 to 4 of its bytes with nonzero
// values, and calls check(bytes, rng, seed, counts), which decodes the
// bytes, checks the outcome (ExpectRefused for a refusal) and counts it.
// Stops after the first case that fails (RunSeededCases). Both outcomes must occur: flips in
// values decode, flips in structure do not. Prints the counts.
template <typename Check>  // (const std::string&, Random&, uint64_t seed, FlipCounts&) -> void
FlipCounts RunByteFlips(const std::vector<std::string>& samples, uint64_t base_seed, uint64_t cases,
                        Check check) {
  FlipCounts counts;
  RunSeededCases(base_seed, cases, [&](Random& rng, uint64_t c) {
    std::string bytes = samples[rng.Uniform(samples.size())];
    for (uint64_t f = 1 + rng.Uniform(4); f > 0; --f) {
      bytes[rng.Uniform(bytes.size())] ^= static_cast<char>(1 + rng.Uniform(255));
    }
    check(bytes, rng, base_seed + c, counts);
  });
  if (::testing::Test::HasFailure()) return counts;
  EXPECT_GT(counts.decoded, 0);
  EXPECT_GT(counts.refused, 0);
  std::printf("byte flips: %d decoded, %d refused\n", counts.decoded, counts.refused);
  return counts;
}

}  // namespace trolley::test_support
