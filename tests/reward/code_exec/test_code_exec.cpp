// reward.fn: code_exec — label parsing and program extraction on their own, then real model-style
// programs scored in the real sandbox: right, partly right, broken, and hostile (network, fork bomb,
// huge file, endless loop, memory hog, early exit).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/base/error.h"
#include "common/config.h"
#include "reward/code_exec/code_exec.h"
#include "reward/registry.h"
#include "reward/sandbox/sandbox.h"
#include "scheduler/job_config.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;
using nlohmann::json;

namespace {

const char* kAddLabel =
    R"({"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 7\n", "output": "12\n"},
                                      {"input": "0 0\n", "output": "0\n"}, {"input": "-4 4\n", "output": "0\n"}]})";
const char* kOneTest = R"({"tests": [{"input": "", "output": "ok\n"}]})";

RewardSpec code_spec(double timeout_s = 3.0) {
    RewardSpec s;
    s.fn = "code_exec";
    s.correct = 2.0;
    s.incorrect = -1.0;  // failures score -1, distinct from any partial score
    s.timeout_s = timeout_s;
    s.code_exec_memory_mb = 256;
    s.plugin_workers = 2;
    return s;
}

RewardInput sample(const std::string& response, const std::string& label) {
    RewardInput in;
    in.prompt = "Write a program.";
    in.response = response;
    in.answer = label;
    return in;
}

std::string fenced(const std::string& code) {
    return "Here is my solution.\n```python\n" + code + "```\nIt reads two numbers.";
}

// Every sandbox run of the fixture makes its temp dir under a folder of its own, checked empty after.
class CodeExec : public ::testing::Test {
   protected:
    void SetUp() override {
        if (std::string why = sandbox_unavailable_reason(); !why.empty())
            GTEST_SKIP() << "no sandbox: " << why;
        tmp_ = std::filesystem::temp_directory_path() / ("stride-code-exec-test-" + std::to_string(getpid()));
        std::filesystem::create_directories(tmp_);
        old_tmpdir_ = getenv("TMPDIR") ? getenv("TMPDIR") : "";
        setenv("TMPDIR", tmp_.c_str(), 1);
    }
    void TearDown() override {
        if (tmp_.empty()) return;
        EXPECT_TRUE(std::filesystem::is_empty(tmp_)) << "sandbox temp dirs left in " << tmp_;
        std::filesystem::remove_all(tmp_);
        if (old_tmpdir_.empty())
            unsetenv("TMPDIR");
        else
            setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    }
    RewardResult score(const std::string& response, const std::string& label, RewardSpec spec = code_spec()) {
        return make_reward(spec)->score(sample(response, label));
    }
    // Stopped by the sandbox: no credit, a failure status, and the detail says why.
    void expect_stopped(const RewardResult& r, RewardStatus status, const std::string& why) {
        EXPECT_EQ(r.status, status) << r.detail;
        EXPECT_DOUBLE_EQ(r.score, -1.0);
        EXPECT_FALSE(r.correct);
        EXPECT_NE(r.detail.find(why), std::string::npos) << r.detail;
    }

    std::filesystem::path tmp_;
    std::string old_tmpdir_;
};

}  // namespace

TEST(CodeExecLabel, ParsesEachForm) {
    CodeTests io = parse_code_tests(kAddLabel);
    EXPECT_EQ(io.mode, CodeTests::stdio);
    ASSERT_EQ(io.inputs.size(), 4u);
    EXPECT_EQ(io.outputs[1], "12\n");
    CodeTests apps = parse_code_tests(R"({"inputs": ["1\n"], "outputs": ["2\n"]})");
    EXPECT_EQ(apps.mode, CodeTests::stdio);
    CodeTests call = parse_code_tests(R"({"fn_name": "add", "tests": [{"input": [1, 2], "output": 3}]})");
    EXPECT_EQ(call.mode, CodeTests::call);
    EXPECT_EQ(call.fn_name, "add");
    EXPECT_EQ(call.inputs[0], json::array({1, 2}));
    CodeTests asserts = parse_code_tests(R"({"asserts": ["assert f(1) == 2"]})");
    EXPECT_EQ(asserts.mode, CodeTests::asserts);
    // A label stored as a JSON string holding the object.
    EXPECT_EQ(parse_code_tests(json(std::string(kAddLabel)).dump()).inputs.size(), 4u);
}

TEST(CodeExecLabel, RefusesWhatItCannotRun) {
    auto error_of = [](const std::string& label) {
        return test::error_message([&] { parse_code_tests(label); });
    };
    EXPECT_NE(error_of("42").find("label: code_exec needs a JSON object"), std::string::npos);
    EXPECT_NE(error_of(R"({"tests": []})").find("non-empty"), std::string::npos);
    EXPECT_NE(error_of(R"({"tests": [{"input": 1, "output": "1"}]})").find("test 1"), std::string::npos);
    EXPECT_NE(error_of(R"({"inputs": ["a"], "outputs": []})").find("same length"), std::string::npos);
    EXPECT_NE(error_of(R"({"asserts": ["assert 1"], "tests": []})").find("exactly one"), std::string::npos);
    EXPECT_NE(error_of(R"({"fn_name": "not a name", "tests": []})").find("identifier"), std::string::npos);
}

TEST(CodeExecProgram, TakesTheLastPythonBlock) {
    EXPECT_EQ(extract_program("a\n```python\nx = 1\n```\nb\n```py\nx = 2\n```\n"), "x = 2\n");
    EXPECT_EQ(extract_program("```python\nfirst\n```\n```\nplain\n```"), "first\n");  // python beats plain
    EXPECT_EQ(extract_program("```\nplain\n```"), "plain\n");
    EXPECT_EQ(extract_program("```python title=a.py\nx = 3\n```"), "x = 3\n");
    EXPECT_EQ(extract_program("```python\ncut off by the length limit"), "cut off by the length limit");
    EXPECT_EQ(extract_program("print(1)"), "print(1)");  // no fence: the whole response
    EXPECT_EQ(extract_program("  \n\t"), std::nullopt);
    EXPECT_EQ(extract_program("```python\n\n```"), std::nullopt);
}

TEST(CodeExecCompare, StdoutAndJson) {
    EXPECT_TRUE(stdout_matches("3  \n\n\n", "3\n"));
    EXPECT_TRUE(stdout_matches("a\r\nb", "a\nb\n"));
    EXPECT_FALSE(stdout_matches("3 4\n", "3\n4\n"));
    EXPECT_FALSE(stdout_matches("\n3\n", "3\n"));  // leading lines count
    EXPECT_TRUE(json_matches(json::parse("[1, 2.0000000001, {\"a\": \"x\"}]"),
                             json::parse("[1, 2, {\"a\": \"x\"}]")));
    EXPECT_FALSE(json_matches(json::parse("[1, 2.1]"), json::parse("[1, 2]")));
    EXPECT_FALSE(json_matches(json::parse("true"), json::parse("1")));
    EXPECT_FALSE(json_matches(json::parse("[1]"), json::parse("[1, 1]")));
}

TEST_F(CodeExec, CorrectProgramScoresFull) {
    RewardResult r = score(fenced("a, b = map(int, input().split())\nprint(a + b)\n"), kAddLabel);
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_TRUE(r.correct);
    EXPECT_DOUBLE_EQ(r.score, 2.0);
    EXPECT_EQ(r.detail, "4/4 tests passed");
}

TEST_F(CodeExec, PartialPassScoresTheFraction) {
    // Right only when a >= 0: tests 1 to 3 pass, test 4 (-4 4) fails.
    std::string wrong = fenced("a, b = map(int, input().split())\nprint(abs(a) + b)\n");
    RewardResult r = score(wrong, kAddLabel);
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_FALSE(r.correct);
    EXPECT_DOUBLE_EQ(r.score, -1.0 + 0.75 * 3.0);
    EXPECT_EQ(r.detail, "3/4 tests passed; test 4: expected \"0\\n\", got \"8\\n\"");
    RewardSpec all = code_spec();
    all.code_exec_score = "all";
    EXPECT_DOUBLE_EQ(score(wrong, kAddLabel, all).score, -1.0);
}

TEST_F(CodeExec, FunctionsAndAsserts) {
    std::string program = fenced(
        "def add(a, b):\n    return a + b\n"
        "class Solution:\n    def pair(self, x):\n        return (x, [x * 2])\n");
    RewardResult call = score(program, R"({"fn_name": "add", "tests": [{"input": [1, 2], "output": 3},
                                                                        {"input": [0.1, 0.2], "output": 0.3},
                                                                        {"input": [1, 1], "output": 3}]})");
    EXPECT_EQ(call.status, RewardStatus::ok) << call.detail;
    EXPECT_DOUBLE_EQ(call.score, -1.0 + 2.0);  // 2 of 3: float within tolerance, 1+1 != 3
    EXPECT_NE(call.detail.find("test 3: expected \"3\", got \"2\""), std::string::npos) << call.detail;
    RewardResult method =
        score(program, R"({"fn_name": "pair", "tests": [{"input": 4, "output": [4, [8]]}]})");
    EXPECT_TRUE(method.correct) << method.detail;  // LeetCode style; a tuple compares as a list
    RewardResult asserts =
        score(program, R"({"asserts": ["assert add(2, 2) == 4", "assert add(2, 2) == 5"]})");
    EXPECT_EQ(asserts.status, RewardStatus::ok) << asserts.detail;
    EXPECT_DOUBLE_EQ(asserts.score, 0.5);
    EXPECT_NE(asserts.detail.find("test 2 (\"assert add(2, 2) == 5\"): AssertionError"), std::string::npos)
        << asserts.detail;
}

TEST_F(CodeExec, ExitingBeforeTheAssertsEarnsNothing) {
    // The classic reward hack: leave with status 0 before any test runs.
    RewardResult r = score(fenced("import os\nos._exit(0)\n"), R"({"asserts": ["assert False"]})");
    EXPECT_FALSE(r.correct) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, -1.0);
    RewardResult sys_exit = score(fenced("import sys\nsys.exit(0)\n"), R"({"asserts": ["assert False"]})");
    EXPECT_NE(sys_exit.detail.find("exited before its tests ran"), std::string::npos) << sys_exit.detail;
}

TEST_F(CodeExec, SyntaxErrorIsAnError) {
    RewardResult r = score(fenced("def f(:\n    pass\n"), kOneTest);
    expect_stopped(r, RewardStatus::error, "SyntaxError");
    EXPECT_NE(r.detail.find("line 1"), std::string::npos) << r.detail;
}

TEST_F(CodeExec, NoProgramIsUnparseable) {
    RewardResult r = score("  \n", kOneTest);
    EXPECT_EQ(r.status, RewardStatus::unparseable);
    EXPECT_DOUBLE_EQ(r.score, -1.0);
}

TEST_F(CodeExec, BadLabelIsAnError) {
    expect_stopped(score(fenced("print(1)\n"), "not json"), RewardStatus::error, "label:");
}

TEST_F(CodeExec, NetworkIsRefused) {
    for (const char* host : {"127.0.0.1", "93.184.216.34"}) {
        std::string program = "import socket\ns = socket.create_connection(('" + std::string(host) +
                              "', 80), timeout=1)\nprint('ok')\n";
        expect_stopped(score(fenced(program), kOneTest), RewardStatus::error, "forbidden system call");
    }
}

TEST_F(CodeExec, ForkBombIsStopped) {
    RewardResult r = score(fenced("import os\nwhile True:\n    os.fork()\n"), kOneTest);
    EXPECT_NE(r.status, RewardStatus::ok) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, -1.0);
    EXPECT_FALSE(r.correct);
}

TEST_F(CodeExec, HugeFileIsStopped) {
    std::string program =
        "chunk = b'x' * (1 << 20)\nwith open('big', 'wb') as f:\n"
        "    for _ in range(1024):\n        f.write(chunk)\nprint('ok')\n";
    expect_stopped(score(fenced(program), kOneTest), RewardStatus::error, "file size limit");
}

TEST_F(CodeExec, EndlessLoopTimesOut) {
    RewardResult r = score(fenced("while True:\n    pass\n"), kOneTest, code_spec(1.0));
    expect_stopped(r, RewardStatus::timeout, "killed at the time limit (1 s)");
}

TEST_F(CodeExec, MemoryHogIsStopped) {
    std::string program = "hoard = []\nwhile True:\n    hoard.append(bytearray(10**7))\n";
    expect_stopped(score(fenced(program), kOneTest), RewardStatus::error, "memory limit (256 MB)");
}

TEST_F(CodeExec, BatchRunsSamplesAtOnceInOrder) {
    auto fn = make_reward(code_spec());
    std::vector<RewardInput> batch;
    for (int i = 0; i < 6; ++i)
        batch.push_back(sample(fenced(i % 2 ? "print(input())\n" : "print('ok')\n"), kOneTest));
    std::vector<RewardResult> out = fn->score_batch(batch);
    ASSERT_EQ(out.size(), batch.size());
    for (size_t i = 0; i < out.size(); ++i)
        EXPECT_EQ(out[i].correct, i % 2 == 0) << i << ": " << out[i].detail;
}

TEST_F(CodeExec, IsolationNoneRunsWithLimitsOnly) {
    RewardSpec spec = code_spec();
    spec.code_exec_isolation = "none";
    EXPECT_TRUE(score(fenced("print('ok')\n"), kOneTest, spec).correct);
    expect_stopped(score(fenced("import socket\nsocket.socket()\n"), kOneTest, spec), RewardStatus::error,
                   "forbidden system call");
}

TEST(CodeExecConfig, KeysReachTheSpec) {
    JobConfig cfg;
    cfg.reward.fn = "code_exec";
    cfg.reward.code_exec_isolation = "none";
    cfg.reward.code_exec_score = "all";
    cfg.reward.code_exec_memory_mb = 300;
    RewardSpec s = reward_spec_from_config(cfg);
    EXPECT_EQ(s.code_exec_isolation, "none");
    EXPECT_EQ(s.code_exec_score, "all");
    EXPECT_EQ(s.code_exec_memory_mb, 300);
    s.code_exec_isolation = "bubblewrap";
    try {
        make_reward(s);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("reward.code_exec_isolation: 'bubblewrap'"), std::string::npos)
            << e.what();
    }
}

TEST(CodeExecConfig, YamlKeysAndTheirChecks) {
    const std::string base =
        "tokenizer: tok.json\ndata:\n  train: gen:arith?n=10&seed=1\nreward:\n  fn: code_exec\n";
    JobConfig cfg = parse_job_config(base + "  code_exec_score: all\n  code_exec_memory_mb: 512\n", "t.yaml");
    EXPECT_EQ(cfg.reward.code_exec_score, "all");
    EXPECT_EQ(cfg.reward.code_exec_memory_mb, 512);
    EXPECT_EQ(cfg.reward.code_exec_isolation, "namespaces");  // isolation unless opted out
    auto error_of = [&](const std::string& extra) {
        return test::error_message([&] { parse_job_config(base + extra, "t.yaml"); });
    };
    EXPECT_NE(error_of("  code_exec_isolation: off\n").find("reward.code_exec_isolation"), std::string::npos);
    EXPECT_NE(error_of("  code_exec_memory_mb: 16\n").find("reward.code_exec_memory_mb"), std::string::npos);
    EXPECT_NE(error_of("  timeout_s: 0.1\n").find("reward.timeout_s: 0.1 s is too short for code_exec"),
              std::string::npos)
        << error_of("  timeout_s: 0.1\n");
}
