#!/usr/bin/env python3
"""PyTorch CPU peer of the engine benchmarks (bench_train_step, bench_decode).

The same Qwen2-style decoder as model/ (RMSNorm, RoPE rotate-half, GQA, SwiGLU, q/k/v bias), written
the way a careful PyTorch user would: batched matmuls, a precomputed causal mask, eager mode. Works
with torch 1.13 (no scaled_dot_product_attention, so attention is written out) and torch 2.x.
Weights are random (same init scale as the engine); token ids come from the C++ bench (--tokens, a
raw int32 file) so both sides see the same data. Prints ONE line of JSON on stdout.

  train:  forward + loss (-sum log p(next token) / T) + backward + clip_grad_norm_(1.0) + AdamW
          python3 torch_peer.py train --batch 8 --seq 256 --tokens ids.bin --threads 2
  decode: prefill [B, prompt] into a preallocated KV cache [B, kv_heads, T, D] per layer, then
          greedy (argmax) decode of --new tokens for all B sequences; times the decode steps only
          python3 torch_peer.py decode --batch 64 --prompt 32 --new 64 --tokens ids.bin --threads 2
"""
import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope(x, cos, sin):  # x [B, heads, S, D], cos/sin [S, D] (or [B, 1, S, D])
    return x * cos + rotate_half(x) * sin


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        H, I = a.hidden, a.intermediate
        self.nq, self.nkv, self.D = a.heads, a.kv_heads, a.hidden // a.heads
        self.attn_norm = RMSNorm(H, a.eps)
        self.q = nn.Linear(H, self.nq * self.D, bias=True)
        self.k = nn.Linear(H, self.nkv * self.D, bias=True)
        self.v = nn.Linear(H, self.nkv * self.D, bias=True)
        self.o = nn.Linear(self.nq * self.D, H, bias=False)
        self.mlp_norm = RMSNorm(H, a.eps)
        self.gate = nn.Linear(H, I, bias=False)
        self.up = nn.Linear(H, I, bias=False)
        self.down = nn.Linear(I, H, bias=False)

    def qkv(self, x, cos, sin):
        B, S, _ = x.shape
        h = self.attn_norm(x)
        q = self.q(h).view(B, S, self.nq, self.D).transpose(1, 2)
        k = self.k(h).view(B, S, self.nkv, self.D).transpose(1, 2)
        v = self.v(h).view(B, S, self.nkv, self.D).transpose(1, 2)
        return rope(q, cos, sin), rope(k, cos, sin), v

    def mlp(self, x):
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))

    def forward(self, x, cos, sin, mask):
        """Full causal self-attention (training / prefill). Returns output, k, v."""
        B, S, _ = x.shape
        q, k, v = self.qkv(x, cos, sin)
        g = self.nq // self.nkv
        # GQA as HF repeat_kv: [B, nkv, S, D] -> [B, nq, S, D]
        kr = k[:, :, None].expand(B, self.nkv, g, S, self.D).reshape(B, self.nq, S, self.D)
        vr = v[:, :, None].expand(B, self.nkv, g, S, self.D).reshape(B, self.nq, S, self.D)
        s = torch.matmul(q, kr.transpose(-1, -2)) * (1.0 / math.sqrt(self.D)) + mask
        p = torch.softmax(s, dim=-1)
        att = torch.matmul(p, vr).transpose(1, 2).reshape(B, S, self.nq * self.D)
        return self.mlp(x + self.o(att)), k, v

    def decode(self, x, cos, sin, kc, vc, pos):
        """One new token per sequence against the cache. x [B, 1, H]; kc/vc [B, nkv, Tmax, D]."""
        B = x.shape[0]
        q, k, v = self.qkv(x, cos, sin)
        kc[:, :, pos:pos + 1] = k
        vc[:, :, pos:pos + 1] = v
        L, g = pos + 1, self.nq // self.nkv
        qg = q.reshape(B, self.nkv, g, self.D)  # the g query heads of a kv head share its K/V
        s = torch.matmul(qg, kc[:, :, :L].transpose(-1, -2)) * (1.0 / math.sqrt(self.D))  # [B, nkv, g, L]
        att = torch.matmul(torch.softmax(s, dim=-1), vc[:, :, :L])  # [B, nkv, g, D]
        return self.mlp(x + self.o(att.reshape(B, 1, self.nq * self.D)))


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.embed = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList([Layer(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, a.eps)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False)
        if a.tie:
            self.lm_head.weight = self.embed.weight
        for m in self.modules():  # HF init: normal(0, 0.02), zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        D = a.hidden // a.heads
        self.register_buffer("inv_freq", 1.0 / (a.rope_theta ** (torch.arange(0, D, 2).float() / D)))

    def cos_sin(self, positions):  # positions [S] or [B, S] -> [.., S, D]
        f = positions.float()[..., None] * self.inv_freq
        e = torch.cat((f, f), dim=-1)
        return e.cos(), e.sin()

    def forward(self, tokens):  # [B, S] -> logits [B, S, V]
        B, S = tokens.shape
        cos, sin = self.cos_sin(torch.arange(S))
        mask = torch.full((S, S), float("-inf")).triu(1)
        x = self.embed(tokens)
        for layer in self.layers:
            x, _, _ = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def read_tokens(path, n):
    ids = np.fromfile(path, dtype=np.int32)
    if ids.size != n:
        sys.exit(f"torch_peer: {path} has {ids.size} token ids, expected {n}")
    return torch.from_numpy(ids.astype(np.int64))


def bench_train(a, model):
    B, S = a.batch, a.seq
    T = B * S
    tokens = read_tokens(a.tokens, T).view(B, S)
    targets = tokens[:, 1:]
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01, foreach=True)
    except TypeError:  # torch without foreach
        opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.01)
    params = [p for p in model.parameters()]

    def step():
        logits = model(tokens)  # every row goes through the LM head, as in the engine
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, targets[..., None])
        loss = -logp.sum() / T  # the engine's g_logprob = -1/T on every scored token
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"tokens_per_s": T / med, "step_ms_median": 1e3 * med, "step_ms_min": 1e3 * min(times)}


@torch.inference_mode()
def bench_decode(a, model):
    B, P, N = a.batch, a.prompt, a.new
    D = a.hidden // a.heads
    prompts = read_tokens(a.tokens, B * P).view(B, P)
    Tmax = P + N + 1
    kcache = [torch.zeros(B, a.kv_heads, Tmax, D) for _ in range(a.layers)]
    vcache = [torch.zeros(B, a.kv_heads, Tmax, D) for _ in range(a.layers)]
    cos_all, sin_all = model.cos_sin(torch.arange(Tmax))
    mask = torch.full((P, P), float("-inf")).triu(1)

    def prefill():
        x = model.embed(prompts)
        for l, layer in enumerate(model.layers):
            x, k, v = layer(x, cos_all[:P], sin_all[:P], mask)
            kcache[l][:, :, :P] = k
            vcache[l][:, :, :P] = v
        return model.lm_head(model.norm(x[:, -1])).argmax(-1)  # [B]

    def decode_step(tok, pos):
        x = model.embed(tok[:, None])
        cos, sin = cos_all[pos:pos + 1], sin_all[pos:pos + 1]
        for l, layer in enumerate(model.layers):
            x = layer.decode(x, cos, sin, kcache[l], vcache[l], pos)
        return model.lm_head(model.norm(x[:, 0])).argmax(-1)

    times = []
    for rep in range(a.warmup + a.reps):
        tok = prefill()
        t0 = time.perf_counter()
        for i in range(N):
            tok = decode_step(tok, P + i)
        if rep >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"tokens_per_s": B * N / med, "decode_ms_median": 1e3 * med, "decode_ms_min": 1e3 * min(times)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "decode"])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=688)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--tie", type=int, default=0)
    ap.add_argument("--rope-theta", type=float, default=1e6)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--batch", type=int, default=8, help="sequences")
    ap.add_argument("--seq", type=int, default=256, help="train: tokens per sequence")
    ap.add_argument("--prompt", type=int, default=32, help="decode: prompt tokens")
    ap.add_argument("--new", type=int, default=64, help="decode: timed decode steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="train: timed steps")
    ap.add_argument("--reps", type=int, default=3, help="decode: timed repetitions")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", required=True, help="raw int32 token ids written by the C++ bench")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a)
    out = bench_train(a, model) if a.mode == "train" else bench_decode(a, model)
    out.update({"mode": a.mode, "threads": torch.get_num_threads(), "torch": torch.__version__})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
