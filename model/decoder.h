// Incremental forward pass with a paged KV cache: the engine behind generation.
//
// Decoder::extend() takes any number of new tokens for each of several sequences — a whole prompt
// (prefill), one chunk of a long prompt, one token (decode), or prompt + generated tokens again after
// a weight update — concatenates them into one row of T tokens so every projection is one GEMM, and:
//   per layer: RMSNorm -> q,k,v projections -> (Qwen3) per-head q/k RMSNorm -> RoPE at each token's
//   position -> K/V written into the cache through a slot mapping -> paged attention of each new
//   token over its sequence's cache (causal) -> o_proj + residual -> RMSNorm -> SwiGLU MLP + residual;
// then the final RMSNorm and LM head for the last new token of each sequence.
// Same math as Transformer::forward (HF): tests/model/test_decoder.cpp checks logits and log-probs
// against full recomputation for ragged batches, chunked prefill and forked sequences.
//
// Memory: activations live in one arena allocated by the cache's backend, sized for the largest batch
// seen so far (grown only when a bigger batch comes), so steady-state decoding allocates nothing. On
// the CPU backend the model weights are read through the Model reference on every call: overwriting
// model.data between calls (an RL weight update) takes effect at the next call; on a device backend
// call weights_changed() after overwriting them (one copy into the same device buffer). KV already in
// the cache stays as computed with the old weights unless the caller truncates and recomputes it.
// The decoder computes on the backend of its KvCache.
#pragma once
#include <cstddef>
#include <vector>

#include "model/device_weights.h"
#include "model/kv_cache.h"
#include "model/params.h"

namespace stride {

// New tokens for several cache sequences, concatenated. Reuse one instance across steps (clear()
// keeps capacity).
struct DecodeBatch {
    std::vector<int> seq_ids;    // [n] KvCache sequence ids
    std::vector<int> cu_tokens;  // [n + 1] prefix sums into tokens; starts with 0
    std::vector<int> tokens;     // [T]

    DecodeBatch() : cu_tokens{0} {}
    void clear() {
        seq_ids.clear();
        tokens.clear();
        cu_tokens.assign(1, 0);
    }
    // Appends `count` (>= 1) new tokens of sequence seq_id (each sequence at most once per batch).
    void add(int seq_id, const int* toks, int count);
    void add(int seq_id, const std::vector<int>& toks) {
        add(seq_id, toks.data(), static_cast<int>(toks.size()));
    }
    int num_seqs() const { return static_cast<int>(seq_ids.size()); }
    int num_tokens() const { return static_cast<int>(tokens.size()); }
};

class Decoder {
   public:
    // `model` and `cache` must outlive the decoder; the cache must have the model's shape. Computes on
    // cache.backend() (on a device backend the weights are copied there now), with the weights stored
    // in `dtype` (bf16: projections with bf16 inputs and fp32 accumulation; model/device_weights.h).
    Decoder(const Model& model, KvCache& cache, WeightDtype dtype = WeightDtype::fp32);

    // Copies model.data to the device again after a weight update; nothing to do on the CPU.
    void weights_changed() { weights_.upload(); }
    // The device copy of the weights, for a new version copied in device to device
    // (DeviceWeightSlot); null on the CPU, where the weights are model.data itself.
    float* device_weights() { return weights_.device_data(); }
    // The weights the decoder computes with (a checkpoint loaded straight into them, a colocated
    // trainer's version adopted on the device).
    DeviceWeights& weights() { return weights_; }

    // Appends each sequence's new tokens to its cache entry (growing it; throws Error without
    // touching the cache when the blocks do not fit) and runs them through the model. Returns the
    // logits [n_seqs, V] of each sequence's last new token (host memory), valid until the next call.
    const float* extend(const DecodeBatch& batch);

    // As extend(), but the logits stay where they were computed (the backend's device; on the CPU the
    // same pointer as extend's), for Backend::sample: the full-vocabulary rows never cross to the host.
    const float* extend_on_device(const DecodeBatch& batch);

    // As extend(), and also logprob[t] = log softmax(logits_t / temperature)[targets[t]] for every new
    // token t (T entries; targets[t] < 0 gives 0): the log-prob of the token that follows position t.
    // Costs an LM head over all T positions (chunked), so use it for scoring, not for plain decoding.
    // Needs fp32 weights (the chunked LM head reads an fp32 matrix): an Error with bf16 weights.
    const float* extend_with_logprobs(const DecodeBatch& batch, const int* targets, float temperature,
                                      float* logprobs);

    const Model& model() const { return model_; }
    KvCache& cache() { return cache_; }
    size_t arena_bytes() const;

   private:
    void run(const DecodeBatch& batch, const int* targets, float temperature, float* logprobs,
             bool logits_to_host);
    void reserve(int T, int n_seqs, int max_blocks, bool scoring);
    void stage_ints(int T, int n, int max_blocks, const int* tokens, const int* targets);

    const Model& model_;
    KvCache& cache_;
    const Backend& be_;            // cache_.backend()
    DeviceWeights weights_;        // model_'s weights on be_'s device
    std::vector<float> inv_freq_;  // [D/2]
    DeviceBuffer inv_freq_dev_;
    const float* inv_freq_ptr_ = nullptr;

    // Activation arena on be_'s device: one allocation carved into views (rows = new tokens T or
    // sequences n).
    DeviceBuffer arena_;
    float* x_ = nullptr;       // [T, H] residual stream
    float* xn_ = nullptr;      // [T, H] normed input of a sublayer; final-normed rows at the end
    float* q_raw_ = nullptr;   // [T, Hq] projection before q_norm (Qwen3)
    float* k_raw_ = nullptr;   // [T, Hkv]
    float* q_ = nullptr;       // [T, Hq]
    float* k_ = nullptr;       // [T, Hkv]
    float* v_ = nullptr;       // [T, Hkv]
    float* att_ = nullptr;     // [T, Hq] attention output
    float* proj_ = nullptr;    // [T, H] o_proj / down_proj output before the residual add
    float* gate_ = nullptr;    // [T, I]
    float* up_ = nullptr;      // [T, I]
    float* act_ = nullptr;     // [T, I] silu(gate) * up
    float* last_h_ = nullptr;  // [n, H] final-normed hidden state of each sequence's last token
    float* logits_ = nullptr;  // [n, V]
    float* lp_ = nullptr;      // [T] log-probs when scoring on a device
    float* lm_ws_ = nullptr;   // LM head workspace when scoring on a device

    // Per-step integer tables, built on the host; on a device backend copied into ints_ (one copy).
    std::vector<int> pos_;     // [T] position of each new token in its sequence
    std::vector<int> slot_;    // [T] cache slot of each new token (block * block_size + offset)
    std::vector<int> row_;     // [T] which batch row (sequence) each token belongs to
    std::vector<int> tables_;  // [n, max_blocks] block tables, -1 padded
    std::vector<int> last_;    // [n] index of each sequence's last new token (the rows that get logits)
    DeviceBuffer ints_;
    const int *tokens_d_ = nullptr, *pos_d_ = nullptr, *slot_d_ = nullptr, *row_d_ = nullptr,
              *tables_d_ = nullptr, *targets_d_ = nullptr, *last_d_ = nullptr;
    std::vector<int> staging_;        // the integer tables packed for one copy
    std::vector<float> logits_host_;  // [n, V] logits brought back from a device
};

}  // namespace stride
