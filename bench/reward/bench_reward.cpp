// Reward costs, each against a peer measured in the same run:
//   1. the built-in math verifier (answer extraction, LaTeX parsing, exact/symbolic equivalence) over a
//      mix of ~300-character worked solutions: answers/s on one core, against the trivial exact-match
//      reward;
//   2. the Python reward bridge: per-sample time of a trivial Python function served by a worker
//      process (python:file.py:function), against the direct in-process C++ call of the same
//      comparison. Goal: math >= 50k answers/s; bridge overhead <= 50 us per sample.
// Usage: bench_reward [math_calls=200000] [python_calls=3000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reward/plugin/python_reward.h"
#include "reward/registry.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A mix of what models write and what labels look like, each answer at the end of a ~300-character
// worked solution: boxed fractions, decimals, radicals, tuples, intervals, sets, equations and
// polynomials (the symbolic path), LaTeX noise, wrong answers and answers with no box at all.
std::vector<RewardInput> math_cases() {
    const char* pairs[][2] = {
        {"\\boxed{\\frac{1}{2}}.", "0.5"},
        {"$x = 3$, hence \\boxed{3}", "3"},
        {"\\boxed{\\dfrac{3}{4}}", "\\frac{3}{4}"},
        {"Total: \\boxed{1,000}", "1000"},
        {"\\boxed{\\left( 1, 2 \\right)}", "(1,2)"},
        {"\\boxed{28\\%}", "28"},
        {"I think it is \\boxed{7}", "8"},
        {"so maybe 42", "42"},
        {"\\boxed{\\text{(B)}}", "B"},
        {"\\boxed{-\\frac{5}{10}}", "-0.5"},
        {"\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{3}{2\\sqrt{3}}"},
        {"\\boxed{2\\sqrt{2}}", "\\sqrt{8}"},
        {"\\boxed{(x+1)^2}", "x^2+2x+1"},
        {"\\boxed{y = 2x + 1}", "y=2x+1"},
        {"\\boxed{[1, 3)}", "[1,3)"},
        {"\\boxed{(-\\infty, 1) \\cup (2, \\infty)}", "x<1 \\text{ or } x>2"},
        {"\\boxed{\\{2, 1\\}}", "\\{1,2\\}"},
        {"\\boxed{1 \\pm \\sqrt{2}}", "1+\\sqrt{2}, 1-\\sqrt{2}"},
        {"\\boxed{1.5 \\times 10^{3}}", "1500"},
        {"\\boxed{10\\text{ cm}}", "10"},
        {"\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}",
         "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"},
        {"\\boxed{\\frac{1}{3}}", "\\frac{1}{2}"},
    };
    // The reasoning before the answer: text the extractor has to scan past, with math spans in it.
    const std::string reasoning =
        "Let us work through the problem step by step. First, note that the quantity in question can be "
        "written as $a + b$ where $a = 3$ and $b = 4$, so that $a + b = 7$. Substituting into the second "
        "condition gives $2(a + b) - 5 = 9$, which checks out. Simplifying the remaining expression, ";
    std::vector<RewardInput> v;
    for (const auto& p : pairs) {
        RewardInput in;
        in.prompt = "Compute it.";
        in.response = reasoning + "the answer is " + p[0];
        in.answer = p[1];
        in.response_tokens = 80;
        v.push_back(in);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    const long math_calls = argc > 1 ? std::atol(argv[1]) : 200000;
    const long py_calls = argc > 2 ? std::atol(argv[2]) : 3000;

    // ---- 1. math verifier vs exact match, one thread --------------------------------------------
    const auto cases = math_cases();
    auto math = make_base_reward("math");
    auto exact = make_base_reward("exact_match");
    double sink = 0;
    auto t0 = Clock::now();
    for (long i = 0; i < math_calls; ++i) sink += math->score(cases[i % cases.size()]).score;
    const double math_rate = math_calls / seconds_since(t0);
    long correct = 0;
    for (const auto& c : cases) correct += math->score(c).correct;
    t0 = Clock::now();
    for (long i = 0; i < math_calls; ++i) sink += exact->score(cases[i % cases.size()]).score;
    const double exact_rate = math_calls / seconds_since(t0);
    std::printf(
        "math verifier: %.0f answers/s on one core, %zu-case mix of ~%zu-char responses, %ld correct "
        "(exact_match: %.0f/s; checksum %.0f)\n",
        math_rate, cases.size(), cases[0].response.size(), correct, exact_rate, sink);

    // ---- 2. Python bridge vs direct C++ ------------------------------------------------------------
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 10;
    PythonReward py(std::string("python:") + STRIDE_SOURCE_DIR + "/tests/reward/python/good.py:score", opt);
    RewardInput in;
    in.prompt = "2+2=";
    in.response = "4";
    in.answer = "4";
    for (int i = 0; i < 100; ++i) py.score(in);  // warm-up: the worker is up, Python is warm
    t0 = Clock::now();
    for (long i = 0; i < py_calls; ++i) sink += py.score(in).score;
    const double py_us = seconds_since(t0) / py_calls * 1e6;
    t0 = Clock::now();
    for (long i = 0; i < py_calls * 100; ++i) sink += exact->score(in).score;
    const double direct_us = seconds_since(t0) / (py_calls * 100) * 1e6;
    std::printf("python bridge: %.1f us/sample (one worker, one sample per call); direct C++ call: %.3f us\n",
                py_us, direct_us);
    std::printf(
        "rewards: math verifier %.0f answers/s = %.2fx exact match; python bridge overhead %.1f us/sample\n",
        math_rate, math_rate / exact_rate, py_us - direct_us);
    return sink < 0 ? 1 : 0;
}
