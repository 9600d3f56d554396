// python: rewards scored in worker processes: real user files from tests/reward/python/, real
// /usr/bin/python3 (or $STRIDE_PYTHON) workers running reward/python/stride_reward.
#include <gtest/gtest.h>

#include <string>

#include "common/base/error.h"
#include "reward/python_reward.h"
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
