// Full-sequence forward and backward of a decoder over a packed batch (training and scoring).
// Memory: one activation arena sized from the token count (grown only when a bigger batch comes,
// never shrunk), optional per-layer recomputation (then only each layer's input is kept).
#pragma once
#include <cstddef>
#include <vector>

#include "model/backend.h"
#include "model/params.h"

namespace stride {

// Several sequences packed in one row. Sequence s occupies tokens [cu_seqlens[s], cu_seqlens[s+1]).
struct PackedBatch {
    std::vector<int> tokens;      // [T]
    std::vector<int> positions;   // [T], restart at 0 for each sequence (filled by add_sequence)
    std::vector<int> cu_seqlens;  // [n_seqs + 1], starts with 0

    PackedBatch() : cu_seqlens{0} {}
    void add_sequence(const std::vector<int>& seq);
    int num_tokens() const { return static_cast<int>(tokens.size()); }
    int num_seqs() const { return static_cast<int>(cu_seqlens.size()) - 1; }
};

struct ForwardOptions {
    float temperature = 1.0f;  // log-probs/entropy are of the temperature-scaled distribution
    int logprob_chunk = 1024;  // tokens per LM-head chunk
    bool recompute = false;    // keep only layer inputs; recompute the rest in backward
    // false: stop at the final normed hidden rows (a critic's value head needs only those); the
    // returned scores are then empty and backward takes only g_final_hidden.
    bool lm_head = true;
};

// Per-token outputs aligned with batch.tokens: logprob[t] = log p(tokens[t] | tokens of the same
// sequence before t); entropy[t] = entropy of the distribution that predicted tokens[t]. Both are 0
// at the first token of each sequence (nothing predicts it).
struct TokenScores {
    std::vector<float> logprob;
    std::vector<float> entropy;
};

class Transformer {
   public:
    // Computes on `backend` (cpu_backend(), or cuda::cuda_backend() through backend_for_device).
    // On a device backend the weights are copied to the device here; call weights_changed() after
    // overwriting model.data. Backward needs every backward entry of the backend (can_train).
    explicit Transformer(const Model& model, const Backend& backend = cpu_backend());
    // Copies model.data to the device again (a new policy version); nothing to do on the CPU.
    void weights_changed();
    ~Transformer();
    Transformer(const Transformer&) = delete;
    Transformer& operator=(const Transformer&) = delete;

    // Scores the batch. Keeps what backward() needs until the next forward().
    TokenScores forward(const PackedBatch& batch, const ForwardOptions& opt = {});

    // Rows [T, H] of the last forward's final RMSNorm output (the LM head's input), row t aligned
    // with batch.tokens[t], on the backend's device; valid until the next forward(). Null after an
    // empty batch.
    const float* final_hidden() const;
    // The same rows in host memory (on a device, copied into a buffer this object owns; valid until
    // the next call or forward()): a value head computed on the host reads these.
    const float* final_hidden_host();

    // The device copy of the weights, which a trainer on a device steps in place (its fp32 master
    // weights; copy them back into model.data before reading those). Null on a host-memory backend,
    // where the weights are model.data itself.
    float* device_weights();
    // Whether `be` has every entry backward() and the optimizer (model/optim.h) need.
    static bool can_train(const Backend& be);

    // Accumulates (+=) into grads (layout().numel() floats on the backend's device, same layout as the
    // weights)
    // the gradient of sum_t g_logprob[t]*logprob[t] + g_entropy[t]*entropy[t]
    // + sum_{t,h} g_final_hidden[t*H+h]*final_hidden()[t*H+h] for the last forward().
    // g_logprob and g_entropy may be empty (zero; they must be when the forward skipped the LM head);
    // g_final_hidden, [T, H] in host memory, may be null (zero): a value head on the trunk passes its
    // gradient here. g_logprob and g_entropy are host arrays too; grads is on the device.
    void backward(const std::vector<float>& g_logprob, const std::vector<float>& g_entropy, float* grads,
                  const float* g_final_hidden = nullptr);

    // Bytes of activation memory currently held (for the long-sequence memory tests).
    size_t activation_bytes() const;

   private:
    struct Impl;
    Impl* impl_;
};

}  // namespace stride
