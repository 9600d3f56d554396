#!/usr/bin/python3
"""PyTorch CPU baseline for bench/model/bench_train_step.cpp: the same small Qwen2-style config and packed
batch shape (4 x 256 tokens), float32, forward (per-token logprob + entropy) + backward, eager autograd
with hand-written attention (torch 1.13 has no scaled_dot_product_attention).

Usage: OMP_NUM_THREADS=2 /usr/bin/python3 torch_train_step.py
"""
import math
import os
import time

import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
H, I, L, NQ, NKV, D, V = 256, 768, 4, 8, 4, 32, 4096
S, N = 4, 256  # sequences x tokens
g = torch.Generator().manual_seed(0)


def w(*shape):
    return (torch.randn(*shape, generator=g) * 0.02).requires_grad_(True)


P = {"embed": w(V, H), "norm": torch.ones(H, requires_grad=True)}
for l in range(L):
    P.update({
        f"{l}.ln1": torch.ones(H, requires_grad=True), f"{l}.ln2": torch.ones(H, requires_grad=True),
        f"{l}.wq": w(NQ * D, H), f"{l}.bq": torch.zeros(NQ * D, requires_grad=True),
        f"{l}.wk": w(NKV * D, H), f"{l}.bk": torch.zeros(NKV * D, requires_grad=True),
        f"{l}.wv": w(NKV * D, H), f"{l}.bv": torch.zeros(NKV * D, requires_grad=True),
        f"{l}.wo": w(H, NQ * D), f"{l}.wg": w(I, H), f"{l}.wu": w(I, H), f"{l}.wd": w(H, I)})
ids = torch.randint(0, V, (S, N), generator=g)
inv_freq = 1.0 / (1e6 ** (torch.arange(0, D, 2).float() / D))
ang = torch.arange(N).float()[:, None] * inv_freq[None]
cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
mask = torch.ones(N, N, dtype=torch.bool).tril()


def rms(x, wt):
    return wt * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


def rot(x):
    return torch.cat((-x[..., D // 2:], x[..., : D // 2]), -1)


def step():
    h = P["embed"][ids]  # [S, N, H]
    for l in range(L):
        x = rms(h, P[f"{l}.ln1"])
        q = (x @ P[f"{l}.wq"].t() + P[f"{l}.bq"]).view(S, N, NQ, D).transpose(1, 2)
        k = (x @ P[f"{l}.wk"].t() + P[f"{l}.bk"]).view(S, N, NKV, D).transpose(1, 2)
        v = (x @ P[f"{l}.wv"].t() + P[f"{l}.bv"]).view(S, N, NKV, D).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(NQ // NKV, 1), v.repeat_interleave(NQ // NKV, 1)
        att = (q @ k.transpose(-1, -2) / math.sqrt(D)).masked_fill(~mask, float("-inf")).softmax(-1) @ v
        h = h + att.transpose(1, 2).reshape(S, N, NQ * D) @ P[f"{l}.wo"].t()
        x2 = rms(h, P[f"{l}.ln2"])
        h = h + (torch.nn.functional.silu(x2 @ P[f"{l}.wg"].t()) * (x2 @ P[f"{l}.wu"].t())) @ P[f"{l}.wd"].t()
    logp = torch.log_softmax(rms(h, P["norm"]) @ P["embed"].t(), -1)  # [S, N, V]
    lp = logp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    ent = -(logp.exp() * logp).sum(-1)[:, :-1]
    loss = lp.sum() / (S * N) + 0.01 * ent.sum() / (S * N)
    loss.backward()


step()
iters = 5
t0 = time.perf_counter()
for _ in range(iters):
    step()
dt = (time.perf_counter() - t0) / iters
print("torch %s threads %d, T %d: forward+backward %.1f ms, %.0f tokens/s"
      % (torch.__version__, torch.get_num_threads(), S * N, 1e3 * dt, S * N / dt))
