#include "reward/composite_reward.h"

#include <cmath>
#include <cstdlib>

#include "common/base/error.h"
#include "reward/guard.h"

namespace stride {

namespace {

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// A leading "NUMBER*" is a weight; anything else (a path may hold '*' only after a ':') is the spec.
bool split_weight(const std::string& term, double& weight, std::string& spec) {
    const size_t star = term.find('*');
    const size_t colon = term.find(':');
    if (star == std::string::npos || (colon != std::string::npos && colon < star)) {
        spec = term;
        return false;
    }
    const std::string w = trim(term.substr(0, star));
    char* end = nullptr;
    weight = std::strtod(w.c_str(), &end);
    if (w.empty() || end != w.c_str() + w.size() || !std::isfinite(weight) || weight == 0.0)
        throw Error("reward.fn: term '" + term + "': the weight '" + w + "' is not a finite non-zero number");
    spec = trim(term.substr(star + 1));
    return true;
}

// Worst first: a term that timed out or failed makes the sample a failed call; an unparseable term
// makes it unparseable.
int severity(RewardStatus s) {
    switch (s) {
        case RewardStatus::timeout:
            return 3;
        case RewardStatus::error:
            return 2;
        case RewardStatus::unparseable:
            return 1;
        case RewardStatus::ok:
            return 0;
    }
    return 0;
}

class CompositeReward final : public RewardFn {
   public:
    CompositeReward(std::vector<CompositeTerm> terms, std::string spec)
        : terms_(std::move(terms)), spec_(std::move(spec)) {}

    RewardResult score(const RewardInput& in) const override { return score_batch({in}).at(0); }

    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        std::vector<std::vector<RewardResult>> by_term;
        for (const CompositeTerm& t : terms_) {
            if (t.batched) {
                by_term.push_back(t.fn->score_batch(in));
                continue;
            }
            std::vector<RewardResult> rs;
            rs.reserve(in.size());
            for (const RewardInput& x : in) rs.push_back(score_with_limit(t.fn, x, t.timeout_s));
            by_term.push_back(std::move(rs));
        }
        std::vector<RewardResult> out(in.size());
        for (size_t i = 0; i < in.size(); ++i) {
            RewardResult& r = out[i];
            r.correct = true;
            for (size_t k = 0; k < terms_.size(); ++k) {
                const RewardResult& tr = by_term[k][i];
                if (severity(tr.status) > severity(r.status)) r.status = tr.status;
                r.score += terms_[k].weight * tr.score;
                r.correct = r.correct && tr.status == RewardStatus::ok && (tr.correct || tr.score >= 1.0);
                r.detail += (k ? "; " : "") + terms_[k].fn->name() + " " + reward_status_name(tr.status) +
                            " " + format_score(tr.score) + (tr.detail.empty() ? "" : ": " + tr.detail);
            }
            if (r.status != RewardStatus::ok) r.correct = false;
        }
        return out;
    }

    void cancel() const override {
        for (const CompositeTerm& t : terms_) t.fn->cancel();
    }
    std::string name() const override { return spec_; }

   private:
    static std::string format_score(double s) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%g", s);
        return buf;
    }

    std::vector<CompositeTerm> terms_;
    std::string spec_;
};

}  // namespace

bool is_composite_spec(const std::string& fn) {
    if (fn.find('+') != std::string::npos) return true;
    double w;
    std::string spec;
    try {
        return split_weight(trim(fn), w, spec);
    } catch (const Error&) {
        return true;  // a malformed weight: parse_reward_terms says what is wrong
    }
}

std::vector<RewardTerm> parse_reward_terms(const std::string& fn) {
    std::vector<RewardTerm> terms;
    size_t begin = 0;
    for (;;) {
        const size_t plus = fn.find('+', begin);
        const std::string term =
            trim(fn.substr(begin, plus == std::string::npos ? std::string::npos : plus - begin));
        if (term.empty())
            throw Error("reward.fn: '" + fn + "': term " + std::to_string(terms.size() + 1) +
                        " is empty (terms are WEIGHT*SPEC or SPEC joined by '+')");
        RewardTerm t;
        split_weight(term, t.weight, t.fn);
        if (t.fn.empty()) throw Error("reward.fn: term '" + term + "' has a weight but no reward");
        terms.push_back(std::move(t));
        if (plus == std::string::npos) break;
        begin = plus + 1;
    }
    return terms;
}

std::unique_ptr<RewardFn> make_composite_reward(std::vector<CompositeTerm> terms, std::string spec) {
    STRIDE_CHECK(!terms.empty(), "reward.fn: a composite reward needs at least one term");
    return std::make_unique<CompositeReward>(std::move(terms), std::move(spec));
}

}  // namespace stride
