// make_job_context refuses, at load, a prompt that leaves no room for rollout.max_tokens within the
// model's max_position_embeddings, naming the dataset row and the numbers (issue #15: a 2M-character
// prompt used to hang the job).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/base/error.h"
#include "job/job_context.h"
#include "model/checkpoint.h"
#include "model/params.h"
#include "scheduler/job_config.h"

using namespace stride;

namespace {

std::string test_dir(const std::string& name) {
    auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "job_context" /
               (name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string tokenizer_path() {
    return std::string(STRIDE_SOURCE_DIR) + "/configs/tokenizers/arith/tokenizer.json";
}

// A job over `train` (and `eval`, if not empty) JSONL files; `model` is the model: block.
JobConfig job(const std::string& train, const std::string& eval, int max_tokens, const std::string& model) {
    std::string yaml = "name: ctx\ntokenizer: " + tokenizer_path() + "\ndata: {train: " + train +
                       (eval.empty() ? ", eval_size: 0" : ", eval: " + eval) +
                       "}\nrollout: {n: 2, max_tokens: " + std::to_string(max_tokens) +
                       "}\nreward: {fn: arith}\n" +
                       "trainer: {steps: 1, prompts_per_step: 2, eval_every: 0}\n" + model;
    return parse_job_config(yaml, "test.yaml");
}

const char* kInit =
    "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n";

void write_rows(const std::string& path, const std::vector<std::string>& prompts) {
    std::ofstream out(path);
    for (const std::string& p : prompts) out << "{\"prompt\": \"" << p << "\", \"answer\": \"1\"}\n";
}

std::string error_of(const JobConfig& cfg) {
    try {
        make_job_context(cfg);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(JobContext, PromptLongerThanTheModelsPositionsNamesTheRow) {
    const std::string dir = test_dir("long_train");
    const std::string train = dir + "/train.jsonl";
    // model.init's max_position is 4096; each "1+2=" is 4 tokens of the arith tokenizer.
    std::string huge;
    for (int i = 0; i < 2000; ++i) huge += "1+2=";
    write_rows(train, {"1+1=", "2+2=", huge, "3+3="});
    const std::string msg = error_of(job(train, "", 8, kInit));
    ASSERT_FALSE(msg.empty()) << "an 8000-token prompt was accepted by a 4096-position model";
    EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;
    EXPECT_NE(msg.find(train + ":3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8000 tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rollout.max_tokens 8"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8008 positions"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4096"), std::string::npos) << msg;
}

TEST(JobContext, MaxPromptTokensDropsLongerPromptsLikeVerlsFilter) {
    const std::string dir = test_dir("max_prompt");
    const std::string train = dir + "/train.jsonl", eval = dir + "/eval.jsonl";
    std::string huge;
    for (int i = 0; i < 2000; ++i) huge += "1+2=";  // 8000 tokens: refused without the filter
    write_rows(train, {"1+1=", "11+22=", huge, "3+3="});
    write_rows(eval, {"1+2+3=", "4+4="});
    JobConfig cfg = job(train, eval, 8, kInit);
    cfg.data.max_prompt_tokens = 4;  // "1+1=" is 4 tokens
    JobContext ctx = make_job_context(cfg);
    ASSERT_EQ(ctx.train.size(), 2u);
    EXPECT_EQ(ctx.train[0].text, "1+1=");
    EXPECT_EQ(ctx.train[1].text, "3+3=");
    ASSERT_EQ(ctx.eval.size(), 1u);
    EXPECT_EQ(ctx.eval[0].text, "4+4=");
    cfg.data.max_prompt_tokens = 3;
    EXPECT_NE(error_of(cfg).find("data.train: every prompt is longer than data.max_prompt_tokens = 3"),
              std::string::npos)
        << error_of(cfg);
    EXPECT_THROW(parse_job_config("data: {train: x.jsonl, max_prompt_tokens: -1}", "t.yaml"), Error);
}

TEST(JobContext, PromptThatFitsOnlyWithoutMaxTokensIsRefused) {
    const std::string dir = test_dir("edge");
    const std::string train = dir + "/train.jsonl";
    std::string p;
    for (int i = 0; i < 1000; ++i) p += "1+2=";  // 4000 tokens
    write_rows(train, {p});
    EXPECT_NO_THROW(make_job_context(job(train, "", 96, kInit)));  // 4096: exactly fits
    const std::string msg = error_of(job(train, "", 97, kInit));
    EXPECT_NE(msg.find("4097 positions"), std::string::npos) << msg;
}

TEST(JobContext, EvalPromptsAreCheckedAgainstTheCheckpointsMaxPosition) {
    const std::string dir = test_dir("eval_ckpt");
    const std::string train = dir + "/train.jsonl", eval = dir + "/eval.jsonl";
    write_rows(train, {"1+1=", "2+2="});
    write_rows(eval, {"1+1=", "1+2=1+2=1+2=1+2=1+2="});  // 20 tokens
    ModelConfig c;
    c.arch = Arch::qwen2;
    c.hidden = 16;
    c.intermediate = 32;
    c.layers = 1;
    c.heads = 2;
    c.kv_heads = 1;
    c.head_dim = 8;
    c.vocab = 64;
    c.qkv_bias = true;
    c.max_position = 24;
    c.eos_token_ids = {0};
    Model m(c);
    model_init_random(m, 1);
    checkpoint_save(m, dir + "/model", DiskDtype::f32, 0);
    const std::string model = "model: {path: " + dir + "/model}\n";
    const std::string msg = error_of(job(train, eval, 5, model));
    EXPECT_NE(msg.find("data.eval: " + eval + ":2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("25 positions"), std::string::npos) << msg;
    EXPECT_NE(msg.find("max_position_embeddings of " + dir + "/model/config.json"), std::string::npos) << msg;
    EXPECT_NO_THROW(make_job_context(job(train, eval, 4, model)));
}

// The reported case: a 2M-character prompt. The error must come in seconds, not hang.
TEST(JobContext, TwoMillionCharacterPromptFailsFast) {
    const std::string dir = test_dir("two_million");
    const std::string train = dir + "/train.jsonl";
    write_rows(train, {"1+1=", std::string(2000000, '7')});
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = error_of(job(train, "", 8, kInit));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(msg.find(train + ":2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2000000 bytes"), std::string::npos) << msg;
    EXPECT_LT(s, 30.0);
}

// Built-in rewards compare text: a list, object or bool ground truth is refused at load, naming the row
// and the reward; a Python reward takes it (typed, tests/rollout/test_rollout_data_source.cpp).
TEST(JobContext, ABuiltInRewardRefusesAGroundTruthItCannotCompare) {
    const std::string dir = test_dir("typed_truth");
    const std::string train = dir + "/train.jsonl";
    {
        std::ofstream out(train);
        out << R"({"prompt": "1+1=", "answer": 2})"
            << "\n";
        out << R"({"prompt": "2+2=", "reward_model": {"ground_truth": ["4", "four"]}})"
            << "\n";
    }
    const std::string msg = error_of(job(train, "", 8, kInit));
    EXPECT_NE(msg.find(train + ":2: the ground truth is a list ([\"4\",\"four\"]), but the built-in reward "
                               "'arith' takes a string or a number"),
              std::string::npos)
        << msg;
    JobConfig py = job(train, "", 8, kInit);
    py.reward.fn = "python:" STRIDE_SOURCE_DIR "/tests/reward/python/typed_truth.py:compute_score";
    const JobContext ctx = make_job_context(py);
    ASSERT_EQ(ctx.train.size(), 2u);
    for (const TokenizedPrompt& p : ctx.train)
        EXPECT_EQ(p.answer_json, p.text == "1+1=" ? "2" : R"(["4","four"])");
}
