// Every supported tokenizer.json component, one variant at a time, checked against HF tokenizers:
// small synthetic byte-level BPE files with Split behaviours (Removed, Isolated, MergedWithPrevious,
// MergedWithNext, Contiguous, invert, String patterns, empty regex matches), ByteLevel with
// add_prefix_space and the GPT-2 regex, NFC/NFD/NFKC normalizer sequences, added tokens with
// lstrip/rstrip/single_word/normalized, unk_token with and without fuse_unk, ignore_merges, both merge
// formats, and the no-decoder case. One node run covers all variants.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/tokenizer.h"
#include "tests/tokenizer_oracle/oracle.h"

namespace {

using nlohmann::json;

std::string bl(const std::string& bytes) {
    std::string out;
    stride::tok::byte_level_encode(bytes, out);
    return out;
}

json byte_level(bool add_prefix_space, bool use_regex) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", add_prefix_space},
            {"trim_offsets", false},
            {"use_regex", use_regex}};
}

json split(const std::string& kind, const std::string& pattern, const std::string& behavior,
           bool invert = false) {
    return {{"type", "Split"}, {"pattern", {{kind, pattern}}}, {"behavior", behavior}, {"invert", invert}};
}

json sequence_with_byte_level(json split_step) {
    return {{"type", "Sequence"}, {"pretokenizers", {std::move(split_step), byte_level(false, false)}}};
}

json added(int id, const std::string& content, bool special, bool normalized, bool lstrip = false,
           bool rstrip = false, bool single_word = false) {
    return {{"id", id},         {"content", content},       {"single_word", single_word}, {"lstrip", lstrip},
            {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

struct Options {
    json normalizer = nullptr;
    json pre_tokenizer = byte_level(false, true);
    json decoder = byte_level(false, true);
    bool string_merges = false;
    bool ignore_merges = false;
    bool drop_high_bytes = false;  // leave bytes >= 0x80 out of the vocab, so that unk_token is used
    bool fuse_unk = false;
    bool with_added_tokens = true;
};

// A byte-level BPE tokenizer.json with a handful of merges, built the way HF lays one out.
json make_tokenizer(const Options& o) {
    json vocab = json::object();
    int next = 0;
    for (int b = 0; b < 256; ++b) {
        if (o.drop_high_bytes && b >= 0x80) continue;
        vocab[bl(std::string(1, static_cast<char>(b)))] = next++;
    }
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {" ", "t"},  {"h", "e"},   {" t", "he"}, {"i", "n"}, {" ", "a"},      {"a", "n"},
        {"e", "r"},  {" ", " "},   {"  ", "  "}, {"1", "2"}, {"12", "3"},     {"o", "r"},
        {" ", "w"},  {" w", "or"}, {"l", "d"},   {"o", "n"}, {"\n", "\n"},    {"f", "i"},
        {"fi", "x"}, {"w", "or"},  {"wor", "d"}, {"é", "t"}, {"\xc3", "\xa9"}};
    json merges = json::array();
    for (const auto& [a, b] : pairs) {
        std::string ta = bl(a), tb = bl(b);
        if (!vocab.contains(ta) || !vocab.contains(tb)) continue;  // a dropped byte
        if (!vocab.contains(ta + tb)) vocab[ta + tb] = next++;
        merges.push_back(o.string_merges ? json(ta + " " + tb) : json::array({ta, tb}));
    }
    vocab[bl(" world")] = next++;  // reachable only through ignore_merges (no " wor"+"ld" merge)
    vocab["<unk>"] = next++;
    json added_tokens = json::array();
    if (o.with_added_tokens) {
        // An added token that is also a vocab entry ("word") keeps its vocab id, as HF assigns it.
        int id = next;
        auto add = [&](const std::string& content, bool special, bool normalized, bool lstrip = false,
                       bool rstrip = false, bool single_word = false) {
            int token_id = vocab.contains(content) ? vocab[content].get<int>() : id++;
            added_tokens.push_back(
                added(token_id, content, special, normalized, lstrip, rstrip, single_word));
        };
        add("<sp>", true, false);
        add("<ns>", false, false);
        add("[lstrip]", true, false, true, false);
        add("[rstrip]", false, false, false, true);
        add("word", false, false, false, false, true);
        add("zq", false, false, false, false, true);
        add("\ufb01x", false, true);  // normalized: NFKC makes it "fix"
        add("<sp><sp>x", true, false);
    }
    json model = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", o.drop_high_bytes ? json("<unk>") : json(nullptr)},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", o.fuse_unk},
                  {"byte_fallback", false},
                  {"ignore_merges", o.ignore_merges},
                  {"vocab", vocab},
                  {"merges", merges}};
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added_tokens},
            {"normalizer", o.normalizer},
            {"pre_tokenizer", o.pre_tokenizer},
            {"post_processor", nullptr},
            {"decoder", o.decoder},
            {"model", model}};
}

std::vector<std::pair<std::string, Options>> variants() {
    std::vector<std::pair<std::string, Options>> v;
    auto add = [&](const std::string& name, auto edit) {
        Options o;
        edit(o);
        v.emplace_back(name, o);
    };
    add("gpt2_byte_level", [](Options&) {});
    add("gpt2_add_prefix_space", [](Options& o) { o.pre_tokenizer = byte_level(true, true); });
    add("byte_level_no_regex", [](Options& o) { o.pre_tokenizer = byte_level(false, false); });
    add("split_removed",
        [](Options& o) { o.pre_tokenizer = sequence_with_byte_level(split("Regex", "\\s+", "Removed")); });
    add("split_isolated_string",
        [](Options& o) { o.pre_tokenizer = sequence_with_byte_level(split("String", "-", "Isolated")); });
    add("split_merged_with_previous", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("String", "-", "MergedWithPrevious"));
    });
    add("split_merged_with_next", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("Regex", "\\p{N}", "MergedWithNext"));
    });
    add("split_contiguous", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("Regex", "\\p{P}", "Contiguous"));
    });
    add("split_invert", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("Regex", "\\w+", "Isolated", true));
    });
    add("split_invert_removed", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("Regex", "[aeiou ]", "Removed", true));
    });
    add("split_empty_matches", [](Options& o) {
        o.pre_tokenizer = sequence_with_byte_level(split("Regex", "\\b", "MergedWithNext"));
    });
    add("split_then_prefix_space", [](Options& o) {
        o.pre_tokenizer = {
            {"type", "Sequence"},
            {"pretokenizers", {split("Regex", "\\s+", "MergedWithNext"), byte_level(true, false)}}};
    });
    add("nfkc", [](Options& o) { o.normalizer = {{"type", "NFKC"}}; });
    add("nfd", [](Options& o) { o.normalizer = {{"type", "NFD"}}; });
    add("nfd_then_nfc", [](Options& o) {
        o.normalizer = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFD"}}, {{"type", "NFC"}}}}};
    });
    add("string_merges_ignore_merges", [](Options& o) {
        o.string_merges = true;
        o.ignore_merges = true;
    });
    add("unk", [](Options& o) { o.drop_high_bytes = true; });
    add("unk_fused", [](Options& o) {
        o.drop_high_bytes = true;
        o.fuse_unk = true;
    });
    add("no_decoder", [](Options& o) { o.decoder = nullptr; });
    add("no_added_tokens_no_normalizer_no_pretokenizer", [](Options& o) {
        o.with_added_tokens = false;
        o.pre_tokenizer = nullptr;
    });
    return v;
}

std::vector<std::string> texts() {
    std::vector<std::string> t = {
        "",
        " ",
        "the world-wide web",
        "a-b--c-",
        "-lead",
        "123abc4 5",
        "hello, world!!! ok...",
        "  spaced   out  ",
        "fix \ufb01x \ufb01 fi",
        "x<sp>y<sp><sp>x<sp><sp>",
        "a [lstrip] b  [lstrip]",
        "a   [rstrip]   b[rstrip]",
        "word words sword word. (word)",
        "wordword",
        "caf\u00e9 cafe\u0301 na\u00efve \u212b",
        "\U0001F600 ok",
        "12345 12 123",
        " the the  the",
        "\t\n\n\r\n",
        "<ns><sp>[lstrip][rstrip]",
        "world  world\nworld",
        "\u00e9t\u00e9 \u00c9T\u00c9",
        "\u00e9zq! e\u0301zq _zq 1zq zq1 -zq- \u00b2zq \u2167zq zq\u00b2 \u0669zq zq",
        "\u6f22\u5b57 \u0928\u092e\u0938\u094d\u0924\u0947"};
    const std::vector<std::string> fragments = {
        "a",  "the",    " the",    "-",      "--", "1",          "23",     " ",        "  ",       "\n",
        "\t", "\u00e9", "e\u0301", "\ufb01", "x",  "<sp>",       "<ns>",   "[lstrip]", "[rstrip]", "word",
        "zq", "_",      "\u00b2",  "!",      ".",  "\U0001F600", "\u6f22", "world"};
    std::mt19937 rng(42);
    for (int i = 0; i < 60; ++i) {
        std::string s;
        for (int n = 1 + static_cast<int>(rng() % 12); n > 0; --n) s += fragments[rng() % fragments.size()];
        t.push_back(s);
    }
    return t;
}

TEST(TokenizerFeatures, EachComponentMatchesHfTokenizers) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    namespace fs = std::filesystem;
    fs::path dir = fs::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_oracle_io";
    fs::create_directories(dir);

    const auto cases = variants();
    const auto inputs = texts();
    json request = json::array();
    std::vector<stride::Tokenizer> toks;
    std::vector<std::vector<std::vector<int>>> decode_cases;
    std::mt19937 rng(3);
    for (const auto& [name, options] : cases) {
        std::string path = (dir / ("feature_" + name + "_" + std::to_string(getpid()) + ".json")).string();
        std::ofstream(path) << make_tokenizer(options).dump(1);
        toks.push_back(stride::Tokenizer::load(path));
        std::vector<std::vector<int>> dc;
        for (int c = 0; c < 30; ++c) {
            std::vector<int> ids;
            for (int n = 1 + static_cast<int>(rng() % 8); n > 0; --n)
                ids.push_back(static_cast<int>(rng() % (toks.back().vocab_size() + 2)));
            dc.push_back(ids);
        }
        decode_cases.push_back(dc);
        request.push_back({{"tokenizer", path}, {"texts", inputs}, {"decode", dc}});
    }
    json result = stride::test::run_hf_oracle(request);

    for (size_t v = 0; v < cases.size(); ++v) {
        const std::string& name = cases[v].first;
        int mismatches = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            std::vector<int> expected = result[v]["ids"][i], got = toks[v].encode(inputs[i]);
            if (got != expected && ++mismatches <= 3) {
                ADD_FAILURE() << name << ": text " << json(inputs[i]).dump()
                              << "\n  HF:   " << json(expected).dump() << "\n  ours: " << json(got).dump();
            }
        }
        EXPECT_EQ(mismatches, 0) << name;
        for (size_t i = 0; i < decode_cases[v].size(); ++i) {
            EXPECT_EQ(toks[v].decode(decode_cases[v][i]), result[v]["decoded"][i].get<std::string>())
                << name << ": decode " << json(decode_cases[v][i]).dump();
            EXPECT_EQ(toks[v].decode(decode_cases[v][i], true),
                      result[v]["decoded_skip"][i].get<std::string>())
                << name << ": decode (skip special) " << json(decode_cases[v][i]).dump();
        }
    }
}

}  // namespace
