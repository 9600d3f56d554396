// Decoder forward and backward over a packed batch (llm.c style: explicit ops, one activation arena).
// Layer l:  x = rmsnorm(r_l);  q,k,v = x W^T (+b);  [qk_norm];  rope(q, k);  a = attention(q, k, v);
//           m = r_l + a Wo^T (+bo);  y = rmsnorm(m);  r_{l+1} = m + down(silu(gate(y)) * up(y)).
// Head:     f = rmsnorm(r_L);  row t of the chunked LM head scores tokens[t+1] (same sequence only).
// Checked against an independent PyTorch implementation in tests/model/test_transformer_vs_torch.cpp.
#include "model/transformer.h"

#include <cstring>
#include <string>

#include "common/base/error.h"
#include "common/base/parallel.h"
#include "model/activations.h"
#include "model/backend.h"
#include "model/device_weights.h"
#include "model/ops/attention.h"
#include "model/ops/embedding.h"
#include "model/ops/logprob.h"
#include "model/ops/matmul.h"
#include "model/ops/rmsnorm.h"
#include "model/ops/rope.h"
#include "model/ops/swiglu.h"

namespace stride {

void PackedBatch::add_sequence(const std::vector<int>& seq) {
    tokens.insert(tokens.end(), seq.begin(), seq.end());
    for (int i = 0; i < static_cast<int>(seq.size()); ++i) positions.push_back(i);
    cu_seqlens.push_back(static_cast<int>(tokens.size()));
}

namespace {

// The host array itself on the CPU backend (no copy); else a copy in `buf` on the device.
template <class T>
const T* on_device(const Backend& be, DeviceBuffer& buf, const std::vector<T>& host) {
    if (be.host_memory || host.empty()) return host.data();
    buf.grow(host.size() * sizeof(T));
    be.copy(buf.get(), host.data(), host.size() * sizeof(T));
    return buf.as<T>();
}

}  // namespace

struct Transformer::Impl {
    const Model& model;
    const Backend& ops;
    DeviceWeights weights;        // the model's weights on ops' device
    const ModelWeights& w;        // weights.views()
    std::vector<float> inv_freq;  // [D/2] RoPE inverse frequencies
    DeviceBuffer inv_freq_dev;    // the same on the device
    const float* inv_freq_ptr;
    ActivationArena arena;
    // The last forward's batch, kept for backward (host), and its device copies.
    Activations* acts = nullptr;
    std::vector<int> tokens, positions, cu_seqlens, targets;  // targets[t] = tokens[t+1] or -1
    DeviceBuffer tokens_dev, positions_dev, cu_seqlens_dev, targets_dev, g_hidden_dev;
    const int *tokens_ptr = nullptr, *positions_ptr = nullptr, *cu_seqlens_ptr = nullptr,
              *targets_ptr = nullptr;
    std::vector<float> host_rows;    // lp_rows / ent_rows brought back from a device
    std::vector<float> g_rows;       // [2T] the backward's per-row gradients, realigned on the host
    std::vector<float> hidden_host;  // final_hidden_host()'s copy on a device
    ForwardOptions opt;

    Impl(const Model& m, const Backend& be)
        : model(m),
          ops(be),
          weights(m, be),
          w(weights.views()),
          inv_freq(rope_inv_freq(m.config())),
          inv_freq_dev(be, 0),
          arena(be) {
        for (auto* b : {&tokens_dev, &positions_dev, &cu_seqlens_dev, &targets_dev, &g_hidden_dev})
            b->set_backend(be);
        inv_freq_ptr = on_device(be, inv_freq_dev, inv_freq);
    }

    void zero(float* p, size_t n) const { ops.zero(p, n * sizeof(float)); }
    void add_inplace(float* y, const float* x, size_t n) const { ops.add_inplace(y, x, n); }

    int T() const { return static_cast<int>(tokens.size()); }
    int n_seqs() const { return static_cast<int>(cu_seqlens.size()) - 1; }

    // Forward of layer l from its input x_in. Writes x_out (the next residual) unless null, which
    // recompute-mode backward uses to rebuild only the tensors the layer's backward needs.
    void layer_forward(int l, const float* x_in, float* x_out) {
        const ModelConfig& c = model.config();
        const LayerWeights& w = this->w.layers[l];
        LayerActivations& a = acts->layers[l];
        const int T = this->T(), H = c.hidden, I = c.intermediate, D = c.head_dim;
        const int nq = c.heads, nkv = c.kv_heads, Hq = c.q_dim(), Hkv = c.kv_dim();

        ops.rmsnorm_forward(a.ln1, a.ln1_rstd, x_in, w.attn_norm, T, H, c.rms_eps);
        ops.matmul_forward(c.qk_norm ? a.q_pre : a.q, a.ln1, w.wq, w.bq, T, H, Hq);
        ops.matmul_forward(c.qk_norm ? a.k_pre : a.k, a.ln1, w.wk, w.bk, T, H, Hkv);
        ops.matmul_forward(a.v, a.ln1, w.wv, w.bv, T, H, Hkv);
        if (c.qk_norm) {  // Qwen3: per-head RMSNorm over D, after projection, before RoPE
            ops.rmsnorm_forward(a.q, a.q_rstd, a.q_pre, w.q_norm, T * nq, D, c.rms_eps);
            ops.rmsnorm_forward(a.k, a.k_rstd, a.k_pre, w.k_norm, T * nkv, D, c.rms_eps);
        }
        ops.rope_forward(a.q, positions_ptr, inv_freq_ptr, T, nq, D);
        ops.rope_forward(a.k, positions_ptr, inv_freq_ptr, T, nkv, D);
        ops.attention_forward(a.att, a.lse, a.q, a.k, a.v, cu_seqlens_ptr, n_seqs(), T, nq, nkv, D);
        ops.matmul_forward(a.res_mid, a.att, w.wo, w.bo, T, Hq, H);
        add_inplace(a.res_mid, x_in, (size_t)T * H);

        ops.rmsnorm_forward(a.ln2, a.ln2_rstd, a.res_mid, w.mlp_norm, T, H, c.rms_eps);
        ops.matmul_forward(a.gate, a.ln2, w.w_gate, w.b_gate, T, H, I);
        ops.matmul_forward(a.up, a.ln2, w.w_up, w.b_up, T, H, I);
        ops.swiglu_forward(a.act, a.gate, a.up, (size_t)T * I);
        if (x_out) {
            ops.matmul_forward(x_out, a.act, w.w_down, w.b_down, T, I, H);
            add_inplace(x_out, a.res_mid, (size_t)T * H);
        }
    }

    // On entry acts->d_res = dL/d r_{l+1}; on exit dL/d r_l. Parameter gradients accumulate into g.
    void layer_backward(int l, const LayerWeights& g) {
        const ModelConfig& c = model.config();
        const LayerWeights& w = this->w.layers[l];
        const LayerActivations& a = acts->layers[l];
        Activations& A = *acts;
        const int T = this->T(), H = c.hidden, I = c.intermediate, D = c.head_dim;
        const int nq = c.heads, nkv = c.kv_heads, Hq = c.q_dim(), Hkv = c.kv_dim();
        const float* x_in = A.residual[l];

        // MLP block: r_{l+1} = m + down(act); the residual path passes d_res through unchanged.
        zero(A.d_act, (size_t)T * I);
        ops.matmul_backward(A.d_act, g.w_down, g.b_down, A.d_res, a.act, w.w_down, T, I, H);
        ops.swiglu_backward(A.d_gate, A.d_up, A.d_act, a.gate, a.up, (size_t)T * I);
        zero(A.d_x, (size_t)T * H);
        ops.matmul_backward(A.d_x, g.w_gate, g.b_gate, A.d_gate, a.ln2, w.w_gate, T, H, I);
        ops.matmul_backward(A.d_x, g.w_up, g.b_up, A.d_up, a.ln2, w.w_up, T, H, I);
        ops.rmsnorm_backward(A.d_res, g.mlp_norm, A.d_x, a.res_mid, w.mlp_norm, a.ln2_rstd, T, H);

        // Attention block: m = r_l + o_proj(att).
        zero(A.d_att, (size_t)T * Hq);
        ops.matmul_backward(A.d_att, g.wo, g.bo, A.d_res, a.att, w.wo, T, Hq, H);
        ops.attention_backward(A.d_q, A.d_k, A.d_v, A.d_att, a.att, a.lse, a.q, a.k, a.v, cu_seqlens_ptr,
                               n_seqs(), T, nq, nkv, D);
        ops.rope_backward(A.d_q, positions_ptr, inv_freq_ptr, T, nq, D);
        ops.rope_backward(A.d_k, positions_ptr, inv_freq_ptr, T, nkv, D);
        const float* dq = A.d_q;
        const float* dk = A.d_k;
        if (c.qk_norm) {
            zero(A.d_q_pre, (size_t)T * Hq);
            zero(A.d_k_pre, (size_t)T * Hkv);
            ops.rmsnorm_backward(A.d_q_pre, g.q_norm, A.d_q, a.q_pre, w.q_norm, a.q_rstd, T * nq, D);
            ops.rmsnorm_backward(A.d_k_pre, g.k_norm, A.d_k, a.k_pre, w.k_norm, a.k_rstd, T * nkv, D);
            dq = A.d_q_pre;
            dk = A.d_k_pre;
        }
        zero(A.d_x, (size_t)T * H);
        ops.matmul_backward(A.d_x, g.wq, g.bq, dq, a.ln1, w.wq, T, H, Hq);
        ops.matmul_backward(A.d_x, g.wk, g.bk, dk, a.ln1, w.wk, T, H, Hkv);
        ops.matmul_backward(A.d_x, g.wv, g.bv, A.d_v, a.ln1, w.wv, T, H, Hkv);
        ops.rmsnorm_backward(A.d_res, g.attn_norm, A.d_x, x_in, w.attn_norm, a.ln1_rstd, T, H);
    }

    // Views of a gradient buffer with the weights' layout, by pointer offset (no name lookups).
    ModelWeights grad_views(float* grads) const {
        const float* base = weights.base();
        auto re = [&](const float* p) -> float* { return p ? grads + (p - base) : nullptr; };
        ModelWeights g = w;
        g.embed = re(w.embed);
        g.final_norm = re(w.final_norm);
        g.lm_head = re(w.lm_head);  // == g.embed when tied: head and embedding grads add up
        for (LayerWeights& L : g.layers) {
            for (float** f :
                 {&L.attn_norm, &L.wq, &L.bq, &L.wk, &L.bk, &L.wv, &L.bv, &L.wo, &L.bo, &L.q_norm, &L.k_norm,
                  &L.mlp_norm, &L.w_gate, &L.b_gate, &L.w_up, &L.b_up, &L.w_down, &L.b_down})
                *f = re(*f);
        }
        return g;
    }
};

Transformer::Transformer(const Model& model, const Backend& backend) : impl_(new Impl(model, backend)) {
    init_threads();
}

void Transformer::weights_changed() {
    impl_->weights.upload();
}
Transformer::~Transformer() {
    delete impl_;
}

size_t Transformer::activation_bytes() const {
    return impl_->arena.bytes();
}

TokenScores Transformer::forward(const PackedBatch& batch, const ForwardOptions& opt) {
    Impl& m = *impl_;
    const Backend& ops = m.ops;
    const ModelConfig& c = m.model.config();
    const int T = batch.num_tokens();
    STRIDE_CHECK(batch.positions.size() == batch.tokens.size(),
                 "forward: batch has " + std::to_string(batch.positions.size()) + " positions for " +
                     std::to_string(T) + " tokens");
    STRIDE_CHECK(!batch.cu_seqlens.empty() && batch.cu_seqlens.front() == 0 && batch.cu_seqlens.back() == T,
                 "forward: cu_seqlens must start at 0 and end at the token count " + std::to_string(T));
    for (size_t s = 1; s < batch.cu_seqlens.size(); ++s)
        STRIDE_CHECK(batch.cu_seqlens[s] >= batch.cu_seqlens[s - 1], "forward: cu_seqlens must not decrease");
    STRIDE_CHECK(opt.temperature > 0.0f, "forward: temperature must be > 0");
    STRIDE_CHECK(opt.logprob_chunk > 0, "forward: logprob_chunk must be > 0");

    m.opt = opt;
    // Without the LM head no logits are computed: a one-row workspace keeps the arena small.
    const int chunk = opt.lm_head ? opt.logprob_chunk : 1;
    if (T == 0) {  // nothing to score (BLAS rejects empty GEMMs); backward will be a no-op
        m.tokens.clear(), m.positions.clear(), m.targets.clear(), m.cu_seqlens = batch.cu_seqlens;
        m.acts = &m.arena.layout(c, 0, opt.recompute, chunk);
        return {};
    }
    if (!ops.host_memory)  // a kernel cannot throw: check ids here (the CPU op checks its own)
        for (int t = 0; t < T; ++t)
            STRIDE_CHECK(batch.tokens[t] >= 0 && batch.tokens[t] < c.vocab,
                         "token id " + std::to_string(batch.tokens[t]) + " at position " + std::to_string(t) +
                             " is outside the vocabulary [0, " + std::to_string(c.vocab) + ")");
    m.tokens = batch.tokens;
    m.positions = batch.positions;
    m.cu_seqlens = batch.cu_seqlens;
    m.targets.assign(T, -1);
    for (int s = 0; s < batch.num_seqs(); ++s)
        for (int t = batch.cu_seqlens[s]; t + 1 < batch.cu_seqlens[s + 1]; ++t)
            m.targets[t] = batch.tokens[t + 1];
    m.acts = &m.arena.layout(c, T, opt.recompute, chunk);
    Activations& A = *m.acts;
    const int H = c.hidden;
    m.tokens_ptr = on_device(ops, m.tokens_dev, m.tokens);
    m.positions_ptr = on_device(ops, m.positions_dev, m.positions);
    m.cu_seqlens_ptr = on_device(ops, m.cu_seqlens_dev, m.cu_seqlens);
    m.targets_ptr = on_device(ops, m.targets_dev, m.targets);

    ops.embedding_forward(A.residual[0], m.tokens_ptr, m.w.embed, T, H, c.vocab);
    for (int l = 0; l < c.layers; ++l) m.layer_forward(l, A.residual[l], A.residual[l + 1]);
    ops.rmsnorm_forward(A.final_norm, A.final_rstd, A.residual[c.layers], m.w.final_norm, T, H, c.rms_eps);
    if (!opt.lm_head) {  // a critic: final_hidden() is all it reads
        ops.sync();
        return {};
    }
    ops.lm_head_logprob_forward(A.lp_rows, A.ent_rows, A.final_norm, m.w.lm_head, m.targets_ptr, T, H,
                                c.vocab, opt.temperature, opt.logprob_chunk, A.logits);
    const float* lp_rows = A.lp_rows;
    const float* ent_rows = A.ent_rows;
    if (!ops.host_memory) {  // bring the 2T scores back (lp_rows and ent_rows are adjacent views)
        m.host_rows.resize(2 * (size_t)T);
        ops.copy(m.host_rows.data(), A.lp_rows, T * sizeof(float));
        ops.copy(m.host_rows.data() + T, A.ent_rows, T * sizeof(float));
        ops.sync();
        lp_rows = m.host_rows.data(), ent_rows = m.host_rows.data() + T;
    }

    // Row t predicted token t+1: move results to the position of the predicted token.
    TokenScores out;
    out.logprob.assign(T, 0.0f);
    out.entropy.assign(T, 0.0f);
    for (int t = 0; t < T; ++t) {
        if (m.targets[t] < 0) continue;
        out.logprob[t + 1] = lp_rows[t];
        out.entropy[t + 1] = ent_rows[t];
    }
    return out;
}

const float* Transformer::final_hidden() const {
    return impl_->acts && impl_->T() > 0 ? impl_->acts->final_norm : nullptr;
}

const float* Transformer::final_hidden_host() {
    Impl& m = *impl_;
    const float* rows = final_hidden();
    if (!rows || m.ops.host_memory) return rows;
    m.hidden_host.resize((size_t)m.T() * m.model.config().hidden);
    m.ops.copy(m.hidden_host.data(), rows, m.hidden_host.size() * sizeof(float));
    m.ops.sync();
    return m.hidden_host.data();
}

float* Transformer::device_weights() {
    return impl_->weights.device_data();
}

bool Transformer::can_train(const Backend& be) {
    return be.has(&Backend::matmul_backward) && be.has(&Backend::rmsnorm_backward) &&
           be.has(&Backend::rope_backward) && be.has(&Backend::swiglu_backward) &&
           be.has(&Backend::attention_backward) && be.has(&Backend::embedding_backward) &&
           be.has(&Backend::lm_head_logprob_backward) && be.has(&Backend::adamw_step) &&
           be.has(&Backend::sum_squares) && be.has(&Backend::scale);
}

void Transformer::backward(const std::vector<float>& g_logprob, const std::vector<float>& g_entropy,
                           float* grads, const float* g_final_hidden) {
    Impl& m = *impl_;
    const Backend& ops = m.ops;
    STRIDE_CHECK(m.acts != nullptr, "backward: call forward() first");
    STRIDE_CHECK(grads != nullptr, "backward: gradient buffer is null");
    const ModelConfig& c = m.model.config();
    const int T = m.T(), H = c.hidden;
    STRIDE_CHECK(g_logprob.empty() || g_logprob.size() == (size_t)T,
                 "backward: g_logprob has " + std::to_string(g_logprob.size()) + " values for " +
                     std::to_string(T) + " tokens (or pass it empty)");
    STRIDE_CHECK(g_entropy.empty() || g_entropy.size() == (size_t)T,
                 "backward: g_entropy has " + std::to_string(g_entropy.size()) + " values for " +
                     std::to_string(T) + " tokens (or pass it empty)");
    STRIDE_CHECK(m.opt.lm_head || (g_logprob.empty() && g_entropy.empty()),
                 "backward: the forward skipped the LM head, so only g_final_hidden can flow back");
    if (T == 0) return;
    STRIDE_CHECK(can_train(ops),
                 std::string("backward: not available on the ") + ops.name +
                     " backend yet (it lacks a backward kernel); train with trainer.device=cpu");
    Activations& A = *m.acts;
    const ModelWeights g = m.grad_views(grads);

    m.zero(A.d_x, (size_t)T * H);
    if (!g_logprob.empty() || !g_entropy.empty()) {
        // Realign per-position gradients to LM head rows (row t predicts position t+1), on the host
        // (targets live there), then one copy each into the arena's rows.
        m.g_rows.assign(2 * (size_t)T, 0.0f);
        for (int t = 0; t < T; ++t) {
            if (m.targets[t] < 0) continue;
            if (!g_logprob.empty()) m.g_rows[t] = g_logprob[t + 1];
            if (!g_entropy.empty()) m.g_rows[T + t] = g_entropy[t + 1];
        }
        ops.copy(A.g_lp_rows, m.g_rows.data(), T * sizeof(float));
        ops.copy(A.g_ent_rows, m.g_rows.data() + T, T * sizeof(float));
        ops.lm_head_logprob_backward(A.d_x, g.lm_head, A.g_lp_rows, A.g_ent_rows, A.final_norm, m.w.lm_head,
                                     m.targets_ptr, T, H, c.vocab, m.opt.temperature, m.opt.logprob_chunk,
                                     A.logits);
    }
    if (g_final_hidden) {  // a host array: on a device, one copy up first
        const size_t n = (size_t)T * H;
        const float* g = g_final_hidden;
        if (!ops.host_memory) {
            m.g_hidden_dev.grow(n * sizeof(float));
            ops.copy(m.g_hidden_dev.get(), g_final_hidden, n * sizeof(float));
            g = m.g_hidden_dev.as<float>();
        }
        m.add_inplace(A.d_x, g, n);
    }
    m.zero(A.d_res, (size_t)T * H);
    ops.rmsnorm_backward(A.d_res, g.final_norm, A.d_x, A.residual[c.layers], m.w.final_norm, A.final_rstd, T,
                         H);
    for (int l = c.layers - 1; l >= 0; --l) {
        if (m.opt.recompute) m.layer_forward(l, A.residual[l], nullptr);
        m.layer_backward(l, g.layers[l]);
    }
    ops.embedding_backward(g.embed, A.d_res, m.tokens_ptr, T, H);
    ops.sync();  // the host arrays copied from above may change once this returns
}

}  // namespace stride
