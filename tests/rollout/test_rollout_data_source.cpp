// verl's per-row keys reach the reward: a JSONL dataset's data_source and extra_info go through the
// job context, the prompt dispatcher (Prompt.metadata) and the rollout worker to a Python reward in
// verl's compute_score form (tests/reward/python/verl_meta.py echoes them in its detail).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "rollout/inflight.h"
#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using stride::test::RolloutRig;

namespace {

// Six prompts of the arith tokenizer's alphabet; rows 0-2 from "src_a", 3-4 from "src_b", row 5
// without either key.
std::string write_dataset(const test::TempDir& dir) {
    const std::string path = dir.sub("verl.jsonl");
    std::ofstream out(path);
    for (int i = 0; i < 6; ++i) {
        nlohmann::json row = {{"prompt", std::to_string(i) + "1+2" + std::to_string(i) + "="},
                              {"reward_model", {{"ground_truth", std::to_string(2 * i + 3)}}}};
        if (i < 5) {
            row["data_source"] = i < 3 ? "src_a" : "src_b";
            row["extra_info"] = {{"idx", i}, {"split", "train"}};
        }
        out << row.dump() << "\n";
    }
    return path;
}

}  // namespace

TEST(RolloutDataSource, DatasetKeysReachThePromptAndTheRewardInput) {
    test::TempDir dir("rollout-ds-unit");
    RolloutRig rig("rollout-ds-unit", {"data.train=" + write_dataset(dir)});
    ASSERT_EQ(rig.ctx().train.size(), 6u);
    const TokenizedPrompt* first = nullptr;
    for (const TokenizedPrompt& tp : rig.ctx().train) {  // in the split's shuffled order
        const int row = (std::stoi(tp.answer) - 3) / 2;
        if (row == 0) first = &tp;
        if (row < 5) {
            EXPECT_EQ(tp.data_source, row < 3 ? "src_a" : "src_b");
            EXPECT_EQ(tp.extra_info_json, R"({"idx":)" + std::to_string(row) + R"(,"split":"train"})");
        } else {
            EXPECT_EQ(tp.data_source, "");
            EXPECT_EQ(tp.extra_info_json, "");
        }
    }
    ASSERT_NE(first, nullptr);

    v1::Prompt p;
    p.set_text(first->text);
    p.set_label(first->answer);
    (*p.mutable_metadata())["data_source"] = first->data_source;
    (*p.mutable_metadata())["extra_info"] = first->extra_info_json;
    v1::Sample s;
    s.add_response_token_ids(rig.ctx().tokenizer.encode("3")[0]);
    s.add_response_token_ids(rig.ctx().stop_tokens[0]);
    s.set_finish_reason(v1::FINISH_REASON_STOP);
    const RewardInput in = reward_input(p, s, rig.ctx().tokenizer, rig.ctx().stop_tokens);
    EXPECT_EQ(in.response, "3") << "without the stop token";
    EXPECT_EQ(in.answer, "3");
    EXPECT_EQ(in.response_tokens, 2);
    EXPECT_FALSE(in.truncated);
    EXPECT_EQ(in.data_source, "src_a");
    EXPECT_EQ(in.extra_info_json, first->extra_info_json);
}

TEST(RolloutDataSource, AVerlRewardSeesEachRowsDataSourceAndExtraInfo) {
    test::TempDir dir("rollout-ds");
    RolloutRig rig("rollout-ds",
                   {"data.train=" + write_dataset(dir),
                    "reward.fn=python:" STRIDE_SOURCE_DIR "/tests/reward/python/verl_meta.py:compute_score",
                    "reward.workers=1"});
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    const auto samples = rig.samples();
    ASSERT_EQ(samples.size(), 12u);
    std::map<std::string, int> by_source;
    for (const auto& [id, s] : samples) {
        EXPECT_EQ(s.reward_status(), v1::REWARD_STATUS_OK) << id << ": " << s.reward_detail();
        // The row is known from the prompt's answer (2i + 3); verl_meta's detail is
        // "<data_source> <extra_info as k=v, sorted, response_tokens and truncated added>".
        const int row = (std::stoi(s.label()) - 3) / 2;
        const std::string& d = s.reward_detail();
        if (row < 5) {
            const std::string want =
                std::string("src_") + (row < 3 ? "a" : "b") + " idx=" + std::to_string(row);
            EXPECT_EQ(d.rfind(want + ",response_tokens=", 0), 0u) << id << ": " << d;
            EXPECT_NE(d.find(",split=train,truncated="), std::string::npos) << id << ": " << d;
        } else {
            EXPECT_EQ(d.rfind(" response_tokens=", 0), 0u) << id << ": no data_source, no extra_info: " << d;
        }
        ++by_source[d.substr(0, d.find(' '))];
    }
    EXPECT_EQ(by_source["src_a"], 6);
    EXPECT_EQ(by_source["src_b"], 4);
    EXPECT_EQ(by_source[""], 2);
}

namespace {

// One row per JSON type of ground truth; data_source names the type tests/reward/python/typed_truth.py
// asserts, and the value is what its detail echoes (json.dumps, keys sorted).
const std::vector<std::pair<std::string, std::string>> kTypedTruths = {
    {"list", R"([3, "x", {"k": [1.5, null]}])"},
    {"dict", R"({"alts": ["5", "five"], "answer": 5})"},
    {"int", "7"},
    {"float", "2.5"},
    {"str", R"("9")"},
    {"bool", "true"},
};

std::string write_typed_dataset(const test::TempDir& dir) {
    const std::string path = dir.sub("typed.jsonl");
    std::ofstream out(path);
    for (size_t i = 0; i < kTypedTruths.size(); ++i)
        out << R"({"prompt": ")" << i << R"(1+2=", "data_source": ")" << kTypedTruths[i].first
            << R"(", "reward_model": {"ground_truth": )" << kTypedTruths[i].second << "}}\n";
    return path;
}

}  // namespace

// verl hands compute_score the ground truth unchanged; so does Stride, through the dispatcher's
// Prompt (label_json) alone: the worker here knows none of the dataset's rows (as on a machine
// without the dataset file), so the type can only have come over the wire.
TEST(RolloutDataSource, APythonRewardGetsTheGroundTruthWithItsJsonType) {
    test::TempDir dir("rollout-typed");
    RolloutRig rig("rollout-typed",
                   {"data.train=" + write_typed_dataset(dir),
                    "reward.fn=python:" STRIDE_SOURCE_DIR "/tests/reward/python/typed_truth.py:compute_score",
                    "reward.workers=1"});
    JobContext without_rows = rig.ctx();
    without_rows.train.clear();
    without_rows.eval.clear();
    RolloutWorker w(without_rows, "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    const auto samples = rig.samples();
    ASSERT_EQ(samples.size(), 12u);
    std::map<std::string, int> seen;
    for (const auto& [id, s] : samples) {
        ASSERT_EQ(s.reward_status(), v1::REWARD_STATUS_OK) << id << ": " << s.reward_detail();
        const std::string& d = s.reward_detail();
        const std::string type = d.substr(0, d.find(' '));
        bool found = false;
        for (const auto& [t, value] : kTypedTruths)
            if (t == type) {
                EXPECT_EQ(d, t + " " + value) << id;
                found = true;
            }
        EXPECT_TRUE(found) << d;
        ++seen[type];
    }
    EXPECT_EQ(seen.size(), kTypedTruths.size());
}

// The dispatcher's Prompt carries a non-string ground truth as JSON, and a string one only as text;
// the worker's RewardInput takes both from the Prompt.
TEST(RolloutDataSource, ThePromptCarriesTheGroundTruthAsJson) {
    test::TempDir dir("rollout-label-json");
    RolloutRig rig("rollout-label-json", {"data.train=" + write_typed_dataset(dir),
                                          "reward.fn=python:" STRIDE_SOURCE_DIR
                                          "/tests/reward/python/typed_truth.py:compute_score"});
    std::map<std::string, std::string> by_type;  // data_source -> label_json
    for (int64_t p = 0; p < static_cast<int64_t>(kTypedTruths.size()); ++p) {
        const v1::Prompt pr = rig.dispatcher().prompt_at(p);
        by_type[pr.metadata().at("data_source")] = pr.label_json();
        v1::Sample s;
        s.add_response_token_ids(rig.ctx().stop_tokens[0]);
        const RewardInput in = reward_input(pr, s, rig.ctx().tokenizer, rig.ctx().stop_tokens);
        EXPECT_EQ(in.answer_json, pr.label_json());
        EXPECT_EQ(in.answer, pr.label());
    }
    ASSERT_EQ(by_type.size(), kTypedTruths.size());
    EXPECT_EQ(by_type["list"], R"([3,"x",{"k":[1.5,null]}])");
    EXPECT_EQ(by_type["dict"], R"({"alts":["5","five"],"answer":5})");
    EXPECT_EQ(by_type["int"], "7");
    EXPECT_EQ(by_type["float"], "2.5");
    EXPECT_EQ(by_type["bool"], "true");
    EXPECT_EQ(by_type["str"], "") << "a string ground truth travels as the label text alone";
}
