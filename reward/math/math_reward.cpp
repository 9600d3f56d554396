// math and gsm8k: extract the final answer from a worked solution, compare as math.
#include "reward/builtins.h"
#include "reward/math/math_answer.h"
#include "reward/math/math_verify.h"
#include "reward/math/rational.h"

namespace stride {

namespace {

RewardResult verdict(bool correct, const std::string& want, const std::string& got) {
    RewardResult r;
    r.correct = correct;
    r.score = correct ? 1.0 : 0.0;
    if (!correct) r.detail = "expected " + want + ", got " + got;
    return r;
}

// Unparseable responses are the policy's fault (format penalty); an unreadable label is the dataset's,
// so it reports status error: counted among reward errors, no format penalty on the policy.
class MathReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        MathVerdict v = verify_math_response(in.response, in.answer);
        RewardResult r;
        r.correct = v.outcome == MathOutcome::correct;
        r.score = r.correct ? 1.0 : 0.0;
        if (v.outcome == MathOutcome::pred_unparseable) r.status = RewardStatus::unparseable;
        if (v.outcome == MathOutcome::gold_unparseable) r.status = RewardStatus::error;
        r.detail = std::move(v.detail);
        return r;
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
