// `stride generate --chat` renders the prompt with the model's own chat_template (tokenizer_config.json
// beside tokenizer.json), default system prompt included, as a job's data.chat_template: auto does; a
// checkpoint without one gets the built-in ChatML wrap. Checked on the prompt token ids --json prints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using stride::test::CliResult;
using stride::test::run_stride_cli;

// A template in the arith tokenizer's alphabet, with a default system turn the built-in wrap lacks.
const char* kTokenizerConfig = R"({
  "bos_token": null,
  "eos_token": "<|im_end|>",
  "chat_template": "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nyou add numbers<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
})";

class CliGenerate : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!fs::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
        dir_ = (fs::path(STRIDE_BINARY_DIR) / "tests" / "cli_generate" / ("m" + std::to_string(getpid())))
                   .string();
        fs::remove_all(dir_);
        const CliResult init = run_stride_cli(
            "init-model --arch qwen2 --hidden 8 --layers 1 --heads 2 --kv-heads 1 "
            "--intermediate 16 --vocab 47 --seed 1 --out " +
                dir_,
            "", "cli_generate");
        ASSERT_EQ(init.exit_code, 0) << init.err;
        fs::copy_file(std::string(STRIDE_SOURCE_DIR) + "/configs/tokenizers/arith/tokenizer.json",
                      dir_ + "/tokenizer.json");
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The prompt ids `generate --chat` fed the model.
    nlohmann::json chat_prompt_ids() {
        const CliResult r = run_stride_cli(
            "generate --model " + dir_ + " --prompt 'what is 1+2' --chat --json --max-tokens 1", "",
            "cli_generate");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out.substr(0, r.out.find('\n')))["prompt_tokens"];
    }
    nlohmann::json ids_of(const std::string& text) {
        const CliResult r = run_stride_cli("tokenize --tokenizer " + dir_ + "/tokenizer.json",
                                           nlohmann::json(text).dump() + "\n", "cli_generate");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
    }
    std::string dir_;
};

TEST_F(CliGenerate, ChatUsesTheModelsOwnTemplate) {
    std::ofstream(dir_ + "/tokenizer_config.json") << kTokenizerConfig;
    EXPECT_EQ(
        chat_prompt_ids(),
        ids_of("<|im_start|>system\nyou add numbers<|im_end|>\n<|im_start|>user\nwhat is 1+2<|im_end|>\n"
               "<|im_start|>assistant\n"));
}

TEST_F(CliGenerate, ChatWithoutATemplateUsesTheBuiltInWrap) {
    EXPECT_EQ(chat_prompt_ids(), ids_of("<|im_start|>user\nwhat is 1+2<|im_end|>\n<|im_start|>assistant\n"));
}

TEST_F(CliGenerate, ATemplateOutsideTheSubsetIsAnError) {
    std::ofstream(dir_ + "/tokenizer_config.json") << R"({"chat_template": "{% include 'x' %}"})";
    const CliResult r = run_stride_cli("generate --model " + dir_ + " --prompt 'what' --chat --max-tokens 1",
                                       "", "cli_generate");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("include"), std::string::npos) << r.err;
}

}  // namespace
