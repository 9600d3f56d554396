// `stride config keys` and `stride config check`: the binary agrees with the library.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/config_schema.h"
#include "scheduler/job_config.h"
#include "tests/cli_test_util.h"

namespace stride {
namespace {

using stride::test::run_capture;

class ConfigCli : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!std::filesystem::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
    }
    std::string bin = STRIDE_BIN;
    std::string quickstart = std::string(STRIDE_SOURCE_DIR) + "/configs/quickstart.yaml";
};

TEST_F(ConfigCli, KeysPrintsTheSchemaTable) {
    int rc = 0;
    EXPECT_EQ(run_capture(bin + " config keys", rc), config_keys_markdown(job_config_choices()));
    EXPECT_EQ(rc, 0);
}

TEST_F(ConfigCli, CheckPrintsTheResolvedConfigWithOverrides) {
    int rc = 0;
    // Run from the source dir: the quickstart's tokenizer path is relative to it.
    std::string out = run_capture("cd " + std::string(STRIDE_SOURCE_DIR) + " && " + bin + " config check " +
                                      quickstart + " trainer.lr=3e-4 2>/dev/null",
                                  rc);
    ASSERT_EQ(rc, 0) << out;
    JobConfig printed = parse_job_config(out, "stdout");
    EXPECT_EQ(printed, load_job_config(quickstart, {"trainer.lr=3e-4"}));
    EXPECT_DOUBLE_EQ(printed.trainer.lr, 3e-4);
}

TEST_F(ConfigCli, CheckFailsNamingTheKey) {
    int rc = 0;
    std::string err = run_capture(bin + " config check " + quickstart + " trainer.lr=abc 2>&1", rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("trainer.lr: expected a number, got \"abc\""), std::string::npos) << err;
    err = run_capture(bin + " config check " + quickstart + " reward.fn=maths 2>&1", rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("reward.fn: unknown reward 'maths'"), std::string::npos) << err;
}

// `config check` checks every path the run will open, naming the key, all problems in one error.
TEST_F(ConfigCli, CheckFailsNamingAMissingTokenizerAndEveryMissingPath) {
    int rc = 0;
    std::string err =
        run_capture(bin + " config check " + quickstart + " tokenizer=/nonexistent/tokenizer.json 2>&1", rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("tokenizer: /nonexistent/tokenizer.json: no such file"), std::string::npos) << err;
    // A job on a checkpoint: model.path, its config.json, the default tokenizer, the data files.
    const auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "config_cli";
    std::filesystem::create_directories(dir / "empty_model");
    const std::string yaml = (dir / "paths.yaml").string();
    std::ofstream(yaml) << "name: paths\nmodel: {path: /nonexistent/model}\n"
                           "data: {train: /nonexistent/train.jsonl, eval: /nonexistent/eval.jsonl}\n";
    err = run_capture(bin + " config check " + yaml + " 2>&1", rc);
    EXPECT_NE(rc, 0);
    for (const char* e :
         {"model.path: /nonexistent/model: no such file",
          "tokenizer (default {model.path}/tokenizer.json): /nonexistent/model/tokenizer.json",
          "data.train: /nonexistent/train.jsonl: no such file",
          "data.eval: /nonexistent/eval.jsonl: no such file"})
        EXPECT_NE(err.find(e), std::string::npos) << e << "\n" << err;
    // A model directory without config.json.
    const std::string empty = (dir / "empty_model").string();
    err = run_capture(bin + " config check " + yaml + " model.path=" + empty + " 2>&1", rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("model.path: " + empty + "/config.json: no such file"), std::string::npos) << err;
    err = run_capture(bin + " config check " + quickstart + " reward.fn=python:/nonexistent/r.py:score 2>&1",
                      rc);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("reward.fn: /nonexistent/r.py: no such file"), std::string::npos) << err;
}

}  // namespace
}  // namespace stride
