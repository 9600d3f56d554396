// `stride chat render`: renders conversations with a model's own chat template (job/chat_template.h),
// one JSON line in, one JSON string out, so a user sees exactly the text a job would tokenize.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/base/error.h"
#include "job/chat_template.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

const char* kChatUsage =
    "usage: stride chat render --tokenizer-config FILE [--add-generation-prompt] < conversations.jsonl\n"
    "  see stride chat render --help\n";

int chat_render(int argc, char** argv) {
    std::string config;
    bool add_generation_prompt = false;
    Parser p(
        "stride chat render --tokenizer-config FILE [--add-generation-prompt] < conversations.jsonl",
        "Renders each JSON line {\"messages\": [...], \"tools\": [...]} read on stdin with the chat_template "
        "of a tokenizer_config.json, and writes each rendering as a JSON string, one per line.");
    p.flag("tokenizer-config", config, "the model's tokenizer_config.json", /*required=*/true)
        .toggle("add-generation-prompt", add_generation_prompt,
                "end with the opening of the assistant's turn (what data.chat_template: auto does)")
        .footer(
            "  tools is optional; the template also sees the file's special tokens (bos_token, eos_token "
            "...)\n"
            "  and documents = null, as transformers' apply_chat_template passes them.\n");
    if (!p.parse(argc, argv)) return 0;
    const ModelChatTemplate tmpl = ModelChatTemplate::load(config);
    std::string line;
    for (size_t lineno = 1; std::getline(std::cin, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = "stdin:" + std::to_string(lineno);
        nlohmann::ordered_json row;
        try {
            row = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::ordered_json::parse_error& e) {
            throw Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
        }
        STRIDE_CHECK(row.is_object() && row.contains("messages") && row["messages"].is_array(),
                     where + ": expected an object with a list 'messages'");
        const nlohmann::ordered_json tools = row.value("tools", nlohmann::ordered_json());
        std::string text;
        try {
            text = tmpl.render(row["messages"], add_generation_prompt, tools);
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        std::cout << nlohmann::ordered_json(text).dump() << '\n';
    }
    std::cout.flush();
    return 0;
}

}  // namespace

int chat(int argc, char** argv) {
    if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
        std::fputs(kChatUsage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    std::string sub = argv[0];
    if (sub == "render") return chat_render(argc - 1, argv + 1);
    std::fprintf(stderr, "stride chat: unknown subcommand '%s'\n%s", sub.c_str(), kChatUsage);
    return 2;
}

}  // namespace stride::cli
