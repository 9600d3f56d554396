// stride logprobs: per-token log-probs and entropies of token sequences under a checkpoint.
//
//   echo '{"tokens":[1,5,9,2]}' | stride logprobs --model DIR [--temperature 1.0] [--chunk 1024]
//                                                 [--device cpu|cuda] [--dtype fp32|bf16]
//   -> {"logprobs":[lp1,lp2,lp3],"entropy":[H1,H2,H3]}
//
// One JSON object per input line, one per output line, in order. For n tokens both arrays have n - 1
// entries: logprobs[i-1] = log p(tokens[i] | tokens[0..i-1]) and entropy[i-1] = entropy of that same
// (temperature-scaled) distribution, for i = 1..n-1. The first token has no prediction, so it has no
// entry (rather than a placeholder 0). Blank lines are skipped; a malformed line stops with an error
// naming its line number (lines before it have already been answered).
//
// --dtype bf16 scores with the rollout engine's bf16 weights (model/device_weights.h; the checkpoint is
// loaded straight into them): the paged Decoder fed one token at a time, each position's logits
// softmaxed on the host. Slow (one step per token), meant for checking bf16 against Hugging Face
// (tests/model/reference/hf_compat.py on the GPU machine).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"
#include "model/decoder.h"
#include "model/device_weights.h"
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

// Log-probs and entropies of one sequence through a Decoder, position by position (its weights may be
// bf16, which Transformer does not read).
TokenScores decoder_scores(Decoder& dec, const std::vector<int>& tokens, float temperature) {
    const int V = dec.model().config().vocab;
    KvCache& cache = dec.cache();
    const int seq = cache.seq_create();
    TokenScores s;
    s.logprob.assign(tokens.size(), 0.0f);
    s.entropy.assign(tokens.size(), 0.0f);
    for (size_t t = 0; t + 1 < tokens.size(); ++t) {
        DecodeBatch b;
        b.add(seq, &tokens[t], 1);
        const float* logits = dec.extend(b);
        double zmax = -INFINITY;
        for (int i = 0; i < V; ++i) zmax = std::max(zmax, (double)logits[i] / temperature);
        double sum = 0.0, sum_pz = 0.0;
        for (int i = 0; i < V; ++i) {
            const double z = logits[i] / temperature - zmax, e = std::exp(z);
            sum += e, sum_pz += e * z;
        }
        const double lse = std::log(sum);
        s.logprob[t + 1] = static_cast<float>(logits[tokens[t + 1]] / temperature - zmax - lse);
        s.entropy[t + 1] = static_cast<float>(lse - sum_pz / sum);
    }
    cache.seq_free(seq);
    return s;
}

}  // namespace

int logprobs(int argc, char** argv) {
    std::string dir;
    double temperature = 1.0;
    int chunk = 1024;
    std::string device = "cpu", dtype = "fp32";
    Parser p(
        "stride logprobs --model DIR [--temperature T] [--chunk N] [--device cpu|cuda] [--dtype fp32|bf16] "
        "< tokens.jsonl",
        "Per-token log-probs and entropies of token sequences under a checkpoint: one JSON line\n"
        "{\"tokens\": [...]} in, one {\"logprobs\": [...], \"entropy\": [...]} out (n - 1 entries each).");
    p.flag("model", dir, "HF checkpoint directory", true)
        .flag("temperature", temperature, "softmax temperature (> 0)")
        .flag("chunk", chunk, "positions per log-prob chunk (memory bound)")
        .flag("device", device, "where to compute: cpu or cuda")
        .flag("dtype", dtype, "weights: fp32, or bf16 (the rollout engine's, scored token by token)");
    if (!p.parse(argc, argv)) return 0;
    ForwardOptions opt;
    opt.temperature = static_cast<float>(temperature);
    opt.logprob_chunk = chunk;
    STRIDE_CHECK(opt.temperature > 0.0f, "--temperature must be > 0");
    STRIDE_CHECK(opt.logprob_chunk > 0, "--chunk must be > 0");

    const WeightDtype weights = parse_weight_dtype(dtype);
    const Backend& be = backend_for_device(device);
    // bf16: a zero model of the checkpoint's config whose device weights are then read from the files.
    const Model model = weights == WeightDtype::bf16 ? Model(model_config_load(dir)) : checkpoint_load(dir);
    std::unique_ptr<Transformer> tf;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<Decoder> dec;
    if (weights == WeightDtype::fp32) {
        tf = std::make_unique<Transformer>(model, be);
    } else {
        const int blocks = KvCache::blocks_for_bytes(model.config(), size_t(256) << 20, 16, KvDtype::fp32);
        cache = std::make_unique<KvCache>(model.config(), blocks, 16, KvDtype::fp32, be);
        dec = std::make_unique<Decoder>(model, *cache, WeightDtype::bf16);
        dec->weights().load_checkpoint(dir);
    }
    std::string line;
    long line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        PackedBatch batch;
        batch.add_sequence(parse_tokens(line, line_no, model.config().vocab));
        const TokenScores scores =
            dec ? decoder_scores(*dec, batch.tokens, opt.temperature) : tf->forward(batch, opt);
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
