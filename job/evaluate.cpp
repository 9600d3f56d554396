#include "job/evaluate.h"

#include <algorithm>

#include "common/base/error.h"
#include "model/generator.h"

namespace stride {

std::string response_text(const Tokenizer& tok, const std::vector<int>& response,
                          const std::vector<int>& stop) {
    std::vector<int> ids = response;
    if (!ids.empty() && std::find(stop.begin(), stop.end(), ids.back()) != stop.end()) ids.pop_back();
    return tok.decode(ids, /*skip_special=*/true);
}

EvalResult evaluate(const Model& model, const Tokenizer& tok, const RewardFn& reward,
                    const std::vector<TokenizedPrompt>& prompts, const EvalOptions& opt) {
    EvalResult r;
    if (prompts.empty()) return r;
    GeneratorOptions go;
    go.max_running = opt.max_running;
    go.max_batch_tokens = std::max(2048, opt.max_running);
    Generator gen(model, go);
    for (size_t i = 0; i < prompts.size(); ++i) {
        GenerationRequest req;
        req.id = i;
        req.prompt = prompts[i].ids;
        req.max_new_tokens = opt.max_tokens;
        req.stop_tokens = opt.stop_tokens;
        req.sampling.temperature = opt.temperature;
        req.sampling.seed = opt.seed + i;
        gen.add(req);
    }
    const std::vector<GeneratedSequence> done = gen.run_until_done();
    std::vector<RewardInput> in;
    in.reserve(done.size());
    for (const GeneratedSequence& s : done) {
        const TokenizedPrompt& p = prompts[s.request_id];
        RewardInput x;
        x.prompt = p.text;
        x.response = response_text(tok, s.tokens, opt.stop_tokens);
        x.answer = p.answer;
        x.answer_json = p.answer_json;
        x.response_tokens = static_cast<int>(s.tokens.size());
        x.truncated = s.reason == FinishReason::length;
        x.data_source = p.data_source;
        x.extra_info_json = p.extra_info_json;
        in.push_back(std::move(x));
    }
    const std::vector<RewardResult> scored = reward.score_batch(in);
    STRIDE_CHECK(scored.size() == in.size(), "evaluate: reward " + reward.name() + " returned " +
                                                 std::to_string(scored.size()) + " results for " +
                                                 std::to_string(in.size()) + " responses");
    double correct = 0, reward_sum = 0, length_sum = 0;
    for (size_t i = 0; i < done.size(); ++i) {
        correct += scored[i].correct ? 1 : 0;
        reward_sum += scored[i].score;
        length_sum += done[i].tokens.size();
    }
    // The generations of the first keep_samples prompts, in prompt order (done is in finish order).
    r.samples.resize(std::min(prompts.size(), static_cast<size_t>(std::max(0, opt.keep_samples))));
    for (size_t i = 0; i < done.size(); ++i) {
        const size_t at = done[i].request_id;
        if (at < r.samples.size())
            r.samples[at] = {in[i].prompt,      in[i].response,        in[i].answer,   scored[i].score,
                             scored[i].correct, in[i].response_tokens, in[i].truncated};
    }
    r.n = static_cast<int>(prompts.size());
    r.accuracy = correct / r.n;
    r.reward_mean = reward_sum / r.n;
    r.response_length_mean = length_sum / r.n;
    return r;
}

}  // namespace stride
