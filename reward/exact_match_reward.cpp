// exact_match and arith: compare the whole response with the answer.
#include <cctype>

#include "reward/builtins.h"

namespace stride {

std::string trim_reward_text(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

namespace {

RewardResult judge(bool correct, const std::string& expected, const std::string& got) {
    RewardResult r;
    r.correct = correct;
    r.score = correct ? 1.0 : 0.0;
    if (!correct) r.detail = "expected \"" + expected + "\", got \"" + got + "\"";
    return r;
}

class ExactMatchReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        std::string got = trim_reward_text(in.response), want = trim_reward_text(in.answer);
        if (got.empty()) return {0.0, RewardStatus::unparseable, "empty response", false};
        return judge(got == want, want, got);
    }
    std::string name() const override { return "exact_match"; }
};

// The quickstart task: the model answers with digits only (lowest digit first), then EOS. Anything
// else in the response is a malformed answer, reported as unparseable so a format penalty can apply.
class ArithReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        std::string got = trim_reward_text(in.response), want = trim_reward_text(in.answer);
        if (got.empty()) return {0.0, RewardStatus::unparseable, "empty response", false};
        for (char c : got)
            if (!std::isdigit(static_cast<unsigned char>(c)))
                return {0.0, RewardStatus::unparseable, "non-digit in \"" + got + "\"", false};
        return judge(got == want, want, got);
    }
    std::string name() const override { return "arith"; }
};

}  // namespace

std::unique_ptr<RewardFn> make_exact_match_reward() {
    return std::make_unique<ExactMatchReward>();
}
std::unique_ptr<RewardFn> make_arith_reward() {
    return std::make_unique<ArithReward>();
}

}  // namespace stride
