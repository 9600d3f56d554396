// Tokenizer vs HF tokenizers on the real Qwen3 and Llama-3 tokenizer.json files: identical ids on a
// varied corpus (tests/model/data/tokenizer/corpus.json) plus seeded random strings built from tricky
// fragments, identical decode (with and without special tokens, including ids that cut UTF-8
// characters), exact text round trips, the Qwen chat prompt ids, and encode throughput.
// The oracle is the Rust crate itself, run through node (tests/tokenizer_oracle/).
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "model/tokenizer/chat_template.h"
#include "model/tokenizer/tokenizer.h"
#include "tests/tokenizer_oracle/oracle.h"

namespace {

using nlohmann::json;
using stride::Tokenizer;

std::vector<std::string> load_corpus() {
    std::ifstream in(STRIDE_SOURCE_DIR "/tests/model/data/tokenizer/corpus.json");
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str()).get<std::vector<std::string>>();
}

// Strings assembled from fragments that stress the regex, the normalizer and added-token matching.
std::vector<std::string> random_texts(size_t count, uint32_t seed) {
    static const std::vector<std::string> fragments = {"a",
                                                       "Z",
                                                       "the",
                                                       " the",
                                                       "The",
                                                       "hello",
                                                       " world",
                                                       "don",
                                                       "'t",
                                                       "'S",
                                                       "'ll",
                                                       "'RE",
                                                       "'",
                                                       "\"",
                                                       "é",
                                                       "e\u0301",
                                                       "\u0301",
                                                       "ñ",
                                                       "ß",
                                                       "İ",
                                                       "ǅ",
                                                       "\u212b",
                                                       "\ufb01",
                                                       "漢",
                                                       "字",
                                                       "日本語",
                                                       "😀",
                                                       "👍🏽",
                                                       "\u200d",
                                                       "🇺🇸",
                                                       " ",
                                                       "  ",
                                                       "   ",
                                                       "\t",
                                                       "\n",
                                                       "\r\n",
                                                       "\r",
                                                       "\u00a0",
                                                       "\u3000",
                                                       "\u2028",
                                                       "0",
                                                       "7",
                                                       "42",
                                                       "12345",
                                                       ",",
                                                       ".",
                                                       "!",
                                                       "?",
                                                       "-",
                                                       "_",
                                                       "(",
                                                       ")",
                                                       "{",
                                                       "}",
                                                       "<",
                                                       ">",
                                                       "|",
                                                       "<|",
                                                       "|>",
                                                       "<|im_start|>",
                                                       "<|im_end|>",
                                                       "<|endoftext|>",
                                                       "<think>",
                                                       "</think>",
                                                       "<|begin_of_text|>",
                                                       "<|eot_id|>",
                                                       "\u0000",
                                                       "\x7f",
                                                       "\u00ad",
                                                       "Ω",
                                                       "مرحبا",
                                                       "שלום",
                                                       "ไทย",
                                                       "क्ष",
                                                       "한국",
                                                       "Ж",
                                                       "x",
                                                       "==",
                                                       "->",
                                                       "::",
                                                       "  \n"};
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, fragments.size() - 1), len(1, 24);
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) {
        std::string s;
        for (size_t n = len(rng); n > 0; --n) s += fragments[pick(rng)];
        out.push_back(s);
    }
    return out;
}

std::string nfc(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::string r(reinterpret_cast<char*>(out), n > 0 ? n : 0);
    std::free(out);
    return r;
}

std::string show(const std::string& s) {
    return json(s).dump();
}
std::string show(const std::vector<int>& ids) {
    return json(ids).dump();
}

// Compares our encode and decode with HF's on `texts` for the tokenizer `name` (a shipped file).
// `normalize` is what the file's normalizer does, for the round-trip check.
void check_against_hf(const std::string& name, std::string (*normalize)(const std::string&)) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    const Tokenizer tok = Tokenizer::load(stride::test::shipped_tokenizer(name));

    std::vector<std::string> texts = load_corpus();
    for (auto& s : random_texts(400, 1234)) texts.push_back(s);
    std::string long_text;
    for (const auto& s : texts) long_text += s + "\n";
    texts.push_back(long_text);

    // Decode cases: random id runs mixing byte tokens (which cut UTF-8), ordinary tokens, every added
    // token, and ids past the end of the vocabulary (which HF skips).
    std::mt19937 rng(99);
    std::vector<std::vector<int>> decode_cases;
    for (int c = 0; c < 200; ++c) {
        std::vector<int> ids;
        for (int n = 1 + static_cast<int>(rng() % 12); n > 0; --n) {
            switch (rng() % 4) {
                case 0:
                    ids.push_back(static_cast<int>(rng() % 256));
                    break;
                case 1:
                    ids.push_back(static_cast<int>(rng() % tok.vocab_size()));
                    break;
                case 2:
                    ids.push_back(tok.vocab_size() - 1 - static_cast<int>(rng() % 30));
                    break;
                default:
                    ids.push_back(tok.vocab_size() + static_cast<int>(rng() % 3));
                    break;
            }
        }
        decode_cases.push_back(ids);
    }

    json request = json::array();
    request.push_back({{"tokenizer", name}, {"texts", texts}, {"decode", decode_cases}});
    request.push_back({{"tokenizer", name}, {"texts", texts}, {"split_special", true}});
    json result = stride::test::run_hf_oracle(request);

    for (int split_special = 0; split_special < 2; ++split_special) {
        int mismatches = 0;
        for (size_t i = 0; i < texts.size(); ++i) {
            std::vector<int> expected = result[split_special]["ids"][i];
            std::vector<int> got = tok.encode(texts[i], /*allow_special=*/!split_special);
            if (got != expected && ++mismatches <= 5) {
                ADD_FAILURE() << name << (split_special ? " (special tokens as text)" : "") << " text " << i
                              << " " << show(texts[i]).substr(0, 300)
                              << "\n  HF:   " << show(expected).substr(0, 300)
                              << "\n  ours: " << show(got).substr(0, 300);
            }
            // Byte-level BPE loses nothing but what the normalizer changes.
            EXPECT_EQ(tok.decode(got), normalize(texts[i])) << name << " round trip of " << show(texts[i]);
        }
        EXPECT_EQ(mismatches, 0) << name << ": encode differs from HF on " << mismatches << " of "
                                 << texts.size();
    }

    for (size_t i = 0; i < decode_cases.size(); ++i) {
        EXPECT_EQ(tok.decode(decode_cases[i]), result[0]["decoded"][i].get<std::string>())
            << name << " decode " << show(decode_cases[i]);
        EXPECT_EQ(tok.decode(decode_cases[i], /*skip_special=*/true),
                  result[0]["decoded_skip"][i].get<std::string>())
            << name << " decode (skip special) " << show(decode_cases[i]);
    }
}

std::string identity(const std::string& s) {
    return s;
}

TEST(TokenizerHf, Qwen3MatchesHfTokenizers) {
    check_against_hf("qwen3", nfc);
}

TEST(TokenizerHf, Llama3MatchesHfTokenizers) {
    check_against_hf("llama3", identity);
}

TEST(TokenizerHf, Qwen3ChatPromptIds) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    const Tokenizer tok = Tokenizer::load(stride::test::shipped_tokenizer("qwen3"));
    std::string prompt =
        stride::apply_chat_template({{"user", "What is 2+2?"}}, /*add_generation_prompt=*/true);
    EXPECT_EQ(prompt, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    std::vector<int> expected = {151644, 872, 198,    3838, 374,    220,   17, 10,
                                 17,     30,  151645, 198,  151644, 77091, 198};
    EXPECT_EQ(tok.encode(prompt), expected);
    EXPECT_EQ(tok.token_to_id("<|im_end|>"), 151645);
    EXPECT_EQ(tok.id_to_token(151643), "<|endoftext|>");
    EXPECT_EQ(tok.id_to_token(220), "\u0120");  // byte-level space
    EXPECT_EQ(tok.token_to_id("no such token"), -1);
    EXPECT_EQ(tok.id_to_token(tok.vocab_size()), "");
    EXPECT_EQ(tok.vocab_size(), 151669);
    EXPECT_TRUE(tok.is_special(151645));
    EXPECT_FALSE(tok.is_special(151667));  // <think> is an added token but not special
    EXPECT_FALSE(tok.is_special(872));
    EXPECT_EQ(tok.decode({151644, 872, 198, 3838, 151645}, /*skip_special=*/true), "user\nWhat");
}

// Encode is called from many rollout threads at once: the shared piece cache must not change results.
TEST(TokenizerHf, Qwen3ConcurrentEncodeAgrees) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    const Tokenizer tok = Tokenizer::load(stride::test::shipped_tokenizer("qwen3"));
    const Tokenizer reference = Tokenizer::load(stride::test::shipped_tokenizer("qwen3"));
    std::vector<std::string> texts = random_texts(400, 77);
    std::vector<std::vector<std::vector<int>>> got(4, std::vector<std::vector<int>>(texts.size()));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (size_t i = 0; i < texts.size(); ++i) {
                size_t k = (i * 7 + t * 101) % texts.size();  // each thread in its own order
                got[t][k] = tok.encode(texts[k]);
            }
        });
    }
    for (auto& th : threads) th.join();
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int> expected = reference.encode(texts[i]);
        for (int t = 0; t < 4; ++t)
            EXPECT_EQ(got[t][i], expected) << "thread " << t << " text " << show(texts[i]);
    }
}

// The arithmetic tokenizer of the quickstart: HF loads it and agrees with us; digits never merge.
TEST(TokenizerHf, ArithTokenizerMatchesHfTokenizers) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    const std::string path = STRIDE_SOURCE_DIR "/configs/tokenizers/arith/tokenizer.json";
    const Tokenizer tok = Tokenizer::load(path);
    for (int d = 0; d <= 9; ++d) EXPECT_EQ(tok.token_to_id(std::to_string(d)), d);
    EXPECT_EQ(tok.encode("321+654=975<|endoftext|>"),
              (std::vector<int>{3, 2, 1, 10, 6, 5, 4, 11, 9, 7, 5, tok.token_to_id("<|endoftext|>")}));
    for (const char* special : {"<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"}) {
        int id = tok.token_to_id(special);
        ASSERT_GE(id, 0) << special;
        EXPECT_TRUE(tok.is_special(id)) << special;
        EXPECT_EQ(tok.encode(special), std::vector<int>{id});
    }
    EXPECT_EQ(tok.decode(tok.encode("12*34=408\nabc xyz")), "12*34=408\nabc xyz");

    std::vector<std::string> texts = {"000+999=999",
                                      "1234567890",
                                      "7 * 8 = 56",
                                      "<|im_start|>user\n1+1<|im_end|>\n",
                                      "Q? é😀 <|unk|>",
                                      "<|pad|><|pad|>12",
                                      ""};
    json result = stride::test::run_hf_oracle({{"tokenizer", path}, {"texts", texts}});
    for (size_t i = 0; i < texts.size(); ++i)
        EXPECT_EQ(tok.encode(texts[i]), result["ids"][i].get<std::vector<int>>()) << show(texts[i]);
}

// Reports encode throughput (one thread) on the Qwen3 file: a mixed text with a cold and a warm piece
// cache, and many short chat prompts. Printed numbers go into the README.
TEST(TokenizerHf, Qwen3EncodeThroughput) {
    std::string missing = stride::test::oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    const Tokenizer tok = Tokenizer::load(stride::test::shipped_tokenizer("qwen3"));
    double load_s = std::chrono::duration<double>(clock::now() - t0).count();

    std::string text;
    for (const auto& s : load_corpus()) text += s + "\n";
    for (const auto& s : random_texts(2000, 7)) text += s + " ";
    auto time_encode = [&](size_t& tokens) {
        auto start = clock::now();
        tokens = tok.encode(text).size();
        return std::chrono::duration<double>(clock::now() - start).count();
    };
    size_t cold_tokens = 0, warm_tokens = 0;
    double cold = time_encode(cold_tokens), warm = time_encode(warm_tokens);
    EXPECT_EQ(cold_tokens, warm_tokens);  // the piece cache must not change results

    // RL-shaped work: many short chat prompts.
    std::mt19937 rng(5);
    std::vector<std::string> prompts;
    for (int i = 0; i < 20000; ++i)
        prompts.push_back(stride::apply_chat_template(
            {{"user",
              "What is " + std::to_string(rng() % 100000) + " + " + std::to_string(rng() % 100000) + "?"}},
            true));
    auto start = clock::now();
    size_t prompt_tokens = 0;
    for (const auto& p : prompts) prompt_tokens += tok.encode(p).size();
    double prompts_s = std::chrono::duration<double>(clock::now() - start).count();
    std::vector<int> first = tok.encode(prompts[0]);
    ASSERT_GT(first.size(), 8u);
    EXPECT_EQ(std::vector<int>(first.begin(), first.begin() + 3), (std::vector<int>{151644, 872, 198}));
    EXPECT_EQ(std::vector<int>(first.end() - 5, first.end()),
              (std::vector<int>{151645, 198, 151644, 77091, 198}));

    std::printf(
        "[ perf ] qwen3 load %.2f s; mixed text %zu bytes -> %zu tokens: cold %.0f tok/s (%.1f MB/s), "
        "warm %.0f tok/s; chat prompts %.0f tok/s (%.0f prompts/s)\n",
        load_s, text.size(), cold_tokens, cold_tokens / cold, text.size() / cold / 1e6, warm_tokens / warm,
        prompt_tokens / prompts_s, prompts.size() / prompts_s);
}

}  // namespace
