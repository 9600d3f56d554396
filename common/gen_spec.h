// Generator specs: `gen:TASK?n=N&seed=S&digits=D&op=add|mul&max_len=K` names a synthetic dataset
// (made by job/data_gen.h). Parsed and checked here, below the job layer, so that config validation
// can refuse a bad spec at load, naming the key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stride {

struct GenSpec {
    std::string task = "arith";  // arith | collatz | countdown
    int64_t n = 1000;            // examples
    uint64_t seed = 1;
    int digits = 3;          // arith: operand digits; collatz: start values below 10^digits
    std::string op = "add";  // arith: add | mul
    int max_len = 64;        // countdown: the longest countdown (numbers in the answer)
    bool operator==(const GenSpec&) const = default;
};

bool is_gen_spec(const std::string& s);  // starts with "gen:"
// The sources of data.train / data.eval: one file or spec, or a list of them ("a.parquet,b.jsonl" or
// "[a.parquet, b.jsonl]", items trimmed of blanks and quotes; what a YAML list of the key becomes).
std::vector<std::string> dataset_sources(const std::string& value);
// "gen:arith?n=20500&seed=1" -> GenSpec. Throws Error naming the bad parameter.
GenSpec parse_gen_spec(const std::string& spec);
// Throws Error naming the bad field (n >= 1, digits in range for the task, known task and op).
void check_gen_spec(const GenSpec& spec);
// How many distinct problems the spec's task and digits allow (generators never repeat one).
uint64_t gen_spec_space(const GenSpec& spec);

}  // namespace stride
