// `stride config keys` and `stride config check`: the binary agrees with the library.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "common/config_schema.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

std::string run_capture(const std::string& cmd, int& rc) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    rc = pclose(p);
    return out;
}

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

}  // namespace
}  // namespace stride
