#!/usr/bin/python3
"""Independent PyTorch (1.13, float64) reference of the Llama / Qwen2 / Qwen3 decoder forward pass as
Hugging Face transformers computes it, used as ground truth by tests/model/test_transformer_vs_torch.cpp.

Reads DIR/meta.json (config, parameter names/shapes in flat-buffer order, token sequences, loss
coefficients a/b, temperature) and DIR/weights.bin (float32, parameters concatenated in that order).
Scores each sequence on its own (no packing), so a packing bug in the engine cannot hide here.
Writes DIR/out.bin (float64): logprob[T], entropy[T], then d loss / d param for every parameter in the
same flat order, where loss = sum_t a_t * logprob_t + b_t * entropy_t and T counts all packed tokens.
Conventions: logprob_t = log p(tok_t | earlier tokens of its sequence), entropy_t = entropy of the
temperature-scaled distribution that predicted tok_t; both 0 at each sequence's first token.

Usage: /usr/bin/python3 torch_model.py DIR [DIR ...]
"""
import json
import math
import sys

import numpy as np
import torch


def rope_inv_freq(cfg):
    # modeling_rope_utils.py: _compute_default_rope_parameters (fp32), then linear / llama3 scaling.
    D = cfg["head_dim"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    rs = cfg["rope_scaling"]
    if rs["type"] == "linear":
        inv_freq = inv_freq / rs["factor"]
    elif rs["type"] == "llama3":
        factor = rs["factor"]
        low_freq_factor = rs["low_freq_factor"]
        high_freq_factor = rs["high_freq_factor"]
        old_context_len = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    else:
        assert rs["type"] == "none", rs["type"]
    return inv_freq


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def linear(x, p, name):
    y = x @ p[name + ".weight"].t()
    if name + ".bias" in p:
        y = y + p[name + ".bias"]
    return y


def score_sequence(cfg, p, ids, temperature):
    """Returns (logprob[n], entropy[n]) for one sequence of token ids."""
    n = len(ids)
    H, nq, nkv, D = cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    eps = cfg["rms_eps"]
    ids_t = torch.tensor(ids, dtype=torch.long)
    h = p["model.embed_tokens.weight"][ids_t]  # [n, H]

    # HF: freqs = inv_freq (fp32) x position_ids (fp32); emb = cat(freqs, freqs); cos/sin in fp32.
    pos = torch.arange(n, dtype=torch.float32)
    freqs = pos[:, None] * rope_inv_freq(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos().double()[:, None, :]  # [n, 1, D]
    sin = emb.sin().double()[:, None, :]
    causal = torch.ones(n, n, dtype=torch.bool).tril()

    for l in range(cfg["layers"]):
        pre = "model.layers.%d." % l
        x = rms_norm(h, p[pre + "input_layernorm.weight"], eps)
        q = linear(x, p, pre + "self_attn.q_proj").view(n, nq, D)
        k = linear(x, p, pre + "self_attn.k_proj").view(n, nkv, D)
        v = linear(x, p, pre + "self_attn.v_proj").view(n, nkv, D)
        if cfg["qk_norm"]:
            q = rms_norm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[pre + "self_attn.k_norm.weight"], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # repeat_kv: kv head j serves query heads j*rep .. j*rep + rep - 1.
        rep = nq // nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(D)  # [nq, n, n]
        scores = scores.masked_fill(~causal, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        att = torch.einsum("hij,jhd->ihd", probs, v).reshape(n, nq * D)
        h = h + linear(att, p, pre + "self_attn.o_proj")
        x2 = rms_norm(h, p[pre + "post_attention_layernorm.weight"], eps)
        gate = linear(x2, p, pre + "mlp.gate_proj")
        up = linear(x2, p, pre + "mlp.up_proj")
        h = h + linear(torch.nn.functional.silu(gate) * up, p, pre + "mlp.down_proj")

    h = rms_norm(h, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_embeddings"] else p["lm_head.weight"]
    logits = (h @ head.t()) / temperature  # [n, V]
    logp = torch.log_softmax(logits, dim=-1)
    ent_rows = -(logp.exp() * logp).sum(-1)
    zero = torch.zeros(1, dtype=torch.float64)
    lp = torch.cat((zero, logp[torch.arange(n - 1), ids_t[1:]]))
    ent = torch.cat((zero, ent_rows[: n - 1]))
    return lp, ent


def run(d):
    with open(d + "/meta.json") as f:
        meta = json.load(f)
    cfg = meta["config"]
    flat = np.fromfile(d + "/weights.bin", dtype=np.float32)
    params, off = {}, 0
    for spec in meta["params"]:
        numel = int(np.prod(spec["shape"]))
        t = torch.from_numpy(flat[off : off + numel].astype(np.float64)).view(*spec["shape"])
        params[spec["name"]] = t.clone().requires_grad_(True)
        off += numel
    assert off == flat.size, "weights.bin has %d floats, params need %d" % (flat.size, off)

    lps, ents = [], []
    for seq in meta["seqs"]:
        lp, ent = score_sequence(cfg, params, seq, meta["temperature"])
        lps.append(lp)
        ents.append(ent)
    lp = torch.cat(lps)
    ent = torch.cat(ents)
    a = torch.tensor(meta["a"], dtype=torch.float64)
    b = torch.tensor(meta["b"], dtype=torch.float64)
    loss = (a * lp + b * ent).sum()
    names = [s["name"] for s in meta["params"]]
    grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    out = [lp.detach().numpy(), ent.detach().numpy()]
    for n, g in zip(names, grads):
        out.append(np.zeros(params[n].numel()) if g is None else g.reshape(-1).numpy())
    np.concatenate(out).astype(np.float64).tofile(d + "/out.bin")


if __name__ == "__main__":
    for case_dir in sys.argv[1:]:  # several cases per call: torch's import cost is paid once
        run(case_dir)
