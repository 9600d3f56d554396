// `stride tokenize` and `stride detokenize`: line-oriented JSON filters over a HF tokenizer.json, for
// scripts and for checking prompts by hand.
//
//   echo '"<|im_start|>user\nHi<|im_end|>"' | stride tokenize --tokenizer tokenizer.json
//   [151644,872,198,13048,151645]
//   echo '[151644,872,198,13048,151645]' | stride detokenize --tokenizer tokenizer.json --skip-special
//   "user\nHi"
//
// One output line per input line, flushed as it is written so the commands work as coprocesses. A
// line that is not the expected JSON stops the command with an error naming the line (exit code 1).
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"
#include "model/tokenizer/tokenizer.h"

namespace stride::cli {

using nlohmann::json;

// --tokenizer FILE, or --model DIR for DIR/tokenizer.json; "" after --help.
static std::string tokenizer_arg(Parser& p, int argc, char** argv, bool& flag, const char* flag_name,
                                 const char* flag_help) {
    std::string path, model;
    p.flag("tokenizer", path, "HF tokenizer.json")
        .flag("model", model, "HF checkpoint directory: its tokenizer.json (when --tokenizer is not given)")
        .toggle(flag_name, flag, flag_help);
    if (!p.parse(argc, argv)) return "";
    if (path.empty() && !model.empty()) path = model + "/tokenizer.json";
    if (path.empty()) throw UsageError("missing --tokenizer (or --model DIR)\nusage: " + p.usage());
    return path;
}

static json parse_line(const std::string& line, size_t line_no) {
    try {
        return json::parse(line);
    } catch (const json::exception& e) {
        throw Error("stdin line " + std::to_string(line_no) + ": invalid JSON: " + e.what());
    }
}

int tokenize(int argc, char** argv) {
    bool split_special = false;
    Parser p("stride tokenize --tokenizer FILE | --model DIR [--split-special] < strings.jsonl",
             "JSON strings on stdin, one per line -> JSON arrays of token ids on stdout.");
    const std::string path =
        tokenizer_arg(p, argc, argv, split_special, "split-special",
                      "encode the text of special tokens (<|im_start|>) as ordinary text");
    if (path.empty()) return 0;
    const Tokenizer tok = Tokenizer::load(path);
    const bool allow_special = !split_special;
    std::string line;
    for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
        json j = parse_line(line, line_no);
        STRIDE_CHECK(j.is_string(), "stdin line " + std::to_string(line_no) +
                                        ": expected a JSON string, got " + std::string(j.type_name()));
        std::vector<int> ids;
        try {
            ids = tok.encode(j.get_ref<const std::string&>(), allow_special);
        } catch (const Error& e) {
            throw Error("stdin line " + std::to_string(line_no) + ": " + e.what());
        }
        std::cout << json(ids).dump() << std::endl;
    }
    return 0;
}

int detokenize(int argc, char** argv) {
    bool skip_special = false;
    Parser p("stride detokenize --tokenizer FILE | --model DIR [--skip-special] < ids.jsonl",
             "JSON arrays of token ids on stdin, one per line -> JSON strings on stdout.");
    const std::string path =
        tokenizer_arg(p, argc, argv, skip_special, "skip-special", "leave special tokens out of the text");
    if (path.empty()) return 0;
    const Tokenizer tok = Tokenizer::load(path);
    std::string line;
    for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
        json j = parse_line(line, line_no);
        const std::string where = "stdin line " + std::to_string(line_no);
        STRIDE_CHECK(j.is_array(),
                     where + ": expected a JSON array of token ids, got " + std::string(j.type_name()));
        std::vector<int> ids;
        ids.reserve(j.size());
        for (const json& id : j) {
            STRIDE_CHECK(
                id.is_number_integer() && id.get<long long>() >= 0 && id.get<long long>() <= INT32_MAX,
                where + ": token ids must be non-negative integers, got " + id.dump());
            ids.push_back(id.get<int>());
        }
        std::cout << json(tok.decode(ids, skip_special)).dump() << std::endl;
    }
    return 0;
}

}  // namespace stride::cli
