#!/usr/bin/env python3
"""Prefill throughput of PyTorch SDPA (flash) through Hugging Face transformers on the GPU: the peer of
`bench_decode --cuda --seqs 1 --prompt N --new 1` (whose "prefill" number is one prompt's prefill).

    python3 bench/gpu/hf_prefill.py --prompt 4096 [--hidden 896 --layers 24 --heads 14 --kv-heads 2
        --intermediate 4864 --vocab 151936 --tie] [--dtype bfloat16]

A random Qwen2 model of the given shape on cuda in bf16 with attn_implementation="sdpa", one forward
of --prompt random tokens that keeps only the last position's logits (logits_to_keep=1, as a prefill
that samples one token), median of --reps after a warm-up; the last line is "hf: <tokens/s> tokens/s".
"""
import argparse
import statistics
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("prompt", 4096), ("reps", 3), ("hidden", 896), ("layers", 24), ("heads", 14),
                          ("kv-heads", 2), ("intermediate", 4864), ("vocab", 151936)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--tie", action="store_true")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    cfg = transformers.Qwen2Config(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                                   num_key_value_heads=a.kv_heads, intermediate_size=a.intermediate,
                                   vocab_size=a.vocab, tie_word_embeddings=a.tie, rope_theta=1e6,
                                   max_position_embeddings=a.prompt + 8, attn_implementation="sdpa")
    torch.manual_seed(1)
    model = transformers.Qwen2ForCausalLM(cfg).to("cuda", dtype).eval()
    ids = torch.randint(0, a.vocab, (1, a.prompt), device="cuda")

    def run():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            model(input_ids=ids, logits_to_keep=1, use_cache=False)
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    run()  # warm-up
    med = statistics.median(run() for _ in range(a.reps))
    print(f"hf: {torch.cuda.get_device_name()} transformers {transformers.__version__} {a.dtype} sdpa, "
          f"prompt {a.prompt}: prefill {1e3 * med:.1f} ms")
    print(f"hf: {a.prompt / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
