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
// Memory: activations live in an arena sized for the largest batch seen so far (grown only when a
// bigger batch comes), so steady-state decoding allocates nothing. The model weights are read through
// the Model reference on every call: overwriting model.data between calls (an RL weight update) takes
// effect at the next call; KV already in the cache stays as computed with the old weights unless the
// caller truncates and recomputes it.
#pragma once
#include <cstddef>
#include <vector>

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
    // `model` and `cache` must outlive the decoder; the cache must have the model's shape.
    Decoder(const Model& model, KvCache& cache);

    // Appends each sequence's new tokens to its cache entry (growing it; throws Error without
    // touching the cache when the blocks do not fit) and runs them through the model. Returns the
    // logits [n_seqs, V] of each sequence's last new token, valid until the next call.
    const float* extend(const DecodeBatch& batch);

    // As extend(), and also logprob[t] = log softmax(logits_t / temperature)[targets[t]] for every new
    // token t (T entries; targets[t] < 0 gives 0): the log-prob of the token that follows position t.
    // Costs an LM head over all T positions (chunked), so use it for scoring, not for plain decoding.
    const float* extend_with_logprobs(const DecodeBatch& batch, const int* targets, float temperature,
                                      float* logprobs);

    const Model& model() const { return model_; }
    KvCache& cache() { return cache_; }
    size_t arena_bytes() const;

   private:
    void run(const DecodeBatch& batch, const int* targets, float temperature, float* logprobs);
    void reserve(int T, int n_seqs, int max_blocks);

    const Model& model_;
    KvCache& cache_;
    std::vector<float> inv_freq_;  // [D/2]

    // Activation arena (rows = new tokens T or sequences n).
    std::vector<float> x_;       // [T, H] residual stream
    std::vector<float> xn_;      // [T, H] normed input of a sublayer; final-normed rows at the end
    std::vector<float> q_raw_;   // [T, Hq] projection before q_norm (Qwen3)
    std::vector<float> k_raw_;   // [T, Hkv]
    std::vector<float> q_;       // [T, Hq]
    std::vector<float> k_;       // [T, Hkv]
    std::vector<float> v_;       // [T, Hkv]
    std::vector<float> att_;     // [T, Hq] attention output
    std::vector<float> proj_;    // [T, H] o_proj / down_proj output before the residual add
    std::vector<float> gate_;    // [T, I]
    std::vector<float> up_;      // [T, I]
    std::vector<float> act_;     // [T, I] silu(gate) * up
    std::vector<float> last_;    // [n, H] final-normed hidden state of each sequence's last token
    std::vector<float> logits_;  // [n, V]
    std::vector<int> pos_;       // [T] position of each new token in its sequence
    std::vector<int> slot_;      // [T] cache slot of each new token (block * block_size + offset)
    std::vector<int> row_;       // [T] which batch row (sequence) each token belongs to
    std::vector<int> tables_;    // [n, max_blocks] block tables, -1 padded
};

}  // namespace stride
