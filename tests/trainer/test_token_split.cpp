// How the trainer ranks share a batch (trainer/token_split.h): every sequence to exactly one rank,
// the ranks' token counts within one sequence of each other, and the same split on every call.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "common/base/error.h"
#include "trainer/token_split.h"

using namespace stride;

namespace {

std::vector<size_t> loads(const std::vector<std::vector<size_t>>& parts, const std::vector<size_t>& tokens) {
    std::vector<size_t> out;
    for (const auto& p : parts) {
        size_t s = 0;
        for (size_t i : p) s += tokens[i];
        out.push_back(s);
    }
    return out;
}

}  // namespace

TEST(TokenSplit, EverySequenceGoesToExactlyOnePartInIndexOrder) {
    const std::vector<size_t> tokens = {5, 100, 7, 7, 60, 1, 33, 2};
    const auto parts = split_by_tokens(tokens, 3);
    ASSERT_EQ(parts.size(), 3u);
    std::vector<int> seen(tokens.size(), 0);
    for (const auto& p : parts) {
        EXPECT_TRUE(std::is_sorted(p.begin(), p.end()));
        for (size_t i : p) ++seen[i];
    }
    for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(seen[i], 1) << "sequence " << i;
}

TEST(TokenSplit, BalancesTokensNotSequenceCounts) {
    // One long sequence and many short ones: a split by count would give one rank 100 + 4 tokens.
    const std::vector<size_t> tokens = {100, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    const auto parts = split_by_tokens(tokens, 2);
    const auto l = loads(parts, tokens);
    EXPECT_EQ(l[0], 100u);
    EXPECT_EQ(l[1], 100u);
    EXPECT_EQ(parts[0], std::vector<size_t>{0});
    EXPECT_EQ(parts[1].size(), 10u);
}

TEST(TokenSplit, PartsDifferByAtMostTheLongestSequenceAndTheSplitIsDeterministic) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<size_t> tokens(1 + rng() % 40);
        for (size_t& t : tokens) t = 1 + rng() % 500;
        const int parts = 1 + static_cast<int>(rng() % 5);
        const auto split = split_by_tokens(tokens, parts);
        const auto l = loads(split, tokens);
        const size_t longest = *std::max_element(tokens.begin(), tokens.end());
        EXPECT_LE(*std::max_element(l.begin(), l.end()) - *std::min_element(l.begin(), l.end()), longest);
        EXPECT_EQ(std::accumulate(l.begin(), l.end(), size_t{0}),
                  std::accumulate(tokens.begin(), tokens.end(), size_t{0}));
        EXPECT_EQ(split_by_tokens(tokens, parts), split);
    }
}

TEST(TokenSplit, MorePartsThanSequencesLeavesSomeEmptyAndZeroPartsIsAnError) {
    const auto parts = split_by_tokens({3, 4}, 4);
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(parts[0], std::vector<size_t>{1});
    EXPECT_EQ(parts[1], std::vector<size_t>{0});
    EXPECT_TRUE(parts[2].empty() && parts[3].empty());
    EXPECT_THROW(split_by_tokens({1}, 0), Error);
}
