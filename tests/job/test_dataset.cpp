// JSONL datasets: plain and chat prompts, verl's nesting and per-row keys, numeric answers, errors
// naming file:line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/base/error.h"
#include "job/dataset.h"

namespace stride {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() / ("stride_test_dataset_" + name);
    std::ofstream(path) << text;
    return path.string();
}

std::string error_of_line(const std::string& line, const DatasetKeys& keys = {}) {
    try {
        parse_example_line(line, "d.jsonl:7", keys);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Dataset, PlainPromptAndStringOrNumberAnswers) {
    Example a = parse_example_line(R"({"prompt": "321+540=", "answer": "861"})", "d:1", {});
    EXPECT_EQ(a.prompt, "321+540=");
    EXPECT_EQ(a.answer, "861");
    EXPECT_TRUE(a.messages.empty());
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": 42})", "d:1", {}).answer, "42");
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": -0.5})", "d:1", {}).answer, "-0.5");
}

// Found by tests/fuzz (jsonl): a number too large for a double threw nlohmann's out_of_range, which
// left the loader as a bare exception without the file and line.
TEST(Dataset, ANumberOutOfRangeIsRefusedNamingTheLine) {
    const std::string err = error_of_line(R"({"prompt": "p", "answer": 1e999})");
    EXPECT_EQ(err.rfind("d.jsonl:7: not valid JSON", 0), 0u) << err;
}

// verl passes a ground truth of any JSON type to compute_score unchanged: kept as JSON text beside
// the text form (what built-in rewards compare); a string has no JSON form, its text is it.
TEST(Dataset, GroundTruthOfAnyJsonTypeKeepsItsJson) {
    const Example l = parse_example_line(
        R"({"prompt": "p", "reward_model": {"ground_truth": [3, "x", {"k": [1.5, null]}]}})", "d:1", {});
    EXPECT_EQ(l.answer_json, R"([3,"x",{"k":[1.5,null]}])");
    EXPECT_EQ(l.answer, l.answer_json);
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": {"a": true}})", "d:1", {}).answer_json,
              R"({"a":true})");
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": 42})", "d:1", {}).answer_json, "42");
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": false})", "d:1", {}).answer_json, "false");
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": "42"})", "d:1", {}).answer_json, "");
}

TEST(Dataset, ChatMessagesAreRenderedByTheTemplate) {
    const char* line =
        R"({"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"}], "answer": "2"})";
    Example none = parse_example_line(line, "d:1", {});
    ASSERT_EQ(none.messages.size(), 2u);
    EXPECT_EQ(none.messages[1], (ChatMessage{"user", "1+1?"}));
    EXPECT_EQ(none.prompt, "Be brief.\n\n1+1?");
    Example qwen = parse_example_line(line, "d:1", {"prompt", "answer", "qwen"});
    EXPECT_EQ(
        qwen.prompt,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n");
    // A plain prompt under a chat template becomes one user turn.
    EXPECT_EQ(
        parse_example_line(R"({"prompt": "hi", "answer": "x"})", "d:1", {"prompt", "answer", "qwen"}).prompt,
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Dataset, VerlRowsWithGroundTruthNestingAndCustomKeys) {
    const char* verl =
        R"({"data_source": "gsm8k", "prompt": [{"role": "user", "content": "q"}], "reward_model": {"style": "rule", "ground_truth": "72"}})";
    EXPECT_EQ(parse_example_line(verl, "d:1", {}).answer, "72");  // answer_key absent -> fallback
    EXPECT_EQ(parse_example_line(verl, "d:1", {"prompt", "reward_model.ground_truth", "none"}).answer, "72");
    Example custom = parse_example_line(R"({"question": "q?", "extra": {"label": 3}})", "d:1",
                                        {"question", "extra.label", "none"});
    EXPECT_EQ(custom.prompt, "q?");
    EXPECT_EQ(custom.answer, "3");
}

// verl's data_source and extra_info are kept for the reward (extra_info as JSON object text).
TEST(Dataset, VerlDataSourceAndExtraInfoAreKeptForTheReward) {
    Example e = parse_example_line(
        R"({"data_source": "openai/gsm8k", "extra_info": {"split": "test", "index": 7, "tags": [1, 2]},)"
        R"( "prompt": "q", "reward_model": {"ground_truth": "72"}})",
        "d:1", {});
    EXPECT_EQ(e.data_source, "openai/gsm8k");
    EXPECT_EQ(nlohmann::json::parse(e.extra_info_json),
              nlohmann::json::parse(R"({"split": "test", "index": 7, "tags": [1, 2]})"));
    Example plain = parse_example_line(R"({"prompt": "q", "answer": "1"})", "d:1", {});
    EXPECT_EQ(plain.data_source, "");
    EXPECT_EQ(plain.extra_info_json, "");
    Example nulls = parse_example_line(
        R"({"prompt": "q", "answer": "1", "data_source": null, "extra_info": null})", "d:1", {});
    EXPECT_EQ(nulls.data_source, "");
    EXPECT_EQ(nulls.extra_info_json, "");
    EXPECT_EQ(error_of_line(R"({"prompt": "p", "answer": "1", "data_source": 3})"),
              "d.jsonl:7: 'data_source' must be a string, got number");
    EXPECT_EQ(error_of_line(R"({"prompt": "p", "answer": "1", "extra_info": "x"})"),
              "d.jsonl:7: 'extra_info' must be a JSON object, got string");
}

TEST(Dataset, BadLinesNameFileLineAndProblem) {
    EXPECT_EQ(error_of_line("{not json").rfind("d.jsonl:7: not valid JSON", 0), 0u)
        << error_of_line("{not json");
    EXPECT_EQ(error_of_line("[1, 2]"), "d.jsonl:7: expected a JSON object per line");
    EXPECT_EQ(error_of_line(R"({"answer": "1"})"), "d.jsonl:7: missing prompt key 'prompt'");
    EXPECT_EQ(error_of_line(R"({"prompt": "p"})"),
              "d.jsonl:7: missing answer key 'answer' (nor reward_model.ground_truth)");
    EXPECT_EQ(error_of_line(R"({"prompt": 5, "answer": "1"})"),
              "d.jsonl:7: 'prompt' must be a string or a list of {role, content} messages");
    EXPECT_EQ(error_of_line(R"({"prompt": "p", "answer": null})"), "d.jsonl:7: 'answer' is null");
    EXPECT_EQ(error_of_line(R"({"prompt": [{"role": "user"}], "answer": "1"})"),
              "d.jsonl:7: 'prompt'[0]: missing string 'content'");
    EXPECT_EQ(error_of_line(R"({"prompt": [], "answer": "1"})"),
              "d.jsonl:7: 'prompt' is an empty list of messages");
    EXPECT_EQ(error_of_line(R"({"prompt": "", "answer": "1"})"), "d.jsonl:7: empty prompt");
}

TEST(Dataset, LoadsFilesSkippingBlankLinesAndReportsTheBadLine) {
    std::string good = write_temp(
        "good.jsonl", "{\"prompt\": \"a\", \"answer\": \"1\"}\n\n{\"prompt\": \"b\", \"answer\": 2}\n");
    auto ex = load_jsonl_dataset(good, {});
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ(ex[1].prompt, "b");
    EXPECT_EQ(ex[1].where, good + ":3");

    std::string bad =
        write_temp("bad.jsonl", "{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": \"b\"}\n");
    try {
        load_jsonl_dataset(bad, {});
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind(bad + ":2: missing answer key", 0), 0u) << e.what();
    }
    EXPECT_THROW(load_jsonl_dataset(write_temp("empty.jsonl", "\n"), {}), Error);
    EXPECT_THROW(load_jsonl_dataset("/nonexistent.jsonl", {}), Error);
}

TEST(Dataset, GenSpecsParseAndNameBadParameters) {
    GenSpec g = parse_gen_spec("gen:arith?n=20500&seed=7&digits=4&op=mul");
    EXPECT_EQ(g, (GenSpec{"arith", 20500, 7, 4, "mul"}));
    EXPECT_EQ(parse_gen_spec("gen:collatz?n=500"), (GenSpec{"collatz", 500, 1, 3, "add"}));
    EXPECT_EQ(parse_gen_spec("gen:arith"), GenSpec{});  // defaults: n=1000, seed=1, digits=3, add
    auto error = [](const std::string& s) {
        try {
            parse_gen_spec(s);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_NE(error("gen:arith?n=x").find("n expects an integer, got 'x'"), std::string::npos);
    EXPECT_NE(error("gen:arith?count=3").find("unknown parameter 'count'"), std::string::npos);
    EXPECT_NE(error("gen:arith?digits=12").find("digits must be in [1, 9]"), std::string::npos);
    EXPECT_NE(error("gen:collatz?n=1000&digits=3").find("exceeds the 999 distinct collatz problems"),
              std::string::npos);
    EXPECT_NE(error("file.jsonl").find("not a generator spec"), std::string::npos);
    EXPECT_TRUE(is_gen_spec("gen:arith"));
    EXPECT_FALSE(is_gen_spec("data/gen.jsonl"));
}

TEST(Dataset, HoldoutSplitIsDeterministicAndDisjoint) {
    std::vector<Example> all;
    for (int i = 0; i < 100; ++i) all.push_back({std::to_string(i), {}, "a", "", "", ""});
    DatasetSplit a = split_holdout(all, 10, 0), b = split_holdout(all, 10, 0), c = split_holdout(all, 10, 1);
    ASSERT_EQ(a.eval.size(), 10u);
    ASSERT_EQ(a.train.size(), 90u);
    std::set<std::string> eval, train;
    for (size_t i = 0; i < a.eval.size(); ++i) {
        EXPECT_EQ(a.eval[i].prompt, b.eval[i].prompt);
        eval.insert(a.eval[i].prompt);
    }
    for (const auto& e : a.train) train.insert(e.prompt);
    for (const auto& p : eval) EXPECT_EQ(train.count(p), 0u) << p;
    EXPECT_EQ(eval.size() + train.size(), 100u);
    bool differs = false;
    for (size_t i = 0; i < a.eval.size(); ++i) differs |= a.eval[i].prompt != c.eval[i].prompt;
    EXPECT_TRUE(differs);
    EXPECT_EQ(split_holdout(all, 0, 0).train.size(), 100u);
    EXPECT_THROW(split_holdout(all, 100, 0), Error);
}

}  // namespace
}  // namespace stride
