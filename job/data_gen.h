// Synthetic datasets (`stride data gen`, and `gen:` specs in data.train / data.eval).
//
//   arith    "321+540=" -> "861". Operands are zero-padded to `digits` digits and written lowest
//            digit first, and so is the answer (no padding: 168 -> "861", 0 -> "0"). Reversed digits
//            let a left-to-right model carry like a person does; with only the answer reversed, the
//            quickstart prototype stalled at 9% accuracy. op=mul writes "aaa*bbb=".
//   collatz  "Print the Collatz trajectory of 6." -> "6 3 10 5 16 8 4 2 1". Trajectory lengths are
//            naturally long-tailed, which exercises segment rollout and stragglers.
//   countdown "937-930=" -> "937 936 935 934 933 932 931 930": count down from the first number to
//            the second. Lengths (numbers in the answer) follow a heavy tail, P(k) ~ k^-1.5 up to
//            max_len, and are set by the prompt: the long-tailed workload of the async benchmark,
//            learnable by a tiny model (each number is the previous one minus one).
//
// Deterministic for a seed on every platform (own generator, no std distributions), and no problem
// repeats within one generated set, so a held-out split of it is truly held out.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "job/dataset.h"

namespace stride {

std::vector<Example> generate_examples(const GenSpec& spec);

std::string reversed_digits(uint64_t v);  // 168 -> "861"
std::string arith_prompt(uint64_t a, uint64_t b, int digits, const std::string& op);
std::vector<uint64_t> collatz_trajectory(uint64_t n);  // n, f(n), ..., 1
std::string collatz_prompt(uint64_t n);
std::string countdown_prompt(uint64_t start, uint64_t stop);  // "937-930="
std::string countdown_answer(uint64_t start, uint64_t stop);  // "937 936 ... 930"
// P(k) of a countdown of k numbers, index 1..max_len (index 0 unused): k^-1.5, see data_gen.cpp.
std::vector<double> countdown_length_probs(int max_len);

// {"prompt": ..., "answer": ...} per line. path "-" writes to stdout.
void write_jsonl_dataset(const std::vector<Example>& examples, const std::string& path);

// A dataset named by a config value: a gen: spec (generated now) or a JSONL file.
std::vector<Example> load_dataset(const std::string& spec_or_path, const DatasetKeys& keys);

// The train and eval sets of a job. With data.eval empty, data.eval_size prompts of data.train are
// held out by a fixed split (the same for every job seed, so evals stay comparable across seeds);
// with data.eval set, its first data.eval_size prompts are used (all when 0).
DatasetSplit load_job_datasets(const JobConfig& cfg);

}  // namespace stride
