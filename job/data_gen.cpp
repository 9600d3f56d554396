#include "job/data_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/base/error.h"

namespace stride {

namespace {

struct SplitMix64 {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound) without modulo bias (rejection of the short top range).
    uint64_t below(uint64_t bound) {
        uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        for (;;) {
            uint64_t x = next();
            if (x < limit) return x % bound;
        }
    }
};

// `n` distinct problem ids in [0, space), in random order. Rejection sampling while ids are sparse;
// a shuffle of the whole space when n is a large part of it (rejection would crawl there).
std::vector<uint64_t> distinct_ids(uint64_t n, uint64_t space, SplitMix64& rng) {
    std::vector<uint64_t> ids;
    if (n * 4 >= space) {
        ids.resize(space);
        for (uint64_t i = 0; i < space; ++i) ids[i] = i;
        for (uint64_t i = space; i > 1; --i) std::swap(ids[i - 1], ids[rng.below(i)]);
        ids.resize(n);
        return ids;
    }
    std::unordered_set<uint64_t> seen;
    seen.reserve(n * 2);
    while (ids.size() < n) {
        uint64_t id = rng.below(space);
        if (seen.insert(id).second) ids.push_back(id);
    }
    return ids;
}

uint64_t pow10_u64(int d) {
    uint64_t v = 1;
    for (int i = 0; i < d; ++i) v *= 10;
    return v;
}

std::string padded_reversed(uint64_t v, int digits) {
    std::string s = fmt::format("{:0{}}", v, digits);
    std::reverse(s.begin(), s.end());
    return s;
}

}  // namespace

std::string reversed_digits(uint64_t v) {
    std::string s = std::to_string(v);
    std::reverse(s.begin(), s.end());
    return s;
}

std::string arith_prompt(uint64_t a, uint64_t b, int digits, const std::string& op) {
    return padded_reversed(a, digits) + (op == "mul" ? "*" : "+") + padded_reversed(b, digits) + "=";
}

std::vector<uint64_t> collatz_trajectory(uint64_t n) {
    STRIDE_CHECK(n >= 1, "collatz: start value must be >= 1");
    std::vector<uint64_t> t = {n};
    while (n != 1) {
        if (n % 2 == 0) {
            n /= 2;
        } else {
            STRIDE_CHECK(n <= (UINT64_MAX - 1) / 3, "collatz: trajectory overflows 64 bits");
            n = 3 * n + 1;
        }
        t.push_back(n);
    }
    return t;
}

std::string collatz_prompt(uint64_t n) {
    return fmt::format("Print the Collatz trajectory of {}.", n);
}

std::string countdown_prompt(uint64_t start, uint64_t stop) {
    return fmt::format("{}-{}=", start, stop);
}

std::vector<double> countdown_length_probs(int max_len) {
    STRIDE_CHECK(max_len >= 1, "countdown: max_len must be >= 1");
    const double K = max_len;
    auto cdf = [&](double x) { return (1.0 - 1.0 / std::sqrt(x)) / (1.0 - 1.0 / std::sqrt(K + 1)); };
    std::vector<double> p(max_len + 1, 0.0);
    for (int k = 1; k < max_len; ++k) p[k] = cdf(k + 1) - cdf(k);
    p[max_len] = 1.0 - cdf(max_len);
    return p;
}

std::string countdown_answer(uint64_t start, uint64_t stop) {
    std::string s;
    for (uint64_t v = start;; --v) {
        s += std::to_string(v);
        if (v == stop) break;
        s += ' ';
    }
    return s;
}

namespace {

// Countdown lengths k in [1, K] with P(k) proportional to k^-1.5: P(k) = F(k + 1) - F(k) with the
// continuous power law's CDF on [1, K+1), F(x) = (1 - x^-0.5) / (1 - (K+1)^-0.5), the rest of the mass
// on K. For K = 64 a third of the answers are one number, the mean is ~7.6 numbers and 6% are 32 or
// longer, so a batch of 32 prompts usually holds one that is 5x the mean.
//
// The set is stratified: length k gets its share n P(k) (largest remainders round), and the starts of
// each length are distinct draws from [k, 10^digits - 1]. Drawing k per example and rejecting repeats
// instead bends the distribution once a length's starts run out (only 999 one-number problems exist
// with 3 digits): n = 12200 had 8% one-number answers and a mean of 14 numbers, and SFT then never
// learnt where to stop (the model leaves EOS at its average rate, ~1 in 14 boundaries, and greedy
// decoding never picks it). check_gen_spec keeps n within what every length can hold.
std::vector<Example> countdown_examples(const GenSpec& spec, SplitMix64& rng) {
    const int K = spec.max_len;
    const uint64_t starts = pow10_u64(spec.digits) - 1;  // start values 1 .. 10^digits - 1
    const uint64_t n = static_cast<uint64_t>(spec.n);
    const std::vector<double> p = countdown_length_probs(K);
    std::vector<uint64_t> count(K + 1, 0);
    std::vector<std::pair<double, int>> remainder;
    uint64_t assigned = 0;
    for (int k = 1; k <= K; ++k) {
        const double want = static_cast<double>(n) * p[k];
        count[k] = static_cast<uint64_t>(want);
        assigned += count[k];
        remainder.push_back({want - static_cast<double>(count[k]), k});
    }
    std::stable_sort(remainder.begin(), remainder.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; assigned < n; ++i, ++assigned) ++count[remainder[i % remainder.size()].second];
    std::vector<std::pair<uint64_t, uint64_t>> problems;  // (start, k)
    problems.reserve(n);
    for (int k = 1; k <= K; ++k) {
        const uint64_t k64 = static_cast<uint64_t>(k), room = starts - k64 + 1;
        STRIDE_CHECK(count[k] <= room, fmt::format("countdown: {} problems of length {} asked, {} exist with "
                                                   "digits = {} (lower n)",
                                                   count[k], k, room, spec.digits));
        for (uint64_t id : distinct_ids(count[k], room, rng)) problems.push_back({k64 + id, k64});
    }
    for (size_t i = problems.size(); i > 1; --i) std::swap(problems[i - 1], problems[rng.below(i)]);
    std::vector<Example> out;
    out.reserve(n);
    for (const auto& [start, k] : problems) {
        Example ex;
        ex.where = fmt::format("gen:countdown#{}", out.size());
        ex.prompt = countdown_prompt(start, start - k + 1);
        ex.answer = countdown_answer(start, start - k + 1);
        out.push_back(std::move(ex));
    }
    return out;
}

}  // namespace

std::vector<Example> generate_examples(const GenSpec& spec) {
    check_gen_spec(spec);
    if (spec.task == "countdown") {
        SplitMix64 rng{spec.seed * 0x2545F4914F6CDD1Dull + 3};
        return countdown_examples(spec, rng);
    }
    // Mix the task into the seed so that arith and collatz sets with one seed are unrelated.
    SplitMix64 rng{spec.seed * 0x2545F4914F6CDD1Dull + (spec.task == "arith" ? 1 : 2)};
    std::vector<uint64_t> ids = distinct_ids(static_cast<uint64_t>(spec.n), gen_spec_space(spec), rng);
    std::vector<Example> out;
    out.reserve(ids.size());
    uint64_t base = 1;
    for (int i = 0; i < spec.digits; ++i) base *= 10;
    for (size_t i = 0; i < ids.size(); ++i) {
        Example ex;
        ex.where = fmt::format("gen:{}#{}", spec.task, i);
        if (spec.task == "arith") {
            uint64_t a = ids[i] / base, b = ids[i] % base;
            ex.prompt = arith_prompt(a, b, spec.digits, spec.op);
            ex.answer = reversed_digits(spec.op == "mul" ? a * b : a + b);
        } else {
            uint64_t n = ids[i] + 1;
            ex.prompt = collatz_prompt(n);
            for (uint64_t v : collatz_trajectory(n)) {
                if (!ex.answer.empty()) ex.answer += ' ';
                ex.answer += std::to_string(v);
            }
        }
        out.push_back(std::move(ex));
    }
    return out;
}

void write_jsonl_dataset(const std::vector<Example>& examples, const std::string& path) {
    std::ofstream file;
    if (path != "-") {
        file.open(path);
        STRIDE_CHECK(file, path + ": cannot open for writing");
    }
    std::ostream& out = path == "-" ? std::cout : file;
    for (const auto& ex : examples)
        out << nlohmann::ordered_json{{"prompt", ex.prompt}, {"answer", ex.answer}}.dump() << '\n';
    out.flush();
    STRIDE_CHECK(out, path + ": write failed");
}

std::vector<Example> load_dataset(const std::string& spec_or_path, const DatasetKeys& keys) {
    const std::vector<std::string> sources = dataset_sources(spec_or_path);
    if (sources.size() > 1) {  // a list: the examples of each, in order
        std::vector<Example> all;
        for (const std::string& s : sources) {
            std::vector<Example> part = load_dataset(s, keys);
            all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
        }
        return all;
    }
    if (!is_gen_spec(spec_or_path)) return load_dataset_file(spec_or_path, keys);
    std::vector<Example> examples = generate_examples(parse_gen_spec(spec_or_path));
    // Generated prompts are plain strings: a chat template wraps them as one user turn, as it does
    // for string prompts read from a file.
    if (keys.chat_template != "none" && keys.chat_template != "auto")
        for (auto& ex : examples) ex.prompt = render_chat({{"user", ex.prompt}}, keys.chat_template);
    return examples;
}

DatasetSplit load_job_datasets(const JobConfig& cfg) {
    DatasetKeys keys{cfg.data.prompt_key, cfg.data.answer_key, cfg.data.chat_template};
    if (keys.chat_template == "auto")
        keys.model_template =
            load_job_chat_template(!cfg.tokenizer.empty()   ? cfg.tokenizer
                                   : cfg.model.path.empty() ? ""
                                                            : cfg.model.path + "/tokenizer.json",
                                   &keys.model_template_missing);
    std::vector<Example> train = load_dataset(cfg.data.train, keys);
    if (cfg.data.eval.empty()) {
        // Fixed split seed: the eval set must not change with the job seed.
        constexpr uint64_t kHoldoutSeed = 0;
        return split_holdout(std::move(train), cfg.data.eval_size, kHoldoutSeed);
    }
    DatasetSplit s;
    s.train = std::move(train);
    s.eval = load_dataset(cfg.data.eval, keys);
    if (cfg.data.eval_size > 0 && s.eval.size() > static_cast<size_t>(cfg.data.eval_size))
        s.eval.resize(cfg.data.eval_size);
    return s;
}

}  // namespace stride
