#include "model/decoder.h"
#include "model/backend.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/base/error.h"
#include "model/ops/embedding.h"
#include "model/ops/logprob.h"
#include "model/ops/math.h"
#include "model/ops/matmul.h"
#include "model/ops/paged_attention.h"
#include "model/ops/rmsnorm.h"
#include "model/ops/rope.h"
#include "model/ops/swiglu.h"

namespace stride {

// Tokens per LM-head chunk when scoring every position (extend_with_logprobs).
constexpr int kScoringChunk = 256;

void DecodeBatch::add(int seq_id, const int* toks, int count) {
    STRIDE_CHECK(count >= 1,
                 "DecodeBatch: sequence " + std::to_string(seq_id) + " needs at least one new token");
    STRIDE_CHECK(
        std::find(seq_ids.begin(), seq_ids.end(), seq_id) == seq_ids.end(),
        "DecodeBatch: sequence " + std::to_string(seq_id) + " added twice (give all its new tokens at once)");
    seq_ids.push_back(seq_id);
    tokens.insert(tokens.end(), toks, toks + count);
    cu_tokens.push_back(static_cast<int>(tokens.size()));
}

Decoder::Decoder(const Model& model, KvCache& cache, WeightDtype dtype)
    : model_(model), cache_(cache), be_(cache.backend()), weights_(model, cache.backend(), dtype) {
    const ModelConfig& c = model.config();
    STRIDE_CHECK(
        cache.layers() == c.layers && cache.kv_heads() == c.kv_heads && cache.head_dim() == c.head_dim,
        "Decoder: KV cache shape (layers, kv_heads, head_dim) does not match the model");
    inv_freq_ = rope_inv_freq(c);
    arena_.set_backend(be_);
    ints_.set_backend(be_);
    inv_freq_dev_.set_backend(be_);
    inv_freq_ptr_ = inv_freq_.data();
    if (!be_.host_memory) {
        inv_freq_dev_.grow(inv_freq_.size() * sizeof(float));
        be_.copy(inv_freq_dev_.get(), inv_freq_.data(), inv_freq_.size() * sizeof(float));
        inv_freq_ptr_ = inv_freq_dev_.as<float>();
    }
}

template <typename T>
static void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

void Decoder::reserve(int T, int n, int max_blocks, bool scoring) {
    const ModelConfig& c = model_.config();
    const size_t t = T, H = c.hidden, Hq = c.q_dim(), Hkv = c.kv_dim(), I = c.intermediate, V = c.vocab;
    const bool device_scoring = scoring && !be_.host_memory;
    // Views carved in order, each 64-byte aligned; the first pass only counts.
    size_t used = 0;
    float* base = nullptr;
    auto take = [&](size_t floats) {
        float* p = base ? base + used : nullptr;
        used += (floats + 15) / 16 * 16;
        return p;
    };
    for (int pass = 0; pass < 2; ++pass) {
        used = 0;
        x_ = take(t * H), xn_ = take(t * H), proj_ = take(t * H);
        q_raw_ = take(t * Hq), q_ = take(t * Hq), att_ = take(t * Hq);
        k_raw_ = take(t * Hkv), k_ = take(t * Hkv), v_ = take(t * Hkv);
        gate_ = take(t * I), up_ = take(t * I), act_ = take(t * I);
        last_h_ = take(static_cast<size_t>(n) * H), logits_ = take(static_cast<size_t>(n) * V);
        lp_ = device_scoring ? take(t) : nullptr;
        lm_ws_ = device_scoring ? take(lm_head_workspace_floats(T, c.vocab, kScoringChunk)) : nullptr;
        if (pass == 0) {
            arena_.grow(used * sizeof(float));
            base = arena_.as<float>();
        }
    }
    grow(pos_, t), grow(slot_, t), grow(row_, t);
    grow(tables_, static_cast<size_t>(n) * max_blocks);
    grow(last_, static_cast<size_t>(n));
}

// Points the kernels' integer arguments at device copies: on the CPU the host arrays themselves; on a
// device all tables packed into one staging vector and copied at once.
void Decoder::stage_ints(int T, int n, int max_blocks, const int* tokens, const int* targets) {
    if (be_.host_memory) {
        tokens_d_ = tokens, pos_d_ = pos_.data(), slot_d_ = slot_.data(), row_d_ = row_.data();
        tables_d_ = tables_.data(), targets_d_ = targets, last_d_ = last_.data();
        return;
    }
    const size_t nt = static_cast<size_t>(n) * max_blocks;
    staging_.resize(5 * static_cast<size_t>(T) + nt + n);
    int* h = staging_.data();
    std::copy(tokens, tokens + T, h);
    std::copy(pos_.begin(), pos_.begin() + T, h + T);
    std::copy(slot_.begin(), slot_.begin() + T, h + 2 * T);
    std::copy(row_.begin(), row_.begin() + T, h + 3 * T);
    if (targets) std::copy(targets, targets + T, h + 4 * T);
    std::copy(tables_.begin(), tables_.begin() + nt, h + 5 * T);
    std::copy(last_.begin(), last_.begin() + n, h + 5 * T + nt);
    ints_.grow(staging_.size() * sizeof(int));
    be_.copy(ints_.get(), h, staging_.size() * sizeof(int));
    const int* d = ints_.as<int>();
    tokens_d_ = d, pos_d_ = d + T, slot_d_ = d + 2 * T, row_d_ = d + 3 * T;
    targets_d_ = targets ? d + 4 * T : nullptr, tables_d_ = d + 5 * T, last_d_ = d + 5 * T + nt;
}

size_t Decoder::arena_bytes() const {
    return arena_.bytes() + ints_.bytes() +
           (pos_.size() + slot_.size() + row_.size() + tables_.size()) * sizeof(int);
}

const float* Decoder::extend(const DecodeBatch& batch) {
    run(batch, nullptr, 1.0f, nullptr, true);
    return be_.host_memory ? logits_ : logits_host_.data();
}

const float* Decoder::extend_on_device(const DecodeBatch& batch) {
    run(batch, nullptr, 1.0f, nullptr, false);
    return logits_;
}

const float* Decoder::extend_with_logprobs(const DecodeBatch& batch, const int* targets, float temperature,
                                           float* logprobs) {
    STRIDE_CHECK(targets && logprobs, "Decoder::extend_with_logprobs: targets and logprobs are required");
    STRIDE_CHECK(weights_.dtype() == WeightDtype::fp32,
                 "Decoder::extend_with_logprobs: scoring every position needs fp32 weights (this decoder "
                 "stores them in bf16)");
    run(batch, targets, temperature, logprobs, true);
    return be_.host_memory ? logits_ : logits_host_.data();
}

void Decoder::run(const DecodeBatch& batch, const int* targets, float temperature, float* logprobs,
                  bool logits_to_host) {
    const Backend& ops = be_;
    const ModelConfig& c = model_.config();
    const ModelWeights& w = weights_.views();
    // bf16 weights: the matrices come from weights_.bf16() (null in fp32 mode), everything else from w.
    const bool half = weights_.dtype() == WeightDtype::bf16;
    const ModelMatricesBf16& wb = weights_.bf16();
    auto project = [&](float* out, const float* in, const float* w32, const uint16_t* w16, const float* bias,
                       int rows, int cin, int cout) {
        if (half)
            ops.matmul_forward_bf16(out, in, w16, bias, rows, cin, cout);
        else
            ops.matmul_forward(out, in, w32, bias, rows, cin, cout);
    };
    const int n = batch.num_seqs(), T = batch.num_tokens();
    const int H = c.hidden, Hq = c.q_dim(), Hkv = c.kv_dim(), I = c.intermediate, V = c.vocab, D = c.head_dim;
    STRIDE_CHECK(
        n >= 1 && T >= n && static_cast<int>(batch.cu_tokens.size()) == n + 1 && batch.cu_tokens[n] == T,
        "Decoder: malformed DecodeBatch (use DecodeBatch::add)");
    for (int t = 0; t < T; ++t)
        STRIDE_CHECK(batch.tokens[t] >= 0 && batch.tokens[t] < V,
                     "Decoder: token id " + std::to_string(batch.tokens[t]) + " outside the vocabulary [0, " +
                         std::to_string(V) + ")");

    // ---- cache bookkeeping: check the whole batch fits before changing anything ------------------
    int blocks_needed = 0;
    for (int s = 0; s < n; ++s)
        blocks_needed += cache_.blocks_to_grow(batch.seq_ids[s], batch.cu_tokens[s + 1] - batch.cu_tokens[s]);
    STRIDE_CHECK(blocks_needed <= cache_.blocks_free(),
                 "Decoder: the batch needs " + std::to_string(blocks_needed) + " KV blocks but only " +
                     std::to_string(cache_.blocks_free()) + " are free");
    int max_blocks = 0;
    for (int s = 0; s < n; ++s) {
        const int seq = batch.seq_ids[s];
        cache_.seq_grow(seq, batch.cu_tokens[s + 1] - batch.cu_tokens[s]);
        max_blocks = std::max(max_blocks, static_cast<int>(cache_.seq_block_table(seq).size()));
    }
    reserve(T, n, max_blocks, targets != nullptr);
    for (int s = 0; s < n; ++s) {
        const int seq = batch.seq_ids[s];
        const int count = batch.cu_tokens[s + 1] - batch.cu_tokens[s];
        const int start = cache_.seq_length(seq) - count;  // grown above
        for (int j = 0; j < count; ++j) {
            const int t = batch.cu_tokens[s] + j;
            pos_[t] = start + j;
            slot_[t] = cache_.slot(seq, start + j);
            row_[t] = s;
        }
        const std::vector<int>& table = cache_.seq_block_table(seq);
        int* dst = tables_.data() + static_cast<size_t>(s) * max_blocks;
        std::fill(dst, dst + max_blocks, -1);
        std::copy(table.begin(), table.end(), dst);
        last_[s] = batch.cu_tokens[s + 1] - 1;
    }
    stage_ints(T, n, max_blocks, batch.tokens.data(), targets);

    // ---- layers -----------------------------------------------------------------------------------
    float* x = x_;
    float* xn = xn_;
    if (half)
        ops.embedding_forward_bf16(x, tokens_d_, wb.embed, T, H, V);
    else
        ops.embedding_forward(x, tokens_d_, w.embed, T, H, V);
    const int B = cache_.block_size();
    const bool bf16 = cache_.dtype() == KvDtype::bf16;
    for (int l = 0; l < c.layers; ++l) {
        const LayerWeights& lw = w.layers[l];
        static const LayerMatricesBf16 kNone{};
        const LayerMatricesBf16& lb = half ? wb.layers[l] : kNone;
        if (l == 0) ops.rmsnorm_forward(xn, nullptr, x, lw.attn_norm, T, H, c.rms_eps);
        float* q_proj = c.qk_norm ? q_raw_ : q_;
        float* k_proj = c.qk_norm ? k_raw_ : k_;
        project(q_proj, xn, lw.wq, lb.wq, lw.bq, T, H, Hq);
        project(k_proj, xn, lw.wk, lb.wk, lw.bk, T, H, Hkv);
        project(v_, xn, lw.wv, lb.wv, lw.bv, T, H, Hkv);
        if (c.qk_norm) {  // Qwen3: RMSNorm over head_dim per head, after projection, before RoPE
            ops.rmsnorm_forward(q_, nullptr, q_proj, lw.q_norm, T * c.heads, D, c.rms_eps);
            ops.rmsnorm_forward(k_, nullptr, k_proj, lw.k_norm, T * c.kv_heads, D, c.rms_eps);
        }
        ops.rope_forward(q_, pos_d_, inv_freq_ptr_, T, c.heads, D);
        ops.rope_forward(k_, pos_d_, inv_freq_ptr_, T, c.kv_heads, D);

        // Slot mapping: token t's K/V row goes to (block slot/B, offset slot%B) of this layer. A bf16
        // cache stores the rows rounded to bf16 (attention then reads those, for the new tokens too).
        if (bf16) {
            ops.kv_append_bf16(cache_.block_data_bf16(0, l, 0), cache_.block_data_bf16(0, l, 1),
                               cache_.block_stride(), k_, v_, slot_d_, T, Hkv, B);
            ops.paged_attention_forward_bf16(
                att_, q_, cache_.block_data_bf16(0, l, 0), cache_.block_data_bf16(0, l, 1),
                cache_.block_stride(), tables_d_, max_blocks, row_d_, pos_d_, T, c.heads, c.kv_heads, D, B);
        } else {
            ops.kv_append(cache_.block_data(0, l, 0), cache_.block_data(0, l, 1), cache_.block_stride(), k_,
                          v_, slot_d_, T, Hkv, B);
            ops.paged_attention_forward(att_, q_, cache_.block_data(0, l, 0), cache_.block_data(0, l, 1),
                                        cache_.block_stride(), tables_d_, max_blocks, row_d_, pos_d_, T,
                                        c.heads, c.kv_heads, D, B);
        }

        // x += o_proj(att), then the MLP's norm of it, in one pass.
        project(proj_, att_, lw.wo, lb.wo, lw.bo, T, Hq, H);
        ops.rmsnorm_residual_forward(xn, nullptr, x, proj_, lw.mlp_norm, T, H, c.rms_eps);
        project(gate_, xn, lw.w_gate, lb.w_gate, lw.b_gate, T, H, I);
        project(up_, xn, lw.w_up, lb.w_up, lw.b_up, T, H, I);
        ops.swiglu_forward(act_, gate_, up_, static_cast<size_t>(T) * I);
        project(proj_, act_, lw.w_down, lb.w_down, lw.b_down, T, I, H);
        // x += down(act), fused with the next layer's input norm (the last layer's add stands alone).
        if (l + 1 < c.layers)
            ops.rmsnorm_residual_forward(xn, nullptr, x, proj_, w.layers[l + 1].attn_norm, T, H, c.rms_eps);
        else
            ops.add_inplace(x, proj_, static_cast<size_t>(T) * H);
    }

    // ---- head -------------------------------------------------------------------------------------
    // Gathering each sequence's last row is an embedding lookup with the batch as the table (one
    // call, rather than one copy per sequence).
    if (targets) {
        // Every position is scored: final norm over all T rows, then the chunked LM head.
        ops.rmsnorm_forward(xn, nullptr, x, w.final_norm, T, H, c.rms_eps);
        float* lp = be_.host_memory ? logprobs : lp_;
        ops.lm_head_logprob_forward(lp, nullptr, xn, w.lm_head, targets_d_, T, H, V, temperature,
                                    kScoringChunk, lm_ws_);
        if (lp != logprobs) ops.copy(logprobs, lp, static_cast<size_t>(T) * sizeof(float));
        ops.embedding_forward(last_h_, last_d_, xn, n, H, T);
    } else {
        // Only each sequence's last new token needs logits: gather those n rows, then norm them.
        ops.embedding_forward(xn, last_d_, x, n, H, T);
        ops.rmsnorm_forward(last_h_, nullptr, xn, w.final_norm, n, H, c.rms_eps);
    }
    if (half)
        ops.matmul_forward_bf16(logits_, last_h_, wb.lm_head, nullptr, n, H, V);
    else
        ops.lm_head_logits(logits_, last_h_, w.lm_head, n, H, V);
    if (!be_.host_memory && logits_to_host) {
        logits_host_.resize(static_cast<size_t>(n) * V);
        ops.copy(logits_host_.data(), logits_, logits_host_.size() * sizeof(float));
    }
    ops.sync();
}

}  // namespace stride
