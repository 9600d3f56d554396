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
#include "model/cli/args.h"
#include "model/cli/commands.h"
#include "model/tokenizer/tokenizer.h"

namespace stride::cli {

using nlohmann::json;

static json parse_line(const std::string& line, size_t line_no) {
    try {
        return json::parse(line);
    } catch (const json::exception& e) {
        throw Error("stdin line " + std::to_string(line_no) + ": invalid JSON: " + e.what());
    }
}

int tokenize(int argc, char** argv) {
    Args args(argc, argv, {"tokenizer"}, {"split-special"});
    const Tokenizer tok = Tokenizer::load(args.get("tokenizer"));
    // --split-special: the text of special tokens ("<|im_start|>") is encoded as ordinary text.
    const bool allow_special = !args.has("split-special");
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
    Args args(argc, argv, {"tokenizer"}, {"skip-special"});
    const Tokenizer tok = Tokenizer::load(args.get("tokenizer"));
    const bool skip_special = args.has("skip-special");
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
