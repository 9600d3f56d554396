// code_exec: scores model-written Python by running it against the test cases of the prompt's label in
// the sandbox (reward/sandbox/sandbox.h).
//
// Label (the dataset's answer), JSON, one of:
//   {"tests": [{"input": "1 2\n", "output": "3\n"}, ...]}          stdin -> stdout programs
//   {"inputs": ["1 2\n", ...], "outputs": ["3\n", ...]}             the same, APPS/TACO layout
//   {"fn_name": "add", "tests": [{"input": [1, 2], "output": 3}]}   call add(1, 2), compare the return
//                                                                   value as JSON (also with inputs/outputs)
//   {"asserts": ["assert add(1, 2) == 3", ...]}                     run each after the program
// A label that is a JSON string holding one of these is accepted too (datasets that store strings).
//
// Program: the last ```python (or ```py) fenced block of the response, else the last fenced block
// without a language, else the whole response; none (blank) is status unparseable.
//
// One sandboxed run per sample: a small harness compiles the program once, then runs every test in a
// fresh forked child and reports its output; expected outputs never enter the sandbox, they are compared
// here. stdout matches when equal line by line after trailing whitespace is dropped from each line and
// trailing blank lines from the end; return values match as JSON, numbers within 1e-6 relative.
//
// Result: status ok with score = fraction of tests passed (or 1/0 with all_or_nothing), correct = all
// passed. Status timeout (score 0) when the run is killed at the time limit, status error (score 0)
// for a syntax error, a forbidden system call, a resource limit hit, or a bad label.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reward/reward.h"
#include "reward/sandbox/sandbox.h"

namespace stride {

struct CodeTests {
    enum Mode { stdio, call, asserts } mode = stdio;
    std::string fn_name;                  // call
    std::vector<nlohmann::json> inputs;   // stdio: strings; call: argument lists; asserts: statements
    std::vector<nlohmann::json> outputs;  // stdio: strings; call: values; asserts: empty
};

// Throws Error "label: ..." naming what is wrong.
CodeTests parse_code_tests(const std::string& label);
// The program in a response (see above); nullopt when there is none.
std::optional<std::string> extract_program(const std::string& response);
bool stdout_matches(const std::string& got, const std::string& expected);
bool json_matches(const nlohmann::json& got, const nlohmann::json& expected);

// The harness run in the sandbox (reward/code_exec/code_exec_harness.cpp).
const char* code_exec_harness_source();

struct CodeExecOptions {
    SandboxIsolation isolation = SandboxIsolation::namespaces;
    bool all_or_nothing = false;  // score 1 only when every test passes
    double timeout_s = 10.0;      // the whole sample, all tests
    int64_t memory_mb = 1024;     // address space of each process
    int workers = 0;              // samples of a batch run at once; 0: min(4, hardware threads)
    std::string python;           // empty: python_interpreter() (reward/plugin/python_reward.h)
};

// Throws Error when isolation is namespaces and the machine cannot provide them (naming why and the
// opt-out key), or when Python does not start in the sandbox. With isolation none it logs a warning.
std::unique_ptr<RewardFn> make_code_exec_reward(const CodeExecOptions& opt);

}  // namespace stride
