// Rewards off the decode loop, in a real rollout worker (real buffer, publisher and dispatcher on
// loopback): with a slow reward the engine keeps stepping while samples are scored, the reward queue
// stays within its bound (back-pressure, counted, when rewards fall behind), every group reaches the
// buffer exactly once with the reward of its own responses; samples still being scored are in the
// in-flight records (reward PENDING) and a restarted worker scores them again instead of losing them;
// a group saved complete (a stop whose put failed) is put by the successor as it is.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "rollout/inflight.h"
#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using stride::test::RolloutRig;

namespace {

// Scores as `inner` does, `per_sample` later per sample, and notes whether the worker's engine
// stepped while it slept: the decode loop went on while rewards were pending.
class SlowReward final : public RewardFn {
   public:
    SlowReward(std::shared_ptr<const RewardFn> inner, std::chrono::milliseconds per_sample)
        : inner_(std::move(inner)), per_sample_(per_sample) {}
    void watch(const RolloutStats& st) { steps_ = &st.engine_steps; }  // before the worker runs
    RewardResult score(const RewardInput& in) const override { return score_batch({in}).at(0); }
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        // Sleeps per_sample_ a sample, and up to 200 ms while the engine has not stepped yet: on a
        // loaded machine the first decode step after a call may come a scheduler slice later, which
        // is not a stall (a worker that waited on this call would not step at all).
        const int64_t before = steps_->load();
        const auto t0 = std::chrono::steady_clock::now();
        const auto min_end = t0 + per_sample_ * static_cast<int>(in.size());
        const auto max_end = std::max(min_end, t0 + std::chrono::milliseconds(200));
        for (auto now = t0; now < max_end; now = std::chrono::steady_clock::now()) {
            if (now >= min_end && steps_->load() > before) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (steps_->load() > before) ++overlapping_calls;
        samples += static_cast<int>(in.size());
        return inner_->score_batch(in);
    }
    std::string name() const override { return "slow"; }

    mutable std::atomic<int> samples{0}, overlapping_calls{0};

   private:
    std::shared_ptr<const RewardFn> inner_;
    std::chrono::milliseconds per_sample_;
    const std::atomic<int64_t>* steps_ = nullptr;
};

// Holds every call until open() (or cancel), then scores as `inner` does.
class GatedReward final : public RewardFn {
   public:
    explicit GatedReward(std::shared_ptr<const RewardFn> inner) : inner_(std::move(inner)) {}
    void open() const {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = true;
        cv_.notify_all();
    }
    RewardResult score(const RewardInput& in) const override { return score_batch({in}).at(0); }
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return open_; });
        lock.unlock();
        return inner_->score_batch(in);
    }
    void cancel() const override { open(); }
    std::string name() const override { return "gated"; }

   private:
    std::shared_ptr<const RewardFn> inner_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    mutable bool open_ = false;
};

// The score `fn` gives sample `s` on its own: the result attached to a sample must be its own.
double own_score(const RewardFn& fn, const RolloutRig& rig, const v1::Sample& s) {
    v1::Prompt p;
    p.set_label(s.label());
    return fn.score(reward_input(p, s, rig.ctx().tokenizer, rig.ctx().stop_tokens)).score;
}

void expect_scored_once_each(const RolloutRig& rig, const RewardFn& inner,
                             const std::map<std::string, v1::Sample>& samples) {
    EXPECT_EQ(samples.size(), 12u) << "six groups of two, each exactly once";
    for (const auto& [id, s] : samples) {
        EXPECT_NE(s.reward_status(), v1::REWARD_STATUS_PENDING) << id;
        EXPECT_NE(s.reward_status(), v1::REWARD_STATUS_ERROR) << id << ": " << s.reward_detail();
        EXPECT_NE(s.finish_reason(), v1::FINISH_REASON_UNSPECIFIED) << id;
        EXPECT_FLOAT_EQ(s.reward(), static_cast<float>(own_score(inner, rig, s))) << id;
    }
}

int pending_rewards(const std::vector<v1::InFlightGroup>& records) {
    int n = 0;
    for (const auto& g : records)
        for (const auto& s : g.finished()) n += s.reward_status() == v1::REWARD_STATUS_PENDING;
    return n;
}

}  // namespace

TEST(RolloutRewards, ASlowRewardDoesNotStallDecoding) {
    // Responses of up to 96 tokens: decoding goes on well after the first responses end and are scored.
    RolloutRig rig("rewards-slow", {"reward.workers=1", "rollout.max_tokens=96"});
    const auto inner = rig.ctx().reward;
    auto slow = std::make_shared<SlowReward>(inner, std::chrono::milliseconds(50));
    rig.set_reward(slow);
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    slow->watch(w.stats());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    expect_scored_once_each(rig, *inner, rig.samples());
    const RolloutStats& st = w.stats();
    EXPECT_EQ(slow->samples.load(), 12) << "each sample scored once";
    EXPECT_GT(slow->overlapping_calls.load(), 0) << "the engine stepped while rewards were being scored";
    EXPECT_GT(st.reward_queue_max_depth.load(), 1) << "samples were handed over without waiting for rewards";
    EXPECT_LE(st.reward_queue_max_depth.load(), st.reward_queue_capacity.load());
    EXPECT_EQ(st.reward_full_waits.load(), 0) << "12 samples fit in the queue: decoding never waited";
    EXPECT_EQ(st.groups.load(), 6);
    EXPECT_EQ(st.rewards_pending.load(), 0);
    EXPECT_EQ(st.groups_in_flight.load(), 0);
    EXPECT_TRUE(rig.partials().empty());
}

// Two sequences at a time make the queue's bound 8: rewards slower than generation fill it, and the
// worker waits for room (counted) rather than letting it grow.
TEST(RolloutRewards, BackPressureKeepsTheQueueWithinItsBound) {
    RolloutRig rig("rewards-full", {"reward.workers=1", "rollout.max_batch_seqs=2"});
    const auto inner = rig.ctx().reward;
    auto slow = std::make_shared<SlowReward>(inner, std::chrono::milliseconds(80));
    rig.set_reward(slow);
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    slow->watch(w.stats());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    expect_scored_once_each(rig, *inner, rig.samples());
    const RolloutStats& st = w.stats();
    EXPECT_EQ(st.reward_queue_capacity.load(), 8);
    EXPECT_GT(st.reward_full_waits.load(), 0);
    EXPECT_LE(st.reward_queue_max_depth.load(), 8);
    EXPECT_EQ(st.groups.load(), 6);
}

// While no reward comes back, the records saved at round boundaries hold every sample of every
// group: finished ones with reward PENDING. Once rewards flow, everything is delivered.
TEST(RolloutRewards, SamplesBeingScoredAreInTheInFlightRecords) {
    RolloutRig rig("rewards-saved", {});
    const auto inner = rig.ctx().reward;
    auto gate = std::make_shared<GatedReward>(inner);
    rig.set_reward(gate);
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    int seen_pending = 0;
    w.set_round_hook([&](int64_t rounds) {
        if (rounds > 3) return;
        const auto records = rig.partials();  // saved at the previous boundary
        for (const auto& g : records) {
            EXPECT_EQ(g.finished_size() + g.unfinished_size(), 2) << g.prompt().group_id();
            for (const auto& s : g.finished()) {
                EXPECT_EQ(s.reward_status(), v1::REWARD_STATUS_PENDING) << "no reward is back yet";
                EXPECT_NE(s.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
                EXPECT_EQ(s.behaviour_logprob_size(), s.response_token_ids_size());
            }
        }
        seen_pending = std::max(seen_pending, pending_rewards(records));
        if (rounds == 3) gate->open();
    });
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    EXPECT_GT(seen_pending, 0) << "some sample finished within two rounds";
    expect_scored_once_each(rig, *inner, rig.samples());
    EXPECT_TRUE(rig.partials().empty());
}

// A worker that died with samples being scored left them in its records with reward PENDING (here:
// the records of a clean stop, marked so): its successor scores them again, keeps their tokens, and
// delivers every group once.
TEST(RolloutRewards, ARestartedWorkerScoresAgainWhatWasBeingScored) {
    RolloutRig rig("rewards-restart", {});
    {
        RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
        std::atomic<bool> stop{false};
        w.set_round_hook([&](int64_t rounds) { stop = stop || rounds == 3; });
        rig.run(w, stop);
        EXPECT_EQ(w.stats().rewards_pending.load(), 0) << "a clean stop awaits the rewards out";
    }
    std::vector<v1::InFlightGroup> records = rig.partials();
    std::map<std::string, std::vector<int>> marked;  // sample id -> tokens
    for (auto& g : records) {
        for (auto& s : *g.mutable_finished()) {
            EXPECT_NE(s.reward_status(), v1::REWARD_STATUS_PENDING);
            s.set_reward_status(v1::REWARD_STATUS_PENDING);
            s.set_reward(-7.0f);
            s.clear_reward_detail();
            marked[s.sample_id()] = {s.response_token_ids().begin(), s.response_token_ids().end()};
        }
    }
    ASSERT_FALSE(marked.empty()) << "some group had a finished sample when the worker stopped";
    {
        ZmqContext z;
        BufferClient(z, rig.endpoints().buffer, rig.ctx().job_id).save_partials("rollout-0", records);
    }
    RolloutWorker next(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(next, stop);
    EXPECT_EQ(next.stats().samples_rescored.load(), static_cast<int64_t>(marked.size()));
    EXPECT_EQ(next.stats().groups_resumed.load(), static_cast<int64_t>(records.size()));
    const auto samples = rig.samples();
    expect_scored_once_each(rig, *rig.ctx().reward, samples);
    for (const auto& [id, tokens] : marked) {
        const v1::Sample& s = samples.at(id);
        EXPECT_EQ(std::vector<int>(s.response_token_ids().begin(), s.response_token_ids().end()), tokens)
            << id << ": scored again, not generated again";
        EXPECT_NE(s.reward(), -7.0f) << id;
    }
    EXPECT_TRUE(rig.partials().empty());
}

// A stopping worker whose last put did not get through (the buffer went first) leaves the group
// saved with all n samples scored: its successor puts it as it is, generating and scoring nothing.
TEST(RolloutRewards, AGroupSavedCompleteIsPutAsItIsByTheSuccessor) {
    RolloutRig rig("rewards-complete", {});
    {
        RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
        std::atomic<bool> stop{false};
        w.set_round_hook([&](int64_t rounds) { stop = stop || rounds == 3; });
        rig.run(w, stop);
    }
    std::vector<v1::InFlightGroup> records = rig.partials();
    ASSERT_FALSE(records.empty());
    v1::InFlightGroup& g = records.front();
    for (const v1::Sample& u : g.unfinished()) {  // made finished and scored, as a record can hold it
        v1::Sample s = u;
        s.set_finish_reason(v1::FINISH_REASON_LENGTH);
        s.set_reward(-3.0f);
        s.set_reward_status(v1::REWARD_STATUS_OK);
        *g.add_finished() = s;
    }
    g.clear_unfinished();
    ASSERT_EQ(g.finished_size(), 2);
    {
        ZmqContext z;
        BufferClient(z, rig.endpoints().buffer, rig.ctx().job_id).save_partials("rollout-0", records);
    }
    RolloutWorker next(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(next, stop);
    EXPECT_EQ(next.stats().groups_resumed.load(), static_cast<int64_t>(records.size()));
    const auto samples = rig.samples();
    EXPECT_EQ(samples.size(), 12u);
    for (const v1::Sample& saved : g.finished()) {
        ASSERT_TRUE(samples.count(saved.sample_id())) << saved.sample_id();
        const v1::Sample& s = samples.at(saved.sample_id());
        EXPECT_EQ(s.reward(), saved.reward()) << s.sample_id() << ": put as saved, not generated again";
        EXPECT_EQ(s.response_token_ids_size(), saved.response_token_ids_size()) << s.sample_id();
    }
    EXPECT_TRUE(rig.partials().empty());
}
