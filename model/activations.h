// The activation arena of Transformer: one allocation holding every tensor the forward pass keeps for
// backward plus the backward pass's scratch, laid out for a token count T. Grown (never shrunk) when a
// larger batch arrives, so steady-state training steps allocate nothing.
// With recompute on, the per-layer tensors exist once (a single slot reused by every layer) and only
// the residual stream entering each layer is kept for all layers. The allocation is made by the
// backend that computes with it (device memory on a device backend).
#pragma once
#include <cstddef>
#include <vector>

#include "model/config.h"
#include "model/device_buffer.h"

namespace stride {

// Tensors of one decoder layer, saved in forward for backward. Views into the arena.
struct LayerActivations {
    float* ln1;       // [T, H]    input_layernorm output
    float* ln1_rstd;  // [T]
    float* q_pre;     // [T, Hq]   q_proj output before q_norm (qk_norm only, else null)
    float* q_rstd;    // [T, nq]   q_norm reciprocal RMS (qk_norm only)
    float* k_pre;     // [T, Hkv]  (qk_norm only)
    float* k_rstd;    // [T, nkv]  (qk_norm only)
    float* q;         // [T, Hq]   after q_norm and RoPE: what attention reads
    float* k;         // [T, Hkv]  after k_norm and RoPE
    float* v;         // [T, Hkv]
    float* att;       // [T, Hq]   attention output (o_proj input)
    float* lse;       // [T, nq]   attention log-sum-exp per (token, head)
    float* res_mid;   // [T, H]    residual stream after the attention block
    float* ln2;       // [T, H]    post_attention_layernorm output
    float* ln2_rstd;  // [T]
    float* gate;      // [T, I]
    float* up;        // [T, I]
    float* act;       // [T, I]    silu(gate) * up (down_proj input)
};

struct Activations {
    // Forward.
    std::vector<float*> residual;  // L + 1 views of [T, H]: input of layer l; residual[L] = last output
    std::vector<LayerActivations> layers;  // L entries; all equal (one shared slot) under recompute
    float* final_norm;                     // [T, H]  model.norm output (LM head input)
    float* final_rstd;                     // [T]
    float* lp_rows;   // [T]     LM head row t: log p(tokens[t+1]) (0 where t ends its sequence)
    float* ent_rows;  // [T]     entropy of the distribution predicting tokens[t+1]
    float* logits;    // [min(chunk, T), V] LM head logits of one chunk (forward and backward)
    // Backward scratch, shared by all layers.
    float* d_res;       // [T, H]  gradient w.r.t. the residual stream at the current layer boundary
    float* d_x;         // [T, H]  gradient w.r.t. a norm output
    float* d_att;       // [T, Hq]
    float* d_q;         // [T, Hq]
    float* d_k;         // [T, Hkv]
    float* d_v;         // [T, Hkv]
    float* d_q_pre;     // [T, Hq]  (qk_norm only)
    float* d_k_pre;     // [T, Hkv] (qk_norm only)
    float* d_gate;      // [T, I]
    float* d_up;        // [T, I]
    float* d_act;       // [T, I]
    float* g_lp_rows;   // [T]     upstream gradients realigned to LM head rows
    float* g_ent_rows;  // [T]
};

class ActivationArena {
   public:
    explicit ActivationArena(const Backend& backend = cpu_backend()) { buf_.set_backend(backend); }
    ActivationArena(const ActivationArena&) = delete;
    ActivationArena& operator=(const ActivationArena&) = delete;

    // Lays out views for T tokens, growing the allocation if needed. Contents are not preserved.
    Activations& layout(const ModelConfig& cfg, int T, bool recompute, int logprob_chunk);
    size_t bytes() const { return buf_.bytes(); }

   private:
    DeviceBuffer buf_;
    Activations acts_;
};

}  // namespace stride
