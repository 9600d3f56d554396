#include "model/activations.h"

namespace stride {

namespace {

// Hands out consecutive 64-byte-aligned views; with base == null it only counts (first pass).
struct Carver {
    float* base;
    size_t used = 0;  // floats
    float* take(size_t n) {
        float* p = base ? base + used : nullptr;
        used += (n + 15) / 16 * 16;  // keep every view 64-byte aligned
        return p;
    }
};

void carve(Activations& a, Carver& c, const ModelConfig& cfg, int T, bool recompute, int chunk) {
    const size_t t = (size_t)T, H = cfg.hidden, I = cfg.intermediate, Hq = cfg.q_dim(), Hkv = cfg.kv_dim();
    const size_t nq = cfg.heads, nkv = cfg.kv_heads;
    const bool qkn = cfg.qk_norm;
    a.residual.resize(cfg.layers + 1);
    for (float*& r : a.residual) r = c.take(t * H);
    a.layers.resize(cfg.layers);
    const int slots = recompute ? 1 : cfg.layers;
    for (int l = 0; l < slots; ++l) {
        LayerActivations& L = a.layers[l];
        L.ln1 = c.take(t * H);
        L.ln1_rstd = c.take(t);
        L.q_pre = qkn ? c.take(t * Hq) : nullptr;
        L.q_rstd = qkn ? c.take(t * nq) : nullptr;
        L.k_pre = qkn ? c.take(t * Hkv) : nullptr;
        L.k_rstd = qkn ? c.take(t * nkv) : nullptr;
        L.q = c.take(t * Hq);
        L.k = c.take(t * Hkv);
        L.v = c.take(t * Hkv);
        L.att = c.take(t * Hq);
        L.lse = c.take(t * nq);
        L.res_mid = c.take(t * H);
        L.ln2 = c.take(t * H);
        L.ln2_rstd = c.take(t);
        L.gate = c.take(t * I);
        L.up = c.take(t * I);
        L.act = c.take(t * I);
    }
    for (int l = slots; l < cfg.layers; ++l) a.layers[l] = a.layers[0];
    a.final_norm = c.take(t * H);
    a.final_rstd = c.take(t);
    a.lp_rows = c.take(t);
    a.ent_rows = c.take(t);
    a.logits = c.take((size_t)(chunk < T ? chunk : T) * cfg.vocab);
    a.d_res = c.take(t * H);
    a.d_x = c.take(t * H);
    a.d_att = c.take(t * Hq);
    a.d_q = c.take(t * Hq);
    a.d_k = c.take(t * Hkv);
    a.d_v = c.take(t * Hkv);
    a.d_q_pre = qkn ? c.take(t * Hq) : nullptr;
    a.d_k_pre = qkn ? c.take(t * Hkv) : nullptr;
    a.d_gate = c.take(t * I);
    a.d_up = c.take(t * I);
    a.d_act = c.take(t * I);
    a.g_lp_rows = c.take(t);
    a.g_ent_rows = c.take(t);
}

}  // namespace

Activations& ActivationArena::layout(const ModelConfig& cfg, int T, bool recompute, int logprob_chunk) {
    Carver count{nullptr};
    carve(acts_, count, cfg, T, recompute, logprob_chunk);
    buf_.grow(count.used * sizeof(float));
    Carver place{buf_.as<float>()};
    carve(acts_, place, cfg, T, recompute, logprob_chunk);
    return acts_;
}

}  // namespace stride
