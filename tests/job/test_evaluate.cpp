// Eval scoring: one RewardFn::score_batch call per eval set (one round trip per worker process for
// plug-in and Python rewards), with each prompt's answer, data_source and extra_info, and the
// accuracy and mean reward of what it returns.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "job/evaluate.h"
#include "job/job_context.h"
#include "model/params.h"
#include "tests/trainer/rl_test_util.h"

using namespace stride;

namespace {

// Correct (score 1) when the prompt's data_source is "right"; records what it was asked.
class RecordingReward final : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        ++single_calls;
        return score_batch({in}).at(0);
    }
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        std::lock_guard<std::mutex> lock(mu);
        batches.push_back(in);
        std::vector<RewardResult> out(in.size());
        for (size_t i = 0; i < in.size(); ++i) {
            out[i].correct = in[i].data_source == "right";
            out[i].score = out[i].correct ? 1.0 : 0.0;
        }
        return out;
    }
    std::string name() const override { return "recording"; }

    mutable std::mutex mu;
    mutable std::vector<std::vector<RewardInput>> batches;
    mutable std::atomic<int> single_calls{0};
};

}  // namespace

TEST(Evaluate, ScoresTheWholeEvalSetInOneBatch) {
    const Tokenizer tok = Tokenizer::load(STRIDE_SOURCE_DIR "/configs/tokenizers/arith/tokenizer.json");
    ModelConfig mc = test::tiny_config();
    mc.vocab = tok.vocab_size();
    mc.eos_token_ids = default_stop_tokens(tok);
    Model model(mc);
    model_init_random(model, 7, 0.5f);

    std::vector<TokenizedPrompt> prompts;
    for (int i = 0; i < 5; ++i) {
        const std::string text = std::to_string(i) + "1+2" + std::to_string(i) + "=";
        prompts.push_back({tok.encode(text), text, std::to_string(2 * i + 3), i < 2 ? "right" : "wrong",
                           R"({"idx":)" + std::to_string(i) + "}"});
    }
    EvalOptions opt;
    opt.max_tokens = 6;
    opt.stop_tokens = mc.eos_token_ids;
    RecordingReward reward;
    const EvalResult r = evaluate(model, tok, reward, prompts, opt);

    ASSERT_EQ(reward.batches.size(), 1u) << "one score_batch call for the eval set";
    EXPECT_EQ(reward.single_calls.load(), 0);
    const std::vector<RewardInput>& in = reward.batches[0];
    ASSERT_EQ(in.size(), prompts.size());
    std::vector<bool> seen(prompts.size());
    for (const RewardInput& x : in) {
        const int i = (std::stoi(x.answer) - 3) / 2;  // whichever order the generator finished them
        ASSERT_TRUE(i >= 0 && i < 5) << x.answer;
        seen[i] = true;
        EXPECT_EQ(x.prompt, prompts[i].text);
        EXPECT_EQ(x.data_source, prompts[i].data_source);
        EXPECT_EQ(x.extra_info_json, prompts[i].extra_info_json);
        EXPECT_LE(x.response_tokens, opt.max_tokens);
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 5);
    EXPECT_EQ(r.n, 5);
    EXPECT_DOUBLE_EQ(r.accuracy, 0.4);
    EXPECT_DOUBLE_EQ(r.reward_mean, 0.4);
}
