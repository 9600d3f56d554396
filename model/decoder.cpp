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

Decoder::Decoder(const Model& model, KvCache& cache) : model_(model), cache_(cache) {
    const ModelConfig& c = model.config();
    STRIDE_CHECK(
        cache.layers() == c.layers && cache.kv_heads() == c.kv_heads && cache.head_dim() == c.head_dim,
        "Decoder: KV cache shape (layers, kv_heads, head_dim) does not match the model");
    inv_freq_ = rope_inv_freq(c);
}

template <typename T>
static void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

void Decoder::reserve(int T, int n, int max_blocks) {
    const ModelConfig& c = model_.config();
    const size_t t = T, H = c.hidden, Hq = c.q_dim(), Hkv = c.kv_dim(), I = c.intermediate;
    grow(x_, t * H), grow(xn_, t * H), grow(proj_, t * H);
    grow(q_raw_, t * Hq), grow(q_, t * Hq), grow(att_, t * Hq);
    grow(k_raw_, t * Hkv), grow(k_, t * Hkv), grow(v_, t * Hkv);
    grow(gate_, t * I), grow(up_, t * I), grow(act_, t * I);
    grow(last_, static_cast<size_t>(n) * H), grow(logits_, static_cast<size_t>(n) * c.vocab);
    grow(pos_, t), grow(slot_, t), grow(row_, t);
    grow(tables_, static_cast<size_t>(n) * max_blocks);
}

size_t Decoder::arena_bytes() const {
    size_t f = x_.size() + xn_.size() + q_raw_.size() + k_raw_.size() + q_.size() + k_.size() + v_.size() +
               att_.size() + proj_.size() + gate_.size() + up_.size() + act_.size() + last_.size() +
               logits_.size();
    size_t i = pos_.size() + slot_.size() + row_.size() + tables_.size();
    return f * sizeof(float) + i * sizeof(int);
}

const float* Decoder::extend(const DecodeBatch& batch) {
    run(batch, nullptr, 1.0f, nullptr);
    return logits_.data();
}

const float* Decoder::extend_with_logprobs(const DecodeBatch& batch, const int* targets, float temperature,
                                           float* logprobs) {
    STRIDE_CHECK(targets && logprobs, "Decoder::extend_with_logprobs: targets and logprobs are required");
    run(batch, targets, temperature, logprobs);
    return logits_.data();
}

void Decoder::run(const DecodeBatch& batch, const int* targets, float temperature, float* logprobs) {
    const Backend& ops = cpu_backend();
    const ModelConfig& c = model_.config();
    const ModelWeights& w = model_.w;
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
    reserve(T, n, max_blocks);
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
    }

    // ---- layers -----------------------------------------------------------------------------------
    float* x = x_.data();
    float* xn = xn_.data();
    ops.embedding_forward(x, batch.tokens.data(), w.embed, T, H, V);
    const int B = cache_.block_size();
    const size_t kv_row = static_cast<size_t>(Hkv);
    for (int l = 0; l < c.layers; ++l) {
        const LayerWeights& lw = w.layers[l];
        ops.rmsnorm_forward(xn, nullptr, x, lw.attn_norm, T, H, c.rms_eps);
        float* q_proj = c.qk_norm ? q_raw_.data() : q_.data();
        float* k_proj = c.qk_norm ? k_raw_.data() : k_.data();
        ops.matmul_forward(q_proj, xn, lw.wq, lw.bq, T, H, Hq);
        ops.matmul_forward(k_proj, xn, lw.wk, lw.bk, T, H, Hkv);
        ops.matmul_forward(v_.data(), xn, lw.wv, lw.bv, T, H, Hkv);
        if (c.qk_norm) {  // Qwen3: RMSNorm over head_dim per head, after projection, before RoPE
            ops.rmsnorm_forward(q_.data(), nullptr, q_proj, lw.q_norm, T * c.heads, D, c.rms_eps);
            ops.rmsnorm_forward(k_.data(), nullptr, k_proj, lw.k_norm, T * c.kv_heads, D, c.rms_eps);
        }
        ops.rope_forward(q_.data(), pos_.data(), inv_freq_.data(), T, c.heads, D);
        ops.rope_forward(k_.data(), pos_.data(), inv_freq_.data(), T, c.kv_heads, D);

        // Slot mapping: token t's K/V row goes to (block slot/B, offset slot%B) of this layer.
        // (Threads only pay off for big prefills; a decode step copies a few KB.)
        // A bf16 cache stores the rows rounded to bf16 (attention then reads those, for the new tokens too).
        const bool bf16 = cache_.dtype() == KvDtype::bf16;
#pragma omp parallel for if (T >= 256)
        for (int t = 0; t < T; ++t) {
            const int block = slot_[t] / B, off = slot_[t] % B;
            const float* kt = k_.data() + t * kv_row;
            const float* vt = v_.data() + t * kv_row;
            if (bf16) {
                uint16_t* kd = cache_.block_data_bf16(block, l, 0) + off * kv_row;
                uint16_t* vd = cache_.block_data_bf16(block, l, 1) + off * kv_row;
                for (size_t i = 0; i < kv_row; ++i)
                    kd[i] = bf16_from_float(kt[i]), vd[i] = bf16_from_float(vt[i]);
            } else {
                std::memcpy(cache_.block_data(block, l, 0) + off * kv_row, kt, kv_row * sizeof(float));
                std::memcpy(cache_.block_data(block, l, 1) + off * kv_row, vt, kv_row * sizeof(float));
            }
        }
        if (bf16)
            ops.paged_attention_forward_bf16(att_.data(), q_.data(), cache_.block_data_bf16(0, l, 0),
                                             cache_.block_data_bf16(0, l, 1), cache_.block_stride(),
                                             tables_.data(), max_blocks, row_.data(), pos_.data(), T, c.heads,
                                             c.kv_heads, D, B);
        else
            ops.paged_attention_forward(att_.data(), q_.data(), cache_.block_data(0, l, 0),
                                        cache_.block_data(0, l, 1), cache_.block_stride(), tables_.data(),
                                        max_blocks, row_.data(), pos_.data(), T, c.heads, c.kv_heads, D, B);

        ops.matmul_forward(proj_.data(), att_.data(), lw.wo, lw.bo, T, Hq, H);
        const long long TH = static_cast<long long>(T) * H;
#pragma omp parallel for simd if (TH >= 65536)
        for (long long i = 0; i < TH; ++i) x[i] += proj_[i];

        ops.rmsnorm_forward(xn, nullptr, x, lw.mlp_norm, T, H, c.rms_eps);
        ops.matmul_forward(gate_.data(), xn, lw.w_gate, lw.b_gate, T, H, I);
        ops.matmul_forward(up_.data(), xn, lw.w_up, lw.b_up, T, H, I);
        ops.swiglu_forward(act_.data(), gate_.data(), up_.data(), static_cast<size_t>(T) * I);
        ops.matmul_forward(proj_.data(), act_.data(), lw.w_down, lw.b_down, T, I, H);
#pragma omp parallel for simd if (TH >= 65536)
        for (long long i = 0; i < TH; ++i) x[i] += proj_[i];
    }

    // ---- head -------------------------------------------------------------------------------------
    if (targets) {
        // Every position is scored: final norm over all T rows, then the chunked LM head.
        ops.rmsnorm_forward(xn, nullptr, x, w.final_norm, T, H, c.rms_eps);
        ops.lm_head_logprob_forward(logprobs, nullptr, xn, w.lm_head, targets, T, H, V, temperature, 256,
                                    nullptr);
        for (int s = 0; s < n; ++s)
            std::memcpy(last_.data() + static_cast<size_t>(s) * H,
                        xn + static_cast<size_t>(batch.cu_tokens[s + 1] - 1) * H, H * sizeof(float));
    } else {
        // Only each sequence's last new token needs logits: gather those n rows, then norm them.
        for (int s = 0; s < n; ++s)
            std::memcpy(xn + static_cast<size_t>(s) * H,
                        x + static_cast<size_t>(batch.cu_tokens[s + 1] - 1) * H, H * sizeof(float));
        ops.rmsnorm_forward(last_.data(), nullptr, xn, w.final_norm, n, H, c.rms_eps);
    }
    ops.lm_head_logits(logits_.data(), last_.data(), w.lm_head, n, H, V);
}

}  // namespace stride
