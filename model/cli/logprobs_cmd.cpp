// stride logprobs: per-token log-probs and entropies of token sequences under a checkpoint.
//
//   echo '{"tokens":[1,5,9,2]}' | stride logprobs --model DIR [--temperature 1.0] [--chunk 1024]
//                                                 [--device cpu|cuda]
//   -> {"logprobs":[lp1,lp2,lp3],"entropy":[H1,H2,H3]}
//
// One JSON object per input line, one per output line, in order. For n tokens both arrays have n - 1
// entries: logprobs[i-1] = log p(tokens[i] | tokens[0..i-1]) and entropy[i-1] = entropy of that same
// (temperature-scaled) distribution, for i = 1..n-1. The first token has no prediction, so it has no
// entry (rather than a placeholder 0). Blank lines are skipped; a malformed line stops with an error
// naming its line number (lines before it have already been answered).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"
#include "model/transformer.h"

namespace stride::cli {

namespace {

// Token ids of one input line; errors name the line.
std::vector<int> parse_tokens(const std::string& text, long line_no, int vocab) {
    const std::string where = "line " + std::to_string(line_no) + ": ";
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(where + "not valid JSON (" + e.what() + ")");
    }
    STRIDE_CHECK(j.is_object() && j.contains("tokens"), where + "expected an object {\"tokens\": [...]}");
    const nlohmann::json& arr = j.at("tokens");
    STRIDE_CHECK(arr.is_array(), where + "\"tokens\" must be an array of integers");
    STRIDE_CHECK(!arr.empty(), where + "\"tokens\" is empty");
    std::vector<int> tokens;
    tokens.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
        STRIDE_CHECK(arr[i].is_number_integer(),
                     where + "tokens[" + std::to_string(i) + "] is not an integer: " + arr[i].dump());
        const long long id = arr[i].get<long long>();
        STRIDE_CHECK(id >= 0 && id < vocab,
                     where + "tokens[" + std::to_string(i) + "] = " + std::to_string(id) +
                         " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
        tokens.push_back(static_cast<int>(id));
    }
    return tokens;
}

}  // namespace

int logprobs(int argc, char** argv) {
    std::string dir;
    double temperature = 1.0;
    int chunk = 1024;
    std::string device = "cpu";
    Parser p(
        "stride logprobs --model DIR [--temperature T] [--chunk N] [--device cpu|cuda] < tokens.jsonl",
        "Per-token log-probs and entropies of token sequences under a checkpoint: one JSON line\n"
        "{\"tokens\": [...]} in, one {\"logprobs\": [...], \"entropy\": [...]} out (n - 1 entries each).");
    p.flag("model", dir, "HF checkpoint directory", true)
        .flag("temperature", temperature, "softmax temperature (> 0)")
        .flag("chunk", chunk, "positions per log-prob chunk (memory bound)")
        .flag("device", device, "where to compute: cpu or cuda");
    if (!p.parse(argc, argv)) return 0;
    ForwardOptions opt;
    opt.temperature = static_cast<float>(temperature);
    opt.logprob_chunk = chunk;
    STRIDE_CHECK(opt.temperature > 0.0f, "--temperature must be > 0");
    STRIDE_CHECK(opt.logprob_chunk > 0, "--chunk must be > 0");

    const Model model = checkpoint_load(dir);
    Transformer tf(model, backend_for_device(device));
    std::string line;
    long line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        PackedBatch batch;
        batch.add_sequence(parse_tokens(line, line_no, model.config().vocab));
        const TokenScores scores = tf.forward(batch, opt);
        const nlohmann::ordered_json out = {
            {"logprobs", std::vector<float>(scores.logprob.begin() + 1, scores.logprob.end())},
            {"entropy", std::vector<float>(scores.entropy.begin() + 1, scores.entropy.end())}};
        std::fputs(out.dump().c_str(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);  // answer each line as it comes (callers may stream)
    }
    return 0;
}

}  // namespace stride::cli
