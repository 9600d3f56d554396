// A reward made of several terms: `reward.fn: "0.8*math + 0.2*python:fmt.py:score"`. Each term is any
// reward spec (built-in, plugin:, python:, code_exec) with an optional weight (default 1); the sum's
// credit is sum_i w_i * s_i over the terms' raw scores s_i in [0, 1] (a built-in gives 1 or 0), and
// the job's shaping (reward.correct/incorrect, format and overlong terms) applies to that credit as to
// a plug-in's partial credit. Weights summing to 1 keep the score within [incorrect, correct].
//
// A sample is correct when every term gives full credit. A term that fails decides the sample's
// status, worst first: timeout, error, then unparseable (each with the fallback score of a failed
// call); the detail names every term's verdict.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "reward/reward.h"

namespace stride {

struct RewardTerm {
    double weight = 1.0;
    std::string fn;  // one reward spec
};

// True when `fn` is a sum of terms or a weighted term ("a + b", "0.5*math").
bool is_composite_spec(const std::string& fn);
// The terms of `fn`, in order. Throws Error "reward.fn: ..." naming the term that is malformed (an
// empty term, a weight that is not a finite non-zero number).
std::vector<RewardTerm> parse_reward_terms(const std::string& fn);

struct CompositeTerm {
    double weight = 1.0;
    std::shared_ptr<const RewardFn> fn;  // unshaped: a raw score in [0, 1]
    double timeout_s = 0.0;  // > 0: run under score_with_limit (built-ins); plug-ins limit themselves
    bool batched = false;    // plug-in pools score a whole batch in one call
};

// The unshaped sum (score = credit, status and correct as above); wrap it in the job's shaping.
std::unique_ptr<RewardFn> make_composite_reward(std::vector<CompositeTerm> terms, std::string spec);

}  // namespace stride
