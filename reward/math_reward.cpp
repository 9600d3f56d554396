// math and gsm8k: extract the final answer from a worked solution, compare as math.
#include "reward/builtins.h"
#include "reward/math_answer.h"
#include "reward/rational.h"

namespace stride {

namespace {

RewardResult verdict(bool correct, const std::string& want, const std::string& got) {
    RewardResult r;
    r.correct = correct;
    r.score = correct ? 1.0 : 0.0;
    if (!correct) r.detail = "expected " + want + ", got " + got;
    return r;
}

class MathReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        auto got = extract_last_boxed(in.response);
        if (!got) return {0.0, RewardStatus::unparseable, "no \\boxed{} answer", false};
        // The reference may be bare ("1/2") or a full solution with its own \boxed{}.
        return verdict(math_answers_equal(*got, in.answer), normalize_math_answer(in.answer),
                       normalize_math_answer(*got));
    }
    std::string name() const override { return "math"; }
};

class Gsm8kReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        auto got = extract_gsm8k_answer(in.response);
        if (!got) return {0.0, RewardStatus::unparseable, "no \"#### <number>\" answer", false};
        // GSM8K labels are whole solutions ending in "#### 72"; bare numbers work too.
        std::string want = extract_gsm8k_answer(in.answer).value_or(trim_reward_text(in.answer));
        auto a = parse_rational(*got), b = parse_rational(want);
        bool correct = (a && b) ? *a == *b : *got == want;
        return verdict(correct, want, *got);
    }
    std::string name() const override { return "gsm8k"; }
};

}  // namespace

std::unique_ptr<RewardFn> make_math_reward() {
    return std::make_unique<MathReward>();
}
std::unique_ptr<RewardFn> make_gsm8k_reward() {
    return std::make_unique<Gsm8kReward>();
}

}  // namespace stride
