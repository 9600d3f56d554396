// Bad input to the tokenizer gets a stride::Error that names the file and the problem: malformed or
// unsupported tokenizer.json files, invalid UTF-8 text, negative ids, bad chat roles. Needs no oracle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/base/error.h"
#include "model/tokenizer/chat_template.h"
#include "model/tokenizer/tokenizer.h"

namespace {

using nlohmann::json;
using stride::Tokenizer;

// A minimal valid byte-level BPE file: bytes "a", "b", merge a+b, one special token.
json minimal() {
    return json::parse(R"({
      "added_tokens": [{"id": 3, "content": "<|end|>", "special": true, "normalized": false}],
      "normalizer": {"type": "NFC"},
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}
    })");
}

std::string write_file(const std::string& name, const std::string& text) {
    auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_errors";
    std::filesystem::create_directories(dir);
    std::string path = (dir / (name + "_" + std::to_string(getpid()) + ".json")).string();
    std::ofstream(path) << text;
    return path;
}

// Loads `text` from a file and expects an Error whose message has the path and `problem`.
void expect_load_error(const std::string& name, const std::string& text, const std::string& problem) {
    std::string path = write_file(name, text);
    try {
        Tokenizer::load(path);
        ADD_FAILURE() << name << ": loaded without error";
    } catch (const stride::Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << name << ": message lacks the file: " << msg;
        EXPECT_NE(msg.find(problem), std::string::npos)
            << name << ": message lacks '" << problem << "': " << msg;
    }
}

void expect_load_error(const std::string& name, const std::function<void(json&)>& edit,
                       const std::string& problem) {
    json j = minimal();
    edit(j);
    expect_load_error(name, j.dump(), problem);
}

TEST(TokenizerErrors, MinimalFileLoadsAndWorks) {
    Tokenizer tok = Tokenizer::load(write_file("minimal", minimal().dump()));
    EXPECT_EQ(tok.encode("abab<|end|>a"), (std::vector<int>{2, 2, 3, 0}));
    EXPECT_EQ(tok.decode({2, 3, 0}), "ab<|end|>a");
    EXPECT_EQ(tok.decode({2, 3, 0}, true), "aba");
    EXPECT_EQ(tok.vocab_size(), 4);
    // "c" is in no vocab and there is no unk_token: HF drops such characters before merging (so "a"
    // and "b" still merge), and so do we.
    EXPECT_EQ(tok.encode("acb"), (std::vector<int>{2}));
}

TEST(TokenizerErrors, UnreadableOrNotJson) {
    try {
        Tokenizer::load("/nonexistent/dir/tokenizer.json");
        ADD_FAILURE() << "loaded a missing file";
    } catch (const stride::Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/tokenizer.json: cannot open"),
                  std::string::npos)
            << e.what();
    }
    expect_load_error("bad_json", "{\"model\": {\"type\": \"BPE\",", "invalid JSON");
    expect_load_error("empty", "", "invalid JSON");
    expect_load_error("array", "[1, 2]", "must hold a JSON object");
}

TEST(TokenizerErrors, MalformedModel) {
    expect_load_error(
        "no_model", [](json& j) { j.erase("model"); }, "missing \"model\"");
    expect_load_error(
        "no_vocab", [](json& j) { j["model"].erase("vocab"); }, "no \"vocab\"");
    expect_load_error(
        "no_merges", [](json& j) { j["model"].erase("merges"); }, "no \"merges\"");
    expect_load_error(
        "vocab_id_string", [](json& j) { j["model"]["vocab"]["a"] = "zero"; }, "integer id");
    expect_load_error(
        "vocab_id_negative", [](json& j) { j["model"]["vocab"]["a"] = -1; }, "integer id");
    expect_load_error(
        "vocab_id_twice", [](json& j) { j["model"]["vocab"]["ab"] = 1; }, "used by both");
    expect_load_error(
        "merge_unknown_left",
        [](json& j) {
            j["model"]["merges"] = json::array({json::array({"x", "b"})});
        },
        "merge 0 references 'x', which is not in the vocab");
    expect_load_error(
        "merge_unknown_right", [](json& j) { j["model"]["merges"].push_back("a y"); },
        "merge 1 references 'y', which is not in the vocab");
    expect_load_error(
        "merge_no_product",
        [](json& j) {
            j["model"]["merges"] = json::array({json::array({"b", "a"})});
        },
        "produces 'ba', which is not in the vocab");
    expect_load_error(
        "merge_three_parts", [](json& j) { j["model"]["merges"] = json::array({"a b c"}); },
        "not two tokens separated by one space");
    expect_load_error(
        "merge_not_pair", [](json& j) { j["model"]["merges"] = json::array({json::array({"a"})}); },
        "merge 0 must be");
    expect_load_error(
        "unk_missing", [](json& j) { j["model"]["unk_token"] = "<unk>"; },
        "unk_token '<unk>' is not in the vocab");
}

// Issue #15: a vocab id of 1e9 used to allocate a billion-slot table and die with a bare bad_alloc.
TEST(TokenizerErrors, VocabIdFarBeyondTheEntriesIsNamed) {
    expect_load_error(
        "vocab_id_huge", [](json& j) { j["model"]["vocab"]["ab"] = 1000000000; },
        "vocab entry 'ab' has id 1000000000, far beyond the 3 entries");
    expect_load_error(
        "vocab_id_past_slack", [](json& j) { j["model"]["vocab"]["ab"] = 3 + 65536; }, "far beyond");
    expect_load_error(
        "vocab_id_beyond_int", [](json& j) { j["model"]["vocab"]["ab"] = 1LL << 40; }, "integer id");
}

TEST(TokenizerErrors, UnsupportedComponentsAreNamed) {
    expect_load_error(
        "wordpiece", [](json& j) { j["model"]["type"] = "WordPiece"; }, "unsupported model type 'WordPiece'");
    expect_load_error(
        "unigram",
        [](json& j) {
            j["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
        },
        "unsupported model type 'Unigram'");
    expect_load_error(
        "byte_fallback", [](json& j) { j["model"]["byte_fallback"] = true; }, "byte_fallback");
    expect_load_error(
        "dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, "dropout");
    expect_load_error(
        "subword_prefix", [](json& j) { j["model"]["continuing_subword_prefix"] = "##"; },
        "continuing_subword_prefix");
    expect_load_error(
        "normalizer",
        [](json& j) {
            j["normalizer"] = {{"type", "Lowercase"}};
        },
        "unsupported normalizer type 'Lowercase'");
    expect_load_error(
        "normalizer_in_sequence",
        [](json& j) {
            j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "BertNormalizer"}}}}};
        },
        "unsupported normalizer type 'BertNormalizer'");
    expect_load_error(
        "pre_tokenizer",
        [](json& j) {
            j["pre_tokenizer"] = {{"type", "Metaspace"}};
        },
        "unsupported pre_tokenizer type 'Metaspace'");
    expect_load_error(
        "decoder",
        [](json& j) {
            j["decoder"] = {{"type", "WordPiece"}};
        },
        "unsupported decoder type 'WordPiece'");
    expect_load_error(
        "bad_regex",
        [](json& j) {
            j["pre_tokenizer"] = {{"type", "Split"},
                                  {"pattern", {{"Regex", "(unclosed"}}},
                                  {"behavior", "Isolated"},
                                  {"invert", false}};
        },
        "pre_tokenizer regex (unclosed");
    expect_load_error(
        "bad_behavior",
        [](json& j) {
            j["pre_tokenizer"] = {{"type", "Split"},
                                  {"pattern", {{"String", " "}}},
                                  {"behavior", "Sideways"},
                                  {"invert", false}};
        },
        "unknown Split behavior 'Sideways'");
}

TEST(TokenizerErrors, MalformedAddedTokens) {
    expect_load_error(
        "added_not_array",
        [](json& j) {
            j["added_tokens"] = {{"x", 1}};
        },
        "must be an array");
    expect_load_error(
        "added_no_content", [](json& j) { j["added_tokens"][0].erase("content"); },
        "added_tokens[0] needs a string \"content\"");
    expect_load_error(
        "added_no_id", [](json& j) { j["added_tokens"][0].erase("id"); }, "needs an integer \"id\"");
    // HF would renumber this token to 3; silently disagreeing with it would corrupt every prompt.
    expect_load_error(
        "added_wrong_id", [](json& j) { j["added_tokens"][0]["id"] = 7; },
        "has id 7 but HF tokenizers would give it id 3");
    expect_load_error(
        "added_twice", [](json& j) { j["added_tokens"].push_back(j["added_tokens"][0]); }, "listed twice");
    expect_load_error(
        "wrong_type", [](json& j) { j["added_tokens"][0]["special"] = "yes"; }, "unexpected structure");
}

TEST(TokenizerErrors, BadTextAndIds) {
    Tokenizer tok = Tokenizer::load(write_file("minimal", minimal().dump()));
    EXPECT_THROW(tok.encode(std::string("a\xff") + "b"), stride::Error);
    EXPECT_THROW(tok.encode("\xc3"), stride::Error);          // truncated sequence
    EXPECT_THROW(tok.encode("\xed\xa0\x80"), stride::Error);  // UTF-16 surrogate
    EXPECT_THROW(tok.decode({0, -1}), stride::Error);
    EXPECT_EQ(tok.decode({0, 1000, 1}), "ab");  // ids past the vocabulary are skipped, as in HF
    EXPECT_THROW(stride::apply_chat_template({{"", "hi"}}, true), stride::Error);
    EXPECT_THROW(stride::apply_chat_template({{"user\n", "hi"}}, true), stride::Error);
    EXPECT_EQ(stride::apply_chat_template({{"system", "S"}, {"user", "U"}, {"assistant", "A"}}, false),
              "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_"
              "end|>\n");
}

}  // namespace
