// `stride logprobs` end to end: a checkpoint written by checkpoint_save, JSON lines in, per-token
// log-probs/entropies out (n - 1 per line, aligned with tokens 1..n-1), equal to Transformer::forward;
// a bad line fails with its line number.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "model/checkpoint.h"
#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

namespace fs = std::filesystem;
using namespace stride;

namespace {

int run(const std::string& cmd, std::string& out) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    return pclose(p);
}

class LogprobsCli : public ::testing::Test {
   protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("stride_logprobs_cli_" + std::to_string(getpid()));
        fs::create_directories(dir_);
        model_ = std::make_unique<Model>(test::tiny_qwen3());
        test::randomize_model(*model_, 3);
        checkpoint_save(*model_, (dir_ / "model").string(), DiskDtype::f32);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string cli(const std::string& input, const std::string& flags, std::string& out) {
        std::ofstream(dir_ / "in.jsonl") << input;
        const std::string cmd = std::string(STRIDE_BIN) + " logprobs --model " + (dir_ / "model").string() +
                                " " + flags + " < " + (dir_ / "in.jsonl").string() + " 2>&1";
        return std::to_string(run(cmd, out));
    }
    fs::path dir_;
    std::unique_ptr<Model> model_;
};

TEST_F(LogprobsCli, MatchesTransformerForwardPerLine) {
    const std::vector<std::vector<int>> seqs = {{5, 9, 2, 44, 3}, {7}, {1, 2}};
    std::string input;
    for (const auto& s : seqs) input += nlohmann::json{{"tokens", s}}.dump() + "\n\n";
    std::string out;
    ASSERT_EQ(cli(input, "--temperature 0.7 --chunk 2", out), "0") << out;
    std::istringstream lines(out);
    Transformer tf(*model_);
    ForwardOptions opt;
    opt.temperature = 0.7f;
    for (const auto& s : seqs) {
        std::string line;
        ASSERT_TRUE(std::getline(lines, line)) << out;
        const nlohmann::json j = nlohmann::json::parse(line);
        PackedBatch b;
        b.add_sequence(s);
        const TokenScores ref = tf.forward(b, opt);
        ASSERT_EQ(j.at("logprobs").size(), s.size() - 1);
        ASSERT_EQ(j.at("entropy").size(), s.size() - 1);
        for (size_t i = 1; i < s.size(); ++i) {
            EXPECT_NEAR(j["logprobs"][i - 1].get<float>(), ref.logprob[i], 1e-6);
            EXPECT_NEAR(j["entropy"][i - 1].get<float>(), ref.entropy[i], 1e-6);
        }
    }
}

// --dtype bf16 scores through the rollout engine's bf16 weights, position by position (the CPU's bf16
// reference kernels here; the GPU's in hf_compat.py): close to fp32 (bf16 rounding of the weights and
// the projections' inputs) but not equal, one entry per predicted token; an unknown dtype is refused.
TEST_F(LogprobsCli, Bf16WeightsScoreCloseToFp32) {
    const std::vector<int> s = {5, 9, 2, 44, 3, 17, 8};
    std::string out;
    ASSERT_EQ(cli(nlohmann::json{{"tokens", s}}.dump() + "\n", "--dtype bf16", out), "0") << out;
    const nlohmann::json j = nlohmann::json::parse(out.substr(0, out.find('\n')));
    PackedBatch b;
    b.add_sequence(s);
    const TokenScores ref = Transformer(*model_).forward(b, ForwardOptions{});
    ASSERT_EQ(j.at("logprobs").size(), s.size() - 1);
    ASSERT_EQ(j.at("entropy").size(), s.size() - 1);
    float max_diff = 0.0f;
    for (size_t i = 1; i < s.size(); ++i) {
        const float lp = j["logprobs"][i - 1].get<float>(), ent = j["entropy"][i - 1].get<float>();
        EXPECT_NEAR(lp, ref.logprob[i], 0.1f) << "position " << i;
        EXPECT_NEAR(ent, ref.entropy[i], 0.1f) << "position " << i;
        max_diff = std::max(max_diff, std::fabs(lp - ref.logprob[i]));
    }
    EXPECT_GT(max_diff, 0.0f) << "bf16 scores equal the fp32 ones: bf16 weights not used";
    out.clear();
    EXPECT_NE(cli("{\"tokens\":[1,2]}\n", "--dtype fp16", out), "0");
    EXPECT_NE(out.find("'fp16'"), std::string::npos) << out;
}

TEST_F(LogprobsCli, BadLineNamesItsNumber) {
    std::string out;
    EXPECT_NE(cli("{\"tokens\":[1,2]}\n{\"tokens\":[1,\"x\"]}\n", "", out), "0");
    EXPECT_NE(out.find("line 2"), std::string::npos) << out;
    out.clear();
    EXPECT_NE(cli("{\"tokens\":[1,100000]}\n", "", out), "0");
    EXPECT_NE(out.find("line 1"), std::string::npos) << out;
    EXPECT_NE(out.find("vocabulary"), std::string::npos) << out;
}

}  // namespace
