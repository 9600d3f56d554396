// C ABI reward plug-ins (reward/stride_reward.h) scored in worker processes: real shared objects
// from tests/reward/plugin/plugins/, real `stride reward worker` processes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "common/config.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/plugin/plugin_reward.h"
#include "reward/registry.h"
#include "scheduler/job_config.h"
#include "tests/cli_test_util.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;
using stride::test::run_capture;

namespace {

using test::reward_input;

std::string plugin(const std::string& name) {
    return std::string(STRIDE_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

RewardSpec plugin_spec(const std::string& fn) {
    RewardSpec s;
    s.fn = fn;
    s.correct = 2.0;
    s.incorrect = -1.0;  // the fallback of failed calls, distinct from any real score
    s.timeout_s = 0.5;
    s.plugin_workers = 1;
    s.plugin_memory_mb = 128;
    s.plugin_worker_exe = STRIDE_BIN;
    return s;
}

std::string load_error(const std::string& fn) {
    return test::make_reward_error(plugin_spec(fn));
}

}  // namespace

TEST(PluginSpec, Parse) {
    EXPECT_TRUE(is_plugin_spec("plugin:/x/lib.so"));
    EXPECT_FALSE(is_plugin_spec("exact_match"));
    PluginSpec a = parse_plugin_spec("plugin:/x/lib.so");
    EXPECT_EQ(a.path, "/x/lib.so");
    EXPECT_EQ(a.prefix, "stride_reward");
    PluginSpec b = parse_plugin_spec("plugin:/x/lib.so:my_reward");
    EXPECT_EQ(b.path, "/x/lib.so");
    EXPECT_EQ(b.prefix, "my_reward");
    EXPECT_EQ(parse_plugin_spec("plugin:lib.so").path, "./lib.so");  // the file here, not a search
    EXPECT_THROW(parse_plugin_spec("plugin:"), Error);
    EXPECT_THROW(parse_plugin_spec("plugin:/x/lib.so:not-a-name"), Error);
}

TEST(PluginReward, ExactMatchWithShaping) {
    auto fn = make_reward(plugin_spec("plugin:" + plugin("exact")));
    RewardResult hit = fn->score(reward_input(" 861\n", "861"));
    EXPECT_EQ(hit.status, RewardStatus::ok);
    EXPECT_TRUE(hit.correct);
    EXPECT_DOUBLE_EQ(hit.score, 2.0);
    RewardResult miss = fn->score(reward_input("86", "861"));
    EXPECT_EQ(miss.status, RewardStatus::ok);
    EXPECT_FALSE(miss.correct);
    EXPECT_DOUBLE_EQ(miss.score, -1.0);
    EXPECT_EQ(miss.detail, "expected 861, got 86");  // malloc'd by the plug-in, freed by the worker
}

TEST(PluginReward, PrefixAndPartialCredit) {
    auto fn = make_reward(plugin_spec("plugin:" + plugin("prefixed") + ":length_reward"));
    RewardResult half = fn->score(reward_input("12345", "x"));
    EXPECT_EQ(half.status, RewardStatus::ok);
    EXPECT_FALSE(half.correct);
    EXPECT_DOUBLE_EQ(half.score, -1.0 + 0.5 * 3.0);  // incorrect + s * (correct - incorrect)
    EXPECT_TRUE(fn->score(reward_input("1234567890ab", "x")).correct);
}

// Every way a plug-in can die costs exactly its call: status and fallback score, a counted failure,
// and a fresh worker that scores the next sample normally.
TEST(PluginReward, FailuresCostOneCallAndTheWorkerIsReplaced) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 0.5;
    opt.memory_mb = 128;
    opt.worker_exe = STRIDE_BIN;
    PluginReward reward("plugin:" + plugin("misbehave"), opt);
    struct Case {
        const char* response;
        RewardStatus status;
        const char* detail;
    };
    const Case cases[] = {
        {"segv", RewardStatus::error, "signal 11"},
        {"abort", RewardStatus::error, "signal 6"},
        {"hang", RewardStatus::timeout, "no result within 0.5 s (worker killed)"},
        {"oom", RewardStatus::error, "worker killed by signal"},
        {"fail", RewardStatus::error, "cannot parse label"},
    };
    for (const Case& c : cases) {
        RewardResult bad = reward.score(reward_input(c.response, "42"));
        EXPECT_EQ(bad.status, c.status) << c.response << ": " << bad.detail;
        EXPECT_FALSE(bad.correct) << c.response;
        EXPECT_NE(bad.detail.find(c.detail), std::string::npos) << c.response << ": " << bad.detail;
        RewardResult next = reward.score(reward_input("42", "42"));
        EXPECT_EQ(next.status, RewardStatus::ok) << "after " << c.response << ": " << next.detail;
        EXPECT_TRUE(next.correct) << "after " << c.response;
    }
    PluginStats st = reward.stats();
    EXPECT_EQ(st.calls, 10);
    EXPECT_EQ(st.timeouts, 1);
    EXPECT_EQ(st.crashes, 3);  // segv, abort, oom; "fail" is a clean error, its worker lives on
    EXPECT_EQ(st.errors, 4);
    EXPECT_EQ(st.spawns, 5);  // the first worker and one replacement per dead one
}

TEST(PluginReward, FailedCallScoresTheFallbackUnderShaping) {
    RewardSpec spec = plugin_spec("plugin:" + plugin("misbehave"));
    spec.overlong_buffer = 0;
    auto fn = make_reward(spec);
    RewardResult crash = fn->score(reward_input("segv", "42"));
    EXPECT_EQ(crash.status, RewardStatus::error);
    EXPECT_DOUBLE_EQ(crash.score, -1.0);
    RewardResult hang = fn->score(reward_input("hang", "42"));
    EXPECT_EQ(hang.status, RewardStatus::timeout);
    EXPECT_DOUBLE_EQ(hang.score, -1.0);
    EXPECT_DOUBLE_EQ(fn->score(reward_input("42", "42")).score, 2.0);
}

TEST(PluginReward, ManyThreadsShareThePool) {
    RewardSpec spec = plugin_spec("plugin:" + plugin("exact"));
    spec.plugin_workers = 3;
    auto fn = make_reward(spec);
    std::vector<std::thread> threads;
    std::vector<int> correct(6, 0);
    for (int t = 0; t < 6; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                std::string v = std::to_string(t * 100 + i);
                correct[t] += fn->score(reward_input(v, i % 2 ? v : v + "0")).correct;
            }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 6; ++t) EXPECT_EQ(correct[t], 10) << "thread " << t;
}

TEST(PluginReward, BadPluginsFailAtMakeRewardNamingTheFile) {
    std::string missing = plugin("no_such_plugin");
    std::string err = load_error("plugin:" + missing);
    EXPECT_NE(err.find(missing), std::string::npos) << err;
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;

    err = load_error("plugin:" + plugin("bad_abi"));
    EXPECT_NE(err.find(plugin("bad_abi")), std::string::npos) << err;
    EXPECT_NE(err.find("ABI version 2, this Stride speaks 1"), std::string::npos) << err;

    err = load_error("plugin:" + plugin("no_score"));
    EXPECT_NE(err.find(plugin("no_score")), std::string::npos) << err;
    EXPECT_NE(err.find("missing symbol stride_reward_score"), std::string::npos) << err;

    err = load_error("plugin:" + plugin("exact") + ":other_prefix");
    EXPECT_NE(err.find("missing symbol other_prefix_abi_version"), std::string::npos) << err;

    std::string not_elf = std::string(STRIDE_SOURCE_DIR) + "/tests/reward/plugin/plugins/exact.c";
    err = load_error("plugin:" + not_elf);
    EXPECT_NE(err.find(not_elf), std::string::npos) << err;
    EXPECT_NE(err.find("dlopen failed"), std::string::npos) << err;
}

TEST(PluginReward, BaseRewardFindsTheWorkerThroughTheEnvironment) {
    // make_base_reward (used by `stride config check`) takes default options.
    setenv("STRIDE_REWARD_WORKER", STRIDE_BIN, 1);
    auto fn = make_base_reward("plugin:" + plugin("exact"));
    EXPECT_TRUE(fn->score(reward_input("7", "7")).correct);
    unsetenv("STRIDE_REWARD_WORKER");
    // Without it, a process that is not stride refuses rather than exec'ing itself as a worker.
    try {
        make_base_reward("plugin:" + plugin("exact"));
        ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("STRIDE_REWARD_WORKER"), std::string::npos) << e.what();
    }
}

namespace {}  // namespace

TEST(RewardScoreCli, PluginAndBuiltin) {
    std::string lines =
        "printf '%s\\n' '{\"prompt\":\"p\",\"response\":\"42\",\"label\":\"42\"}' "
        "'{\"prompt\":\"p\",\"response\":\"segv\",\"label\":\"42\"}' "
        "'{\"prompt\":\"p\",\"response\":\"41\",\"label\":42}' 'not json'";
    std::string out =
        run_capture(lines + " | " + STRIDE_BIN + " reward score --fn plugin:" + plugin("misbehave") +
                    " --timeout-s 2 2>/dev/null");
    EXPECT_EQ(
        out,
        "{\"correct\":true,\"detail\":\"\",\"score\":1.0,\"status\":\"ok\"}\n"
        "{\"correct\":false,\"detail\":\"misbehave.so: worker killed by signal 11 (Segmentation "
        "fault)\",\"score\":0.0,\"status\":\"error\"}\n"
        "{\"correct\":false,\"detail\":\"\",\"score\":0.0,\"status\":\"ok\"}\n"
        "{\"correct\":false,\"detail\":\"line 4: " +
            std::string("[json.exception.parse_error.101] parse error at line 1, column 2: syntax error "
                        "while parsing value - invalid literal; last read: 'no'\",\"score\":0.0,"
                        "\"status\":\"error\"}\n"));
    out = run_capture("printf '%s\\n' '{\"response\":\"861\",\"label\":\"861\"}' | " +
                      std::string(STRIDE_BIN) + " reward score --fn exact_match");
    EXPECT_EQ(out, "{\"correct\":true,\"detail\":\"\",\"score\":1.0,\"status\":\"ok\"}\n");
    out = run_capture(std::string(STRIDE_BIN) + " reward score --fn plugin:" + plugin("bad_abi") +
                      " </dev/null 2>&1");
    EXPECT_NE(out.find("ABI version 2"), std::string::npos) << out;
}

// ---- batches, metadata, configuration ---------------------------------------------------------------

// In one batch over two workers: a crash, a plug-in error and a hang cost exactly their own samples.
TEST(PluginBatch, EachFailureCostsOnlyItsSample) {
    PluginOptions opt;
    opt.workers = 2;
    opt.timeout_s = 0.5;
    opt.memory_mb = 128;
    opt.worker_exe = STRIDE_BIN;
    PluginReward reward("plugin:" + plugin("misbehave"), opt);
    std::vector<RewardInput> in = {reward_input("42", "42"),   reward_input("segv", "42"),
                                   reward_input("7", "7"),     reward_input("fail", "42"),
                                   reward_input("hang", "42"), reward_input("5", "6")};
    std::vector<RewardResult> out = reward.score_batch(in);
    ASSERT_EQ(out.size(), in.size());
    EXPECT_TRUE(out[0].correct) << out[0].detail;
    EXPECT_EQ(out[1].status, RewardStatus::error);
    EXPECT_NE(out[1].detail.find("signal 11"), std::string::npos) << out[1].detail;
    EXPECT_TRUE(out[2].correct) << out[2].detail;
    EXPECT_EQ(out[3].status, RewardStatus::error);
    EXPECT_NE(out[3].detail.find("cannot parse label"), std::string::npos) << out[3].detail;
    EXPECT_EQ(out[4].status, RewardStatus::timeout) << out[4].detail;
    EXPECT_EQ(out[5].status, RewardStatus::ok) << out[5].detail;
    EXPECT_FALSE(out[5].correct);
    PluginStats st = reward.stats();
    EXPECT_EQ(st.calls, 6);
    EXPECT_EQ(st.timeouts, 1);
    EXPECT_EQ(st.errors, 2);
    // After the failures the pool still scores.
    EXPECT_TRUE(reward.score(reward_input("9", "9")).correct);
}

TEST(PluginBatch, PluginSeesConfigAndMetadata) {
    RewardSpec spec = plugin_spec("plugin:" + plugin("echo"));
    spec.plugin_config = R"({"k":1})";
    auto fn = make_reward(spec);
    RewardInput in = reward_input("x", "y");
    in.response_tokens = 5;
    in.truncated = true;
    in.data_source = "openai/gsm8k";
    in.extra_info_json = R"({"split":"test"})";
    RewardInput bare = reward_input("x", "y");
    auto out = fn->score_batch({in, bare});
    EXPECT_EQ(
        out[0].detail,
        R"({"k":1} {"response_tokens":5,"truncated":true,"data_source":"openai/gsm8k","extra_info":{"split":"test"}})");
    EXPECT_EQ(out[1].detail,
              R"({"k":1} {"response_tokens":0,"truncated":false,"data_source":"","extra_info":{}})");
}

TEST(PluginConfig, PoolKeysReachTheSpec) {
    const std::string job = "tokenizer: t.json\ndata:\n  train: gen:arith?n=100\n";
    JobConfig cfg = parse_job_config(
        job + "reward: {workers: 3, worker_memory_mb: 512, plugin_config: '{\"k\": 2}'}\n", "x.yaml");
    RewardSpec s = reward_spec_from_config(cfg);
    EXPECT_EQ(s.plugin_workers, 3);
    EXPECT_EQ(s.plugin_memory_mb, 512);
    EXPECT_EQ(s.plugin_config, "{\"k\": 2}");
    const JobConfig defaults;
    EXPECT_EQ(defaults.reward.workers, 2);
    auto error_of = [&](const std::string& reward) {
        return test::error_message([&] { parse_job_config(job + "reward: " + reward + "\n", "x.yaml"); });
    };
    EXPECT_NE(error_of("{plugin_config: '[1]'}").find("reward.plugin_config: must be a JSON object"),
              std::string::npos);
    EXPECT_NE(error_of("{timeout_s: 0}").find("reward.timeout_s"), std::string::npos);
    EXPECT_NE(error_of("{workers: -1}").find("reward.workers"), std::string::npos);
}
