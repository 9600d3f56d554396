// `stride tokenize` / `stride detokenize` through the real binary: JSON lines in, JSON lines out, a
// text -> ids -> text round trip, and a bad line reported by number with exit code 1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli_test_util.h"

namespace {

using stride::test::CliResult;

// Runs `stride <args>` with `input` on stdin.
CliResult run_stride(const std::string& args, const std::string& input) {
    return stride::test::run_stride_cli(args, input, "tokenizer_cli");
}

const std::string kArith = STRIDE_SOURCE_DIR "/configs/tokenizers/arith/tokenizer.json";

TEST(TokenizerCli, TokenizeThenDetokenize) {
    ASSERT_TRUE(std::filesystem::exists(STRIDE_BIN)) << "build the stride binary first: " << STRIDE_BIN;
    CliResult t = run_stride("tokenize --tokenizer '" + kArith + "'",
                             "\"12+3=15<|endoftext|>\"\n\"<|im_start|>user\\n7*8<|im_end|>\"\n\"\"\n");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_EQ(t.out, "[1,2,10,3,11,1,5,43]\n[45,36,34,20,33,15,7,12,8,46]\n[]\n");

    CliResult d = run_stride("detokenize --tokenizer '" + kArith + "'", t.out);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out, "\"12+3=15<|endoftext|>\"\n\"<|im_start|>user\\n7*8<|im_end|>\"\n\"\"\n");

    CliResult s = run_stride("detokenize --skip-special --tokenizer '" + kArith + "'", t.out);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(s.out, "\"12+3=15\"\n\"user\\n7*8\"\n\"\"\n");

    CliResult p = run_stride("tokenize --split-special --tokenizer '" + kArith + "'", "\"<|pad|>\"\n");
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(p.out, "[42,42,31,16,19,42,42]\n");  // '<' '|' p a d '|' '>' with <|unk|> for '<', '|', '>'
}

TEST(TokenizerCli, BadLinesAreReportedByNumber) {
    ASSERT_TRUE(std::filesystem::exists(STRIDE_BIN)) << "build the stride binary first: " << STRIDE_BIN;
    CliResult t = run_stride("tokenize --tokenizer '" + kArith + "'", "\"1+1\"\nnot json\n\"2+2\"\n");
    EXPECT_EQ(t.exit_code, 1);
    EXPECT_EQ(t.out, "[1,10,1]\n");
    EXPECT_NE(t.err.find("line 2"), std::string::npos) << t.err;

    CliResult n = run_stride("tokenize --tokenizer '" + kArith + "'", "[1, 2]\n");
    EXPECT_EQ(n.exit_code, 1);
    EXPECT_NE(n.err.find("line 1: expected a JSON string"), std::string::npos) << n.err;

    CliResult d = run_stride("detokenize --tokenizer '" + kArith + "'", "[1, 2]\n[3, -4]\n");
    EXPECT_EQ(d.exit_code, 1);
    EXPECT_NE(d.err.find("line 2: token ids must be non-negative integers"), std::string::npos) << d.err;

    CliResult f = run_stride("tokenize --tokenizer /nonexistent/tokenizer.json", "\"1\"\n");
    EXPECT_EQ(f.exit_code, 1);
    EXPECT_NE(f.err.find("/nonexistent/tokenizer.json: cannot open"), std::string::npos) << f.err;
}

// A command that takes --model DIR reads DIR/tokenizer.json when --tokenizer is not given.
TEST(TokenizerCli, ModelDirTokenizerIsTheDefault) {
    ASSERT_TRUE(std::filesystem::exists(STRIDE_BIN)) << "build the stride binary first: " << STRIDE_BIN;
    const auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_cli" / "model";
    std::filesystem::remove_all(dir);
    CliResult m = run_stride(
        "init-model --arch qwen2 --hidden 16 --layers 1 --heads 2 --kv-heads 2 "
        "--intermediate 32 --vocab 47 --eos 43 --seed 1 --out '" +
            dir.string() + "'",
        "");
    ASSERT_EQ(m.exit_code, 0) << m.err;
    // Without tokenizer.json, --prompt says where it looked.
    CliResult none = run_stride("generate --model '" + dir.string() + "' --prompt 1+2= --max-tokens 2", "");
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_NE(none.err.find(dir.string() + "/tokenizer.json"), std::string::npos) << none.err;

    std::filesystem::copy_file(kArith, dir / "tokenizer.json");
    CliResult g =
        run_stride("generate --model '" + dir.string() + "' --prompt 1+2= --max-tokens 2 --json", "");
    ASSERT_EQ(g.exit_code, 0) << g.err;
    EXPECT_NE(g.out.find("\"prompt_tokens\":[1,10,2,11]"), std::string::npos) << g.out;
    CliResult t = run_stride("tokenize --model '" + dir.string() + "'", "\"12+3=15<|endoftext|>\"\n");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_EQ(t.out, "[1,2,10,3,11,1,5,43]\n");
    CliResult neither = run_stride("tokenize", "");
    EXPECT_EQ(neither.exit_code, 2);  // a usage error
    EXPECT_NE(neither.err.find("missing --tokenizer (or --model DIR)"), std::string::npos) << neither.err;
}

}  // namespace
