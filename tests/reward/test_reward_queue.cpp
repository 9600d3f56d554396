// RewardQueue over real rewards: a slow Python function (20 ms per sample, tests/reward/python/slow.py)
// in worker processes, a hanging one without time limit, and a built-in.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "common/base/error.h"
#include "reward/registry.h"
#include "reward/reward_queue.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;
using test::reward_input;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<const RewardFn> python_reward(const std::string& file, double timeout_s = 5.0,
                                              int workers = 2) {
    RewardSpec s;
    s.fn = "python:" STRIDE_SOURCE_DIR "/tests/reward/python/" + file + ".py:score";
    s.timeout_s = timeout_s;
    s.plugin_workers = workers;
    s.plugin_memory_mb = 512;
    return make_reward(s);
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sample i is right when i is even.
RewardInput sample(int i) {
    return reward_input(std::to_string(i), std::to_string(i % 2 ? i + 1 : i));
}

// Every tag 0..n-1 exactly once, each scored as sample(tag) should be.
void expect_each_once(const std::vector<ScoredSample>& got, int n) {
    std::map<uint64_t, int> seen;
    for (const ScoredSample& s : got) {
        ++seen[s.tag];
        EXPECT_EQ(s.result.status, RewardStatus::ok) << s.tag << ": " << s.result.detail;
        EXPECT_EQ(s.result.correct, s.tag % 2 == 0) << s.tag;
    }
    EXPECT_EQ(static_cast<int>(got.size()), n);
    for (int i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "tag " << i;
}

}  // namespace

// 40 samples of 20 ms each take at least 0.4 s to score on two workers; handing them over must not.
TEST(RewardQueue, SubmitDoesNotWaitWhileThereIsRoom) {
    RewardQueue q(python_reward("slow"), {.capacity = 64, .max_batch = 8, .threads = 2});
    const auto t0 = Clock::now();
    for (int i = 0; i < 40; ++i) q.submit(i, sample(i));
    EXPECT_LT(seconds_since(t0), 0.1);
    EXPECT_EQ(q.full_waits(), 0);
    EXPECT_GT(q.depth(), 0u);  // still scoring
    std::vector<ScoredSample> got = q.poll();
    EXPECT_LT(got.size(), 40u);
    for (ScoredSample& s : q.drain()) got.push_back(std::move(s));
    expect_each_once(got, 40);
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_TRUE(q.poll().empty());
}

// A producer faster than the reward is held back: the queue never holds more than its capacity.
TEST(RewardQueue, DepthStaysBoundedUnderBackPressure) {
    RewardQueue q(python_reward("slow"), {.capacity = 6, .max_batch = 4, .threads = 2});
    std::vector<ScoredSample> got;
    for (int i = 0; i < 30; ++i) {
        q.submit(i, sample(i));
        EXPECT_LE(q.depth(), 6u);
        for (ScoredSample& s : q.poll()) got.push_back(std::move(s));  // as a decode loop would
    }
    for (ScoredSample& s : q.drain()) got.push_back(std::move(s));
    expect_each_once(got, 30);
    EXPECT_EQ(q.max_depth(), 6u);
    EXPECT_GT(q.full_waits(), 0);
    EXPECT_GT(q.full_wait_seconds(), 0.0);
}

TEST(RewardQueue, CloseScoresWhatIsInFlight) {
    RewardQueue q(python_reward("slow"), {.capacity = 64, .max_batch = 4, .threads = 1});
    for (int i = 0; i < 12; ++i) q.submit(i, sample(i));
    q.close();
    EXPECT_EQ(q.depth(), 0u);
    expect_each_once(q.poll(), 12);
    EXPECT_THROW(q.submit(99, sample(99)), Error);
}

TEST(RewardQueue, ManyProducers) {
    RewardQueue q(make_reward(RewardSpec{}), {.capacity = 16, .max_batch = 8, .threads = 2});  // exact_match
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t)
        producers.emplace_back([&, t] {
            for (int i = t; i < 400; i += 4) q.submit(i, sample(i));
        });
    for (auto& p : producers) p.join();
    expect_each_once(q.drain(), 400);
    EXPECT_LE(q.max_depth(), 16u);
}

// A reward without time limit that hangs cannot hold up shutdown: after the grace period the reward
// is cancelled and the stuck samples come back as errors.
TEST(RewardQueue, CloseWithGraceEndsAHungRewardWithoutTimeLimit) {
    RewardQueue q(python_reward("hangs", /*timeout_s=*/0.0, /*workers=*/1), {.capacity = 8, .max_batch = 4});
    q.submit(1, reward_input("x", "ok"));
    q.submit(2, reward_input("x", "bad"));  // hangs.py sleeps unless the label is "ok"
    const auto t0 = Clock::now();
    q.close(0.3);
    EXPECT_LT(seconds_since(t0), 3.0);
    std::vector<ScoredSample> got = q.poll();
    ASSERT_EQ(got.size(), 2u);
    for (const ScoredSample& s : got) {
        if (s.tag == 2) {
            EXPECT_EQ(s.result.status, RewardStatus::error) << s.result.detail;
        }
    }
}
