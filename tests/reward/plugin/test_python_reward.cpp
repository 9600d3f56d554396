// python: rewards scored in worker processes: real user files from tests/reward/python/, real
// /usr/bin/python3 (or $STRIDE_PYTHON) workers running reward/plugin/python/stride_reward.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "reward/plugin/python_reward.h"
#include "reward/registry.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;

namespace {

using test::reward_input;

std::string py(const std::string& file, const std::string& fn = "score") {
    return "python:" STRIDE_SOURCE_DIR "/tests/reward/python/" + file + ".py:" + fn;
}

RewardSpec python_spec(const std::string& fn) {
    RewardSpec s;
    s.fn = fn;
    s.correct = 2.0;
    s.incorrect = -1.0;  // the fallback of failed calls, distinct from any real score
    s.timeout_s = 1.0;   // generous for an interpreter, short for the hang test
    s.plugin_workers = 1;
    s.plugin_memory_mb = 512;
    return s;
}

std::string load_error(const std::string& fn) {
    return test::make_reward_error(python_spec(fn));
}

// A misbehaving file fails the call with `status` and the fallback, then answers the next one.
void expect_fails_then_recovers(const std::string& file, RewardStatus status, const std::string& detail) {
    auto fn = make_reward(python_spec(py(file)));
    RewardResult bad = fn->score(reward_input("x", "bad"));
    EXPECT_EQ(bad.status, status) << file << ": " << bad.detail;
    EXPECT_FALSE(bad.correct);
    EXPECT_DOUBLE_EQ(bad.score, -1.0);
    EXPECT_NE(bad.detail.find(detail), std::string::npos) << bad.detail;
    RewardResult good = fn->score(reward_input("x", "ok"));
    EXPECT_EQ(good.status, RewardStatus::ok) << file << ": " << good.detail;
    EXPECT_DOUBLE_EQ(good.score, 2.0);
}

}  // namespace

TEST(PythonSpec, Parse) {
    EXPECT_TRUE(is_python_spec("python:r.py:score"));
    EXPECT_FALSE(is_python_spec("plugin:r.so"));
    PythonSpec a = parse_python_spec("python:dir/r.py:score");
    EXPECT_EQ(a.path, "dir/r.py");
    EXPECT_EQ(a.function, "score");
    EXPECT_THROW(parse_python_spec("python:r.py"), Error);  // the function is required
    EXPECT_THROW(parse_python_spec("python::score"), Error);
    EXPECT_THROW(parse_python_spec("python:r.py:not-a-name"), Error);
}

TEST(PythonReward, ScoresWithShaping) {
    auto fn = make_reward(python_spec(py("good")));
    RewardResult hit = fn->score(reward_input(" 861\n", "861"));
    EXPECT_EQ(hit.status, RewardStatus::ok) << hit.detail;
    EXPECT_TRUE(hit.correct);
    EXPECT_DOUBLE_EQ(hit.score, 2.0);
    RewardResult half = fn->score(reward_input("it is 861.", "861"));  // dict return: partial credit
    EXPECT_EQ(half.status, RewardStatus::ok);
    EXPECT_FALSE(half.correct);
    EXPECT_DOUBLE_EQ(half.score, 0.5);  // -1 + 0.5 * (2 - -1)
    EXPECT_EQ(half.detail, "contains 861");
    RewardResult miss = fn->score(reward_input("86", "861"));
    EXPECT_DOUBLE_EQ(miss.score, -1.0);
    EXPECT_EQ(miss.detail, "expected 861, got 86");
}

TEST(PythonReward, VerlSignatureWorksUnchanged) {
    auto fn = make_reward(python_spec(py("verl_style", "compute_score")));
    EXPECT_DOUBLE_EQ(fn->score(reward_input("861", "861")).score, 2.0);
    EXPECT_DOUBLE_EQ(fn->score(reward_input("86", "861")).score, -1.0);
}

TEST(PythonReward, ExceptionIsAnItemError) {
    expect_fails_then_recovers("raises", RewardStatus::error, "ValueError: bad sample");
}

TEST(PythonReward, WrongReturnTypeIsAnItemError) {
    expect_fails_then_recovers("returns_str", RewardStatus::error, "returned str");
}

TEST(PythonReward, HangIsATimeoutAndTheWorkerIsReplaced) {
    expect_fails_then_recovers("hangs", RewardStatus::timeout, "no result within 1 s");
}

TEST(PythonReward, ExitingWorkerIsAnErrorAndIsReplaced) {
    expect_fails_then_recovers("exits", RewardStatus::error, "exited with status 1");
}

TEST(PythonReward, StatsCountReplacements) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 1.0;
    auto fn = make_python_reward(py("exits"), opt);
    fn->score(reward_input("x", "bad"));
    fn->score(reward_input("x", "ok"));
    PluginStats st = fn->stats();
    EXPECT_EQ(st.calls, 2);
    EXPECT_EQ(st.crashes, 1);
    EXPECT_EQ(st.spawns, 2);
}

TEST(PythonReward, BadFileOrFunctionRefusedAtConstruction) {
    std::string missing = load_error("python:/nonexistent/r.py:score");
    EXPECT_NE(missing.find("/nonexistent/r.py"), std::string::npos) << missing;
    std::string no_fn = load_error(py("good", "nope"));
    EXPECT_NE(no_fn.find("good.py"), std::string::npos) << no_fn;
    EXPECT_NE(no_fn.find("no function 'nope'"), std::string::npos) << no_fn;
    std::string import = load_error(py("import_error"));
    EXPECT_NE(import.find("import_error.py"), std::string::npos) << import;
    EXPECT_NE(import.find("module_that_does_not_exist"), std::string::npos) << import;
}

TEST(PythonReward, BaseRewardAcceptsPythonSpecs) {
    auto fn = make_base_reward(py("good"));
    RewardResult r = fn->score(reward_input("861", "861"));
    EXPECT_EQ(r.status, RewardStatus::ok);
    EXPECT_TRUE(r.correct);
}

// ---- batches --------------------------------------------------------------------------------------

namespace {

RewardInput labelled(const std::string& label) {
    return reward_input("x", label);  // the misbehaving files fail unless the label is "ok"
}

std::vector<RewardStatus> statuses(const std::vector<RewardResult>& rs) {
    std::vector<RewardStatus> out;
    for (const RewardResult& r : rs) out.push_back(r.status);
    return out;
}

}  // namespace

TEST(PythonBatch, ResultsComeBackInOrderFromSeveralWorkers) {
    PluginOptions opt;
    opt.workers = 2;
    opt.timeout_s = 5;
    opt.max_batch = 16;  // 100 samples: several requests per worker
    auto fn = make_python_reward(py("good"), opt);
    std::vector<RewardInput> in;
    for (int i = 0; i < 100; ++i)
        in.push_back(reward_input(std::to_string(i), std::to_string(i % 3 ? i : -i)));
    std::vector<RewardResult> out = fn->score_batch(in);
    ASSERT_EQ(out.size(), in.size());
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(out[i].status, RewardStatus::ok) << i << ": " << out[i].detail;
        EXPECT_EQ(out[i].correct, i % 3 != 0 || i == 0) << i;
    }
    PluginStats st = fn->stats();
    EXPECT_EQ(st.calls, 100);
    EXPECT_EQ(st.spawns, 2);  // the second started when the batch was waiting for it
    EXPECT_EQ(st.retries, 0);
}

TEST(PythonBatch, AnExceptionFailsOnlyItsSample) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 5;
    auto fn = make_python_reward(py("raises"), opt);
    auto out = fn->score_batch({labelled("ok"), labelled("bad"), labelled("ok")});
    EXPECT_EQ(statuses(out), (std::vector{RewardStatus::ok, RewardStatus::error, RewardStatus::ok}));
    EXPECT_NE(out[1].detail.find("ValueError: bad sample"), std::string::npos) << out[1].detail;
    EXPECT_EQ(fn->stats().spawns, 1);  // the worker lives on
}

// A hang in a batch kills the worker; its samples are scored again one per request, so only the
// hanging one times out and the rest keep their scores.
TEST(PythonBatch, OnlyTheHangingSampleTimesOut) {
    PluginOptions opt;
    opt.workers = 2;
    opt.timeout_s = 0.5;
    auto fn = make_python_reward(py("hangs"), opt);
    auto out =
        fn->score_batch({labelled("ok"), labelled("ok"), labelled("bad"), labelled("ok"), labelled("ok")});
    EXPECT_EQ(statuses(out), (std::vector{RewardStatus::ok, RewardStatus::ok, RewardStatus::timeout,
                                          RewardStatus::ok, RewardStatus::ok}));
    EXPECT_NE(out[2].detail.find("no result within 0.5 s (worker killed)"), std::string::npos)
        << out[2].detail;
    PluginStats st = fn->stats();
    EXPECT_EQ(st.timeouts, 1);
    EXPECT_GE(st.retries, 2);  // at least the hanging sample and one other were not reported
}

TEST(PythonBatch, OnlyTheSampleThatKillsItsWorkerFails) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 5;
    auto fn = make_python_reward(py("exits"), opt);
    auto out = fn->score_batch({labelled("ok"), labelled("bad"), labelled("ok"), labelled("ok")});
    EXPECT_EQ(statuses(out),
              (std::vector{RewardStatus::ok, RewardStatus::error, RewardStatus::ok, RewardStatus::ok}));
    EXPECT_NE(out[1].detail.find("exits.py: worker exited with status 1"), std::string::npos)
        << out[1].detail;
    EXPECT_EQ(fn->stats().crashes, 2);  // the batch's worker, then the culprit's own
}

// A batch that takes longer than the time limit is not late as long as each sample is quick: the
// worker reports progress and the deadline follows it.
TEST(PythonBatch, TheTimeLimitIsPerSampleNotPerBatch) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 0.3;
    auto fn = make_python_reward(py("slow"), opt);
    std::vector<RewardInput> in(30, reward_input("7", "7"));  // 30 x 20 ms = 0.6 s
    auto out = fn->score_batch(in);
    for (const RewardResult& r : out) EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_EQ(fn->stats().timeouts, 0);
    EXPECT_EQ(fn->stats().spawns, 1);
}

// An `async def` reward: the samples of a request are awaited together (8 x 50 ms of waiting overlap),
// and an exception still costs only its own sample.
TEST(PythonBatch, AnAsyncFunctionScoresTheSamplesOfARequestConcurrently) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 5;
    auto fn = make_python_reward(py("async_judge"), opt);
    std::vector<RewardInput> in;
    for (int i = 0; i < 8; ++i) in.push_back(reward_input(std::to_string(i), i == 5 ? "bad" : "3"));
    auto out = fn->score_batch(in);
    ASSERT_EQ(out.size(), in.size());
    int most_in_flight = 0;
    for (int i = 0; i < 8; ++i) {
        if (i == 5) {
            EXPECT_EQ(out[i].status, RewardStatus::error);
            EXPECT_NE(out[i].detail.find("ValueError: bad sample"), std::string::npos) << out[i].detail;
            continue;
        }
        ASSERT_EQ(out[i].status, RewardStatus::ok) << i << ": " << out[i].detail;
        EXPECT_EQ(out[i].correct, i == 3) << i;
        ASSERT_EQ(out[i].detail.rfind("in flight ", 0), 0u) << out[i].detail;
        most_in_flight = std::max(most_in_flight, std::stoi(out[i].detail.substr(10)));
    }
    EXPECT_GE(most_in_flight, 2) << "the samples of a request ran one after another";
    EXPECT_EQ(fn->stats().spawns, 1);
}

TEST(PythonBatch, ShapingAppliesToEverySample) {
    RewardSpec spec = python_spec(py("good"));
    auto fn = make_reward(spec);
    auto out = fn->score_batch(
        {reward_input("861", "861"), reward_input("it is 861", "861"), reward_input("1", "2")});
    EXPECT_DOUBLE_EQ(out[0].score, 2.0);
    EXPECT_DOUBLE_EQ(out[1].score, 0.5);
    EXPECT_DOUBLE_EQ(out[2].score, -1.0);
}

// ---- metadata and signatures ----------------------------------------------------------------------

TEST(PythonMeta, VerlGetsDataSourceAndExtraInfo) {
    auto fn = make_reward(python_spec(py("verl_meta", "compute_score")));
    RewardInput in = reward_input("72", "72");
    in.data_source = "openai/gsm8k";
    in.extra_info_json = R"({"split": "test", "index": 7})";
    in.response_tokens = 3;
    RewardResult r = fn->score(in);
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, 2.0);
    EXPECT_EQ(r.detail, "openai/gsm8k index=7,response_tokens=3,split=test,truncated=False");
}

TEST(PythonMeta, VerlScorerSignatureWorks) {
    auto fn = make_reward(python_spec(py("verl_short", "compute_score")));
    EXPECT_DOUBLE_EQ(fn->score(reward_input(" 72", "72")).score, 2.0);
    EXPECT_DOUBLE_EQ(fn->score(reward_input("71", "72")).score, -1.0);
}

TEST(PythonMeta, AFunctionNamingItsMetadataGetsJustThat) {
    auto fn = make_reward(python_spec(py("named_meta")));
    RewardInput in = reward_input("x", "y");
    in.data_source = "arith";
    in.truncated = true;
    RewardResult r = fn->score(in);
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_EQ(r.detail, "arith True");
}

TEST(PythonMeta, InitGetsThePluginConfig) {
    RewardSpec spec = python_spec(py("with_init"));
    spec.plugin_config = R"({"scale": 0.5})";
    auto fn = make_reward(spec);
    EXPECT_DOUBLE_EQ(fn->score(reward_input("3", "3")).score, 0.5);  // -1 + 0.5 * 3
    std::string err = load_error(py("init_fails"));
    EXPECT_NE(err.find("init_fails.py"), std::string::npos) << err;
    EXPECT_NE(err.find("init failed: KeyError: 'model_path'"), std::string::npos) << err;
}

// ---- no time limit, and shutting down -------------------------------------------------------------

// timeout_s = 0 means no limit; cancel() still gets a caller stuck on a hung sample out at once.
TEST(PythonReward, CancelReleasesACallWithoutTimeLimit) {
    RewardSpec spec = python_spec(py("hangs"));
    spec.timeout_s = 0;
    auto fn = make_reward(spec);
    RewardResult stuck;
    std::thread caller([&] { stuck = fn->score(labelled("bad")); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    fn->cancel();
    caller.join();
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
    EXPECT_EQ(stuck.status, RewardStatus::error);
    EXPECT_NE(stuck.detail.find("reward pool shut down"), std::string::npos) << stuck.detail;
    EXPECT_EQ(fn->score(labelled("ok")).status, RewardStatus::error);  // later calls fail at once
}
