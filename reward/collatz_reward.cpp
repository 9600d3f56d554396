// collatz: the response must list the trajectory n, f(n), ..., 1 (any separators between numbers).
#include <cctype>
#include <cstdint>
#include <vector>

#include "reward/builtins.h"

namespace stride {

namespace {

// The runs of digits in `s`, as numbers; false when a run is too long for 64 bits.
bool integers_in(const std::string& s, std::vector<uint64_t>& out) {
    for (size_t i = 0; i < s.size();) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
            ++i;
            continue;
        }
        uint64_t v = 0;
        size_t digits = 0;
        for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits)
            v = v * 10 + (s[i] - '0');
        if (digits > 19) return false;
        out.push_back(v);
    }
    return true;
}

class CollatzReward : public RewardFn {
   public:
    RewardResult score(const RewardInput& in) const override {
        std::vector<uint64_t> got, want;
        if (!integers_in(in.response, got) || got.empty())
            return {0.0, RewardStatus::unparseable, "no numbers in the response", false};
        if (!integers_in(in.answer, want) || want.empty())
            return {0.0, RewardStatus::error, "reference answer holds no trajectory", false};
        RewardResult r;
        r.correct = got == want;
        r.score = r.correct ? 1.0 : 0.0;
        if (!r.correct) {
            size_t i = 0;
            while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
            r.detail = "trajectory differs at position " + std::to_string(i) + " (" +
                       std::to_string(got.size()) + " numbers, expected " + std::to_string(want.size()) + ")";
        }
        return r;
    }
    std::string name() const override { return "collatz"; }
};

}  // namespace

std::unique_ptr<RewardFn> make_collatz_reward() {
    return std::make_unique<CollatzReward>();
}

}  // namespace stride
