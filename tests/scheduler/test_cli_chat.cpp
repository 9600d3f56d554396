// `stride chat render`: JSON lines of conversations in, each rendering out as a JSON string, with the
// chat_template of the tokenizer_config.json given; errors name the input line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/cli_test_util.h"

namespace {

using stride::test::CliResult;

const std::string kQwen25 = std::string(STRIDE_SOURCE_DIR) + "/tests/job/data/qwen2_5/tokenizer_config.json";

CliResult chat(const std::string& args, const std::string& input) {
    return stride::test::run_stride_cli("chat render " + args, input, "cli_chat");
}

class CliChat : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!std::filesystem::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
    }
};

TEST_F(CliChat, RendersEachLineAsAJsonString) {
    const std::string input =
        R"({"messages": [{"role": "user", "content": "2+2?"}]})"
        "\n\n"
        R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]})"
        "\n";
    const CliResult r = chat("--tokenizer-config " + kQwen25 + " --add-generation-prompt", input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string l1, l2, extra;
    ASSERT_TRUE(std::getline(lines, l1) && std::getline(lines, l2));
    EXPECT_FALSE(std::getline(lines, extra));
    EXPECT_EQ(
        nlohmann::json::parse(l1).get<std::string>(),
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(
        nlohmann::json::parse(l2).get<std::string>(),
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n"
        "<|im_start|>assistant\n");
    // Without --add-generation-prompt the assistant's turn is not opened; tools reach the template.
    const CliResult t = chat("--tokenizer-config " + kQwen25,
                             R"({"messages": [{"role": "user", "content": "q"}], "tools": [{"name": "f"}]})");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const std::string text = nlohmann::json::parse(t.out).get<std::string>();
    EXPECT_NE(text.find("<tools>\n{\"name\": \"f\"}\n</tools>"), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("<|im_start|>user\nq<|im_end|>\n")) << text;
}

TEST_F(CliChat, ErrorsNameTheLineAndTheProblem) {
    const CliResult bad =
        chat("--tokenizer-config " + kQwen25, R"({"messages": [{"role": "user", "content": "q"}]})"
                                              "\n{oops\n");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("stdin:2: not valid JSON"), std::string::npos) << bad.err;
    const CliResult shape = chat("--tokenizer-config " + kQwen25, R"({"msgs": []})");
    EXPECT_EQ(shape.exit_code, 1);
    EXPECT_NE(shape.err.find("stdin:1: expected an object with a list 'messages'"), std::string::npos)
        << shape.err;
    const CliResult missing = chat("", "");
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("--tokenizer-config"), std::string::npos) << missing.err;
    const CliResult nofile = chat("--tokenizer-config /nowhere/tokenizer_config.json", "");
    EXPECT_EQ(nofile.exit_code, 1);
    EXPECT_NE(nofile.err.find("/nowhere/tokenizer_config.json: cannot open"), std::string::npos)
        << nofile.err;
    // A template raising an exception: its message, and the line.
    const auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "cli_chat";
    std::filesystem::create_directories(dir);
    const std::string cfg = (dir / "raising_tokenizer_config.json").string();
    std::ofstream(cfg)
        << R"({"chat_template": "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}ok"})";
    const CliResult raised =
        chat("--tokenizer-config " + cfg, R"({"messages": [{"role": "user", "content": "q"}]})"
                                          "\n"
                                          R"({"messages": [{"role": "assistant", "content": "a"}]})");
    EXPECT_EQ(raised.exit_code, 1);
    EXPECT_EQ(raised.out, "\"ok\"\n");
    EXPECT_NE(raised.err.find("stdin:2: " + cfg +
                              ": chat_template: line 1, column 39: raise_exception: first must be user"),
              std::string::npos)
        << raised.err;
}

}  // namespace
