#!/usr/bin/env python3
"""Hugging Face compatibility of Stride checkpoints, run where `transformers` is installed (the GPU
machine; Debian has no python3-transformers).

Both directions, for Llama, Qwen2 and Qwen3 (GQA, tied and untied, Qwen3 with head_dim != H/heads):
  1. `stride init-model` writes a checkpoint; transformers loads it with no missing or unexpected
     keys; per-token log-probs and entropies of random sequences from transformers and from
     `stride logprobs` agree.
  2. transformers builds a random model and saves it (safetensors, F32 and BF16); `stride logprobs`
     reads it and agrees.
  3. bf16 (the rollout engine on the GPU): transformers saves a random model in BF16 and computes
     its log-probs in bfloat16; `stride logprobs --dtype bf16` (bf16 weights, projections with bf16
     inputs and fp32 accumulation) agrees within BF16_TOL (HF also rounds every activation to bf16,
     we do not, so the bound is bf16's, not float's). Run when STRIDE_DEVICE=cuda (the CPU's bf16
     kernels are slow references).
Writes a JSON report (max abs errors) to argv[2] and exits non-zero when any check fails.

Usage: hf_compat.py STRIDE_BIN OUT_JSON
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import transformers

STRIDE = sys.argv[1]
OUT = sys.argv[2]
TOL = 1e-4
BF16_TOL = 0.1  # log-prob units; bf16 keeps 8 significant bits and HF rounds activations too

CASES = [
    dict(arch="llama", hidden=64, layers=2, heads=4, kv_heads=2, intermediate=160, vocab=300, tie=False),
    dict(arch="qwen2", hidden=64, layers=2, heads=4, kv_heads=2, intermediate=160, vocab=300, tie=True),
    dict(arch="qwen3", hidden=64, layers=2, heads=4, kv_heads=2, intermediate=160, vocab=300, tie=True, head_dim=32),
]


def stride_logprobs(model_dir, seqs, dtype="fp32"):
    inp = "".join(json.dumps({"tokens": s}) + "\n" for s in seqs)
    # STRIDE_DEVICE=cuda scores on the GPU backend (bench/gpu/device_checks.sh runs both).
    cmd = [STRIDE, "logprobs", "--model", model_dir, "--device", os.environ.get("STRIDE_DEVICE", "cpu"),
           "--dtype", dtype]
    out = subprocess.run(cmd, input=inp, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("stride logprobs failed: " + out.stderr)
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def hf_logprobs(model, seqs):
    res = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            logits = model(ids).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            lp = logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
            ent = -(logp.exp() * logp).sum(-1)[:-1]
            res.append({"logprobs": lp.tolist(), "entropy": ent.tolist()})
    return res


def max_err(a, b):
    m = 0.0
    for x, y in zip(a, b):
        for k in ("logprobs", "entropy"):
            m = max(m, max(abs(p - q) for p, q in zip(x[k], y[k])))
    return m


def main():
    torch.manual_seed(0)
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    ok = True
    for c in CASES:
        seqs = [torch.randint(0, c["vocab"], (n,)).tolist() for n in (5, 17, 33)]
        with tempfile.TemporaryDirectory() as d:
            # 1. Stride writes, transformers reads.
            args = [STRIDE, "init-model", "--arch", c["arch"], "--hidden", str(c["hidden"]), "--layers",
                    str(c["layers"]), "--heads", str(c["heads"]), "--kv-heads", str(c["kv_heads"]),
                    "--intermediate", str(c["intermediate"]), "--vocab", str(c["vocab"]), "--seed", "3", "--out", d]
            if c.get("tie"):
                args.append("--tie")
            if "head_dim" in c:
                args += ["--head-dim", str(c["head_dim"])]
            subprocess.run(args, check=True)
            model, info = transformers.AutoModelForCausalLM.from_pretrained(
                d, torch_dtype=torch.float32, output_loading_info=True)
            model.eval()
            keys_ok = not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
            e1 = max_err(hf_logprobs(model, seqs), stride_logprobs(d, seqs))
        # 2. transformers writes (F32 and BF16), Stride reads.
        e2 = {}
        for dtype in (torch.float32, torch.bfloat16):
            with tempfile.TemporaryDirectory() as d:
                cfg = model.config
                m2 = transformers.AutoModelForCausalLM.from_config(cfg).to(dtype)
                m2.save_pretrained(d, safe_serialization=True)
                ref = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
                e2[str(dtype)] = max_err(hf_logprobs(ref, seqs), stride_logprobs(d, seqs))
        # 3. bf16 against bf16, on the GPU only.
        e3 = None
        if os.environ.get("STRIDE_DEVICE") == "cuda":
            with tempfile.TemporaryDirectory() as d:
                m3 = transformers.AutoModelForCausalLM.from_config(model.config).to(torch.bfloat16).eval()
                m3.save_pretrained(d, safe_serialization=True)
                e3 = max_err(hf_logprobs(m3, seqs), stride_logprobs(d, seqs, "bf16"))
        case_ok = keys_ok and e1 <= TOL and all(v <= TOL for v in e2.values()) and (e3 is None or e3 <= BF16_TOL)
        ok &= case_ok
        report["cases"].append({"case": c, "hf_loads_stride_checkpoint": keys_ok, "loading_info": {k: list(v) for k, v in info.items()},
                                "max_abs_err_stride_ckpt": e1, "max_abs_err_hf_ckpt": e2,
                                "max_abs_err_bf16_vs_hf_bf16": e3, "bf16_tol": BF16_TOL, "ok": case_ok})
        print(json.dumps(report["cases"][-1]), flush=True)
    report["ok"] = ok
    with open(OUT, "w") as f:
        json.dump(report, f, indent=2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
