// The `stride` command line (scheduler/main.cpp, model/cli/parser.h): every command answers --help with
// its usage and every flag (exit 0), `stride help CMD` says the same, --version prints the build, and
// a command line with several problems reports all of them in one error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_test_util.h"

namespace {

using stride::test::CliResult;

CliResult stride(const std::string& args) {
    return stride::test::run_stride_cli(args, "", "cli_help");
}

struct Expected {
    std::string command;             // what follows `stride`
    std::vector<std::string> words;  // flags (and positionals) its help must list
};

const std::vector<Expected> kCommands = {
    {"run", {"CONFIG", "OVERRIDES"}},
    {"eval", {"CONFIG", "checkpoint=DIR"}},
    {"role", {"ROLE", "--config", "--worker", "--scheduler", "--advertise"}},
    {"launch", {"ENGINE", "CONFIG", "--nodes", "--overcommit", "--wait", "--port", "--script", "--dry-run"}},
    {"data gen", {"--task", "--n", "--seed", "--digits", "--op", "--max-len", "--spec", "--out"}},
    {"reward score", {"--fn", "--timeout-s", "--workers", "--memory-mb", "--correct", "--incorrect"}},
    {"config check", {"CONFIG", "OVERRIDES"}},
    {"config keys", {}},
    {"report", {"RUN_DIR", "--out"}},
    {"plot", {"RUN_DIR", "--width", "--height"}},
    {"chat render", {"--tokenizer-config", "--add-generation-prompt"}},
    {"init-model",
     {"--arch", "--hidden", "--layers", "--heads", "--kv-heads", "--intermediate", "--vocab", "--seed",
      "--out", "--head-dim", "--tie", "--dtype", "--rope-theta", "--max-position", "--eos", "--bos",
      "--shard-bytes"}},
    {"logprobs", {"--model", "--temperature", "--chunk", "--device"}},
    {"generate",
     {"--model", "--tokenizer", "--prompt", "--prompt-ids", "--max-tokens", "--temperature", "--top-p",
      "--top-k", "--seed", "--kv-mb", "--device", "--chat", "--json"}},
    {"tokenize", {"--tokenizer", "--model", "--split-special"}},
    {"detokenize", {"--tokenizer", "--model", "--skip-special"}},
};

class CliHelp : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!std::filesystem::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
    }
};

TEST_F(CliHelp, EveryCommandAnswersHelpWithItsUsageAndFlags) {
    for (const Expected& c : kCommands) {
        for (const char* flag : {"--help", "-h"}) {
            const CliResult r = stride(c.command + " " + flag);
            EXPECT_EQ(r.exit_code, 0) << c.command << " " << flag << ": " << r.err;
            EXPECT_EQ(r.out.rfind("usage: stride " + c.command, 0), 0u) << c.command << ":\n" << r.out;
            for (const std::string& w : c.words)
                EXPECT_NE(r.out.find(w), std::string::npos) << c.command << ": " << w;
        }
        // `stride help CMD` is `stride CMD --help`.
        const CliResult h = stride("help " + c.command);
        EXPECT_EQ(h.exit_code, 0) << c.command << ": " << h.err;
        EXPECT_EQ(h.out, stride(c.command + " --help").out) << c.command;
    }
    // Commands with subcommands list them.
    for (const char* c : {"data", "reward", "config", "chat"}) {
        const CliResult r = stride(std::string(c) + " --help");
        EXPECT_EQ(r.exit_code, 0) << c;
        EXPECT_EQ(r.out.rfind(std::string("usage: stride ") + c, 0), 0u) << r.out;
    }
}

TEST_F(CliHelp, TopLevelHelpListsEveryCommand) {
    for (const char* args : {"--help", "-h", "help"}) {
        const CliResult r = stride(args);
        EXPECT_EQ(r.exit_code, 0) << args;
        EXPECT_NE(r.out.find("stride --version"), std::string::npos) << r.out;
        for (const char* c : {"run", "role", "eval", "data", "reward", "config", "report", "plot", "launch",
                              "chat", "init-model", "logprobs", "generate", "tokenize", "detokenize"})
            EXPECT_NE(r.out.find(std::string("  ") + c + " "), std::string::npos) << c << "\n" << r.out;
    }
    const CliResult none = stride("");
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.err.find("usage: stride <command>"), std::string::npos) << none.err;
    const CliResult unknown = stride("frobnicate");
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
}

TEST_F(CliHelp, VersionPrintsOneLine) {
    const CliResult r = stride("--version");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(
        std::regex_match(r.out, std::regex("stride \\S.* \\(\\w*, CUDA (on|off), tokenizer (on|off)\\)\n")))
        << r.out;
}

TEST_F(CliHelp, TwoMissingRequiredFlagsAreReportedInOneError) {
    const CliResult r =
        stride("init-model --arch llama --hidden 8 --layers 1 --heads 2 --kv-heads 2 --vocab 8");
    EXPECT_EQ(r.exit_code, 2);  // a bad command line: the usage exit code
    EXPECT_NE(r.err.find("missing --intermediate, --seed, --out"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage: stride init-model"), std::string::npos) << r.err;
    const CliResult d = stride("data gen");
    EXPECT_EQ(d.exit_code, 2);
    EXPECT_NE(d.err.find("missing --task, --n"), std::string::npos) << d.err;
}

TEST_F(CliHelp, EveryBadFlagIsReportedAtOnce) {
    const CliResult r = stride("generate --model /nowhere --top-k many --temperature hot --colour red");
    EXPECT_EQ(r.exit_code, 2);
    for (const char* e : {"unknown flag --colour", "--top-k expects an integer, got 'many'",
                          "--temperature expects a number, got 'hot'"})
        EXPECT_NE(r.err.find(e), std::string::npos) << e << "\n" << r.err;
    EXPECT_EQ(r.err.find("/nowhere"), std::string::npos) << "nothing runs on a bad command line: " << r.err;
    const CliResult v = stride("generate --model");
    EXPECT_EQ(v.exit_code, 2);
    EXPECT_NE(v.err.find("--model needs a value"), std::string::npos) << v.err;
    // One style across commands: engine and job commands reject an unknown flag the same way.
    for (const char* c : {"logprobs --model /nowhere --colour red", "report /nowhere --colour red",
                          "reward score --fn math --colour red"}) {
        const CliResult u = stride(c);
        EXPECT_EQ(u.exit_code, 2) << c;
        EXPECT_NE(u.err.find("unknown flag --colour"), std::string::npos) << c << ": " << u.err;
    }
}

// Exit codes: 2 for a command line that is wrong (fix the call), 1 for a run that failed.
TEST_F(CliHelp, UsageErrorsExitTwoAndRuntimeErrorsExitOne) {
    for (const char* c : {"role frobnicate --config /nowhere", "launch pbs /nowhere", "run", "tokenize",
                          "data frobnicate", "config frobnicate"}) {
        const CliResult u = stride(c);
        EXPECT_EQ(u.exit_code, 2) << c << ": " << u.err;
    }
    // Well-formed command lines whose work fails: a missing file, a run config that does not exist.
    for (const char* c :
         {"generate --model /nowhere --prompt x", "run /nowhere/job.yaml", "report /nowhere"}) {
        const CliResult r = stride(c);
        EXPECT_EQ(r.exit_code, 1) << c << ": " << r.err;
        EXPECT_NE(r.err.find("/nowhere"), std::string::npos) << c << ": " << r.err;
    }
}

}  // namespace
