#include "trainer/sft.h"

#include <algorithm>
#include <cmath>

#include "common/base/error.h"

namespace stride {

SftTrainer::SftTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule, float grad_clip,
                       const Backend& backend)
    : trained_(model, adam, backend), schedule_(schedule), grad_clip_(grad_clip) {}

double SftTrainer::step(const std::vector<SftExample>& batch) {
    PackedBatch packed;
    size_t answer_tokens = 0;
    for (const SftExample& ex : batch) {
        STRIDE_CHECK(!ex.prompt.empty() && !ex.target.empty(),
                     "sft: an example has an empty prompt or target");
        std::vector<int> seq = ex.prompt;
        seq.insert(seq.end(), ex.target.begin(), ex.target.end());
        packed.add_sequence(seq);
        answer_tokens += ex.target.size();
    }
    STRIDE_CHECK(answer_tokens > 0, "sft: empty batch");
    TokenScores scores = trained_.engine().forward(packed);
    std::vector<float> g(packed.num_tokens(), 0.0f);
    double nll = 0;
    const float w = 1.0f / static_cast<float>(answer_tokens);
    for (size_t i = 0; i < batch.size(); ++i) {
        const int start = packed.cu_seqlens[i] + static_cast<int>(batch[i].prompt.size());
        for (size_t t = 0; t < batch[i].target.size(); ++t) {
            nll -= scores.logprob[start + t];
            g[start + t] = -w;
        }
    }
    trained_.zero_grads();
    trained_.engine().backward(g, {}, trained_.grads());
    const float norm = trained_.clip_grads(grad_clip_);
    if (std::isfinite(norm)) trained_.step(schedule_.lr_at(trained_.optimizer().step_count()));
    trained_.weights_to_host();
    return nll / answer_tokens;
}

}  // namespace stride
