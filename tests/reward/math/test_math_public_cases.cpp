// The math verifier against public equivalence cases: the test suites of huggingface/Math-Verify
// (ported as data: gold, model output, expected verdict, source) and the kinds issue 19 names, in
// tests/reward/math/data/math_verify_public.jsonl. Reports the agreement and every disagreement, and
// holds the verifier at or above 95% agreement (issue 19's bar).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "reward/math/math_verify.h"

namespace stride {
namespace {

struct PublicCase {
    int line = 0;
    std::string gold, pred, source;
    bool expected = false;
};

std::vector<PublicCase> read_public_cases() {
    std::ifstream in(std::string(STRIDE_SOURCE_DIR) + "/tests/reward/math/data/math_verify_public.jsonl");
    std::vector<PublicCase> cases;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        cases.push_back({n, j.at("gold").get<std::string>(), j.at("pred").get<std::string>(),
                         j.at("source").get<std::string>(), j.at("expected").get<bool>()});
    }
    return cases;
}

std::string shorten(const std::string& s) {
    constexpr size_t kMax = 100;
    std::string out = s.size() <= kMax ? s : "..." + s.substr(s.size() - kMax);
    for (char& c : out)
        if (c == '\n') c = ' ';
    return out;
}

TEST(MathPublicCases, AgreementWithMathVerifyAtLeast95Percent) {
    const auto cases = read_public_cases();
    ASSERT_GE(cases.size(), 300u);
    int agree = 0;
    std::string disagreements;
    for (const PublicCase& c : cases) {
        MathVerdict v = verify_math_response(c.pred, c.gold);
        const bool correct = v.outcome == MathOutcome::correct;
        if (correct == c.expected) {
            ++agree;
            continue;
        }
        disagreements += "  line " + std::to_string(c.line) + " (" + c.source + "): expected " +
                         (c.expected ? "equal" : "not equal") + ", got " + math_outcome_name(v.outcome) +
                         "\n    gold: " + shorten(c.gold) + "\n    pred: " + shorten(c.pred) + "\n    " +
                         v.detail + "\n";
    }
    const double agreement = static_cast<double>(agree) / static_cast<double>(cases.size());
    std::printf("math verifier: %d of %zu public cases agree (%.1f%%)\n%s", agree, cases.size(),
                100.0 * agreement, disagreements.c_str());
    EXPECT_GE(agreement, 0.95) << "the disagreements are listed above";
}

}  // namespace
}  // namespace stride
