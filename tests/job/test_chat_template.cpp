// The model's own chat template (job/chat_template.h): the real Qwen3, Llama-3 and DeepSeek-V3
// templates shipped in npm tokenizer packages (and Qwen2.5's, a fixture) rendered for varied
// conversations, string for string equal to @huggingface/jinja; tokenizer_config.json keys checked at
// load naming the key; data.chat_template: auto in datasets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/base/error.h"
#include "job/chat_template.h"
#include "job/data_gen.h"
#include "job/dataset.h"
#include "scheduler/job_config.h"
#include "tests/tokenizer_oracle/oracle.h"

namespace stride {
namespace {

using ojson = nlohmann::ordered_json;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string qwen25_config() {
    return std::string(STRIDE_SOURCE_DIR) + "/tests/job/data/qwen2_5/tokenizer_config.json";
}

std::string scratch(const std::string& name) {
    auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / "chat_template" /
               (name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
}

std::vector<ojson> conversations() {
    std::vector<ojson> out;
    std::ifstream in(std::string(STRIDE_SOURCE_DIR) + "/tests/job/data/chat_conversations.jsonl");
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(ojson::parse(line));
    return out;
}

// The variables transformers' apply_chat_template gives the template, built from the file by hand
// (independently of ModelChatTemplate) for the oracle.
ojson oracle_context(const ojson& cfg, const ojson& conv, bool add_generation_prompt) {
    ojson ctx = ojson::object();
    for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        if (!cfg.contains(k) || cfg[k].is_null()) continue;
        ctx[k] = cfg[k].is_object() ? cfg[k]["content"] : cfg[k];
    }
    if (cfg.contains("additional_special_tokens"))
        ctx["additional_special_tokens"] = cfg["additional_special_tokens"];
    ctx["messages"] = conv["messages"];
    ctx["tools"] = conv.contains("tools") ? conv["tools"] : ojson();
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = add_generation_prompt;
    return ctx;
}

// Every shipped template over every conversation, with and without the generation prompt: the
// oracle's cases, and Stride's renderings of the same.
struct RealCases {
    ojson cases = ojson::array();
    std::vector<std::string> ours, labels;
};

RealCases real_cases() {
    const std::vector<std::string> files = {
        stride::test::shipped_tokenizer_config("qwen3"), stride::test::shipped_tokenizer_config("llama3"),
        stride::test::shipped_tokenizer_config("deepseek_v3"), qwen25_config()};
    const std::vector<ojson> convs = conversations();
    RealCases r;
    for (const std::string& file : files) {
        const ojson cfg = ojson::parse(slurp(file));
        const ModelChatTemplate tmpl = ModelChatTemplate::load(file);
        for (size_t c = 0; c < convs.size(); ++c) {
            for (bool agp : {false, true}) {
                r.cases.push_back(
                    {{"template", cfg["chat_template"]}, {"context", oracle_context(cfg, convs[c], agp)}});
                r.ours.push_back(tmpl.render(convs[c]["messages"], agp,
                                             convs[c].contains("tools") ? convs[c]["tools"] : ojson()));
                r.labels.push_back(
                    std::filesystem::path(file).parent_path().parent_path().filename().string() +
                    " conversation " + std::to_string(c + 1) + (agp ? " +generation prompt" : ""));
            }
        }
    }
    return r;
}

void expect_same(const RealCases& r, const ojson& expected) {
    ASSERT_EQ(expected.size(), r.ours.size());
    for (size_t i = 0; i < r.ours.size(); ++i) {
        ASSERT_TRUE(expected[i].contains("text"))
            << r.labels[i] << ": the oracle failed: " << expected[i].dump();
        EXPECT_EQ(r.ours[i], expected[i]["text"].get<std::string>()) << r.labels[i];
    }
}

TEST(ChatTemplate, RealTemplatesMatchHuggingFaceJinjaForEveryConversation) {
    std::string missing = stride::test::chat_oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    ASSERT_GE(conversations().size(), 12u);
    const RealCases r = real_cases();
    expect_same(r, stride::test::run_chat_oracle(r.cases));
}

// The same against Python's jinja2 as transformers sets it up, when python3 has it.
TEST(ChatTemplate, RealTemplatesMatchPythonJinja2ForEveryConversation) {
    std::string missing = stride::test::chat_oracle_missing() + stride::test::python_jinja2_missing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    const RealCases r = real_cases();
    expect_same(r, stride::test::run_chat_oracle_python(r.cases));
}

TEST(ChatTemplate, TheTemplatesOwnDefaultSystemPromptAndSpecialTokensAreUsed) {
    const ModelChatTemplate qwen25 = ModelChatTemplate::load(qwen25_config());
    EXPECT_EQ(
        qwen25.render(ojson::parse(R"([{"role": "user", "content": "2+2?"}])"), true),
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(qwen25.render(std::vector<ChatMessage>{{"system", "Be terse."}, {"user", "2+2?"}}, false),
              "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n");
    std::string missing = stride::test::chat_oracle_missing();
    ASSERT_TRUE(missing.empty()) << missing;
    // Llama-3: bos_token from tokenizer_config.json, content trimmed.
    const ModelChatTemplate llama = ModelChatTemplate::load(stride::test::shipped_tokenizer_config("llama3"));
    EXPECT_EQ(llama.render(std::vector<ChatMessage>{{"user", " hi \n"}}, true),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    // DeepSeek-V3 writes its special tokens as added-token objects {"__type": "AddedToken", "content": ...}.
    const ModelChatTemplate ds =
        ModelChatTemplate::load(stride::test::shipped_tokenizer_config("deepseek_v3"));
    EXPECT_EQ(ds.render(std::vector<ChatMessage>{{"user", "q"}}, true),
              "<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜>");
    // Qwen3 splits an earlier assistant turn's <think> block with strip('\n'), which strips newlines only
    // in Python (transformers); @huggingface/jinja strips all whitespace there, so this case is pinned.
    const ModelChatTemplate qwen3 = ModelChatTemplate::load(stride::test::shipped_tokenizer_config("qwen3"));
    EXPECT_EQ(
        qwen3.render(ojson::parse(R"([{"role": "user", "content": "a"},
                                            {"role": "assistant", "content": "<think>\n r \n</think>\n\n  b"}])"),
                     false),
        "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n<think>\n r \n</think>\n\n  b<|im_end|>\n");
}

std::string load_error(const std::string& text) {
    std::string dir = scratch("bad");
    std::string file = write(dir, "tokenizer_config.json", text);
    try {
        ModelChatTemplate::load(file);
    } catch (const Error& e) {
        std::string msg = e.what();
        size_t at = msg.find(file);
        return at == std::string::npos ? msg : msg.substr(0, at) + "F" + msg.substr(at + file.size());
    }
    return "(no error)";
}

TEST(ChatTemplate, TokenizerConfigKeysAreCheckedAtLoadNamingTheKey) {
    EXPECT_EQ(load_error("{").rfind("F: not valid JSON", 0), 0u) << load_error("{");
    EXPECT_EQ(load_error("[]"), "F: expected a JSON object");
    EXPECT_EQ(load_error(R"({"eos_token": "</s>"})").rfind("F: no 'chat_template'", 0), 0u);
    EXPECT_EQ(load_error(R"({"chat_template": 3})"),
              "F: 'chat_template' must be a string or a list of {name, template}, got number");
    EXPECT_EQ(load_error(R"({"chat_template": [{"name": "tool_use", "template": "x"}]})"),
              "F: 'chat_template' is a list without a template named \"default\"");
    EXPECT_EQ(load_error(R"({"chat_template": [{"name": "default"}]})"),
              "F: 'chat_template'[0]: expected {\"name\": string, \"template\": string}");
    EXPECT_EQ(load_error(R"({"chat_template": "x", "bos_token": 1})"),
              "F: 'bos_token' must be a string, null or an added-token object, got number");
    EXPECT_EQ(load_error(R"({"chat_template": "x", "eos_token": {"lstrip": false}})"),
              "F: 'eos_token' is an object without a string 'content'");
    EXPECT_EQ(load_error(R"({"chat_template": "x", "additional_special_tokens": "<a>"})"),
              "F: 'additional_special_tokens' must be a list, got string");
    EXPECT_EQ(
        load_error(R"({"chat_template": "{{ x | wordwrap }}"})"),
        "F: chat_template: line 1, column 8: filter 'wordwrap' is not supported (Stride's Jinja subset)");
    // Named templates: "default" is used.
    std::string dir = scratch("named");
    std::string file =
        write(dir, "tokenizer_config.json",
              R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", )"
              R"("template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}], )"
              R"("bos_token": {"content": "<s>", "lstrip": false}})");
    EXPECT_EQ(ModelChatTemplate::load(file).render(std::vector<ChatMessage>{{"user", "u"}}, true), "<s>u");
}

TEST(ChatTemplate, DatasetsRenderChatMessagesWithTheModelsTemplateUnderAuto) {
    DatasetKeys keys{"prompt", "answer", "auto"};
    keys.model_template = std::make_shared<const ModelChatTemplate>(ModelChatTemplate::load(qwen25_config()));
    Example chat = parse_example_line(R"({"prompt": [{"role": "user", "content": "1+1?"}], "answer": "2"})",
                                      "d:1", keys);
    EXPECT_EQ(
        chat.prompt,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n");
    // Plain prompts stay as they are under auto.
    EXPECT_EQ(parse_example_line(R"({"prompt": "321+540=", "answer": "861"})", "d:1", keys).prompt,
              "321+540=");
    // No template: only a message list is an error, naming the row, the key and why.
    DatasetKeys none{"prompt", "answer", "auto"};
    none.model_template_missing = "/m/tokenizer_config.json does not exist";
    EXPECT_EQ(parse_example_line(R"({"prompt": "p", "answer": "1"})", "d:1", none).prompt, "p");
    try {
        parse_example_line(R"({"prompt": [{"role": "user", "content": "q"}], "answer": "1"})", "d.jsonl:4",
                           none);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(
            std::string(e.what()),
            "d.jsonl:4: data.chat_template: auto renders chat messages with the model's chat_template, but "
            "/m/tokenizer_config.json does not exist (set data.chat_template: none or qwen)");
    }
}

// A job whose tokenizer.json has a tokenizer_config.json beside it: the default data.chat_template (auto)
// renders the JSONL's chat prompts with it.
TEST(ChatTemplate, AJobsDefaultRendersWithTheTokenizersOwnTemplate) {
    std::string dir = scratch("job");
    std::filesystem::copy_file(qwen25_config(), dir + "/tokenizer_config.json");
    std::filesystem::copy_file(std::string(STRIDE_SOURCE_DIR) + "/configs/tokenizers/arith/tokenizer.json",
                               dir + "/tokenizer.json");
    std::string train = write(
        dir, "train.jsonl",
        R"({"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}], "answer": "1"})"
        "\n");
    JobConfig cfg =
        parse_job_config("name: t\ntokenizer: " + dir + "/tokenizer.json\ndata: {train: " + train +
                             ", eval_size: 0}\nreward: {fn: arith}\ntrainer: {eval_every: 0}\n",
                         "test.yaml");
    EXPECT_EQ(cfg.data.chat_template, "auto");
    DatasetSplit split = load_job_datasets(cfg);
    ASSERT_EQ(split.train.size(), 1u);
    EXPECT_EQ(split.train[0].prompt,
              "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n");
    // A broken template is refused at load naming the key and the file.
    write(dir, "tokenizer_config.json", R"({"chat_template": "{% include 'x' %}"})");
    try {
        load_job_datasets(cfg);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(
            std::string(e.what()).find("data.chat_template: auto: " + dir +
                                       "/tokenizer_config.json: chat_template: line 1, column 1: statement "
                                       "'include' is not supported"),
            std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace stride
