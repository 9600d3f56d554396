#!/usr/bin/env python3
"""Hugging Face transformers decode throughput on the GPU: the peer of `bench_decode --cuda`.

    python3 bench/gpu/hf_decode.py --seqs 64 --prompt 128 --new 32 [--hidden 896 --layers 24 --heads 14
        --kv-heads 2 --intermediate 4864 --vocab 151936 --tie] [--dtype bfloat16]

A random Qwen2 model of the given shape on cuda, `generate` with the static KV cache, greedy, exactly
--new tokens after a prompt of --prompt random tokens for each of --seqs sequences. Decode time is the
time of prompt + new tokens minus the time of prompt + 1 token (the prefill and first token), median of
--reps runs after a warm-up; the last line is "hf: <tokens/s> tokens/s", as bench_decode prints "ours:".
"""
import argparse
import statistics
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("seqs", 64), ("prompt", 128), ("new", 32), ("reps", 2), ("hidden", 896), ("layers", 24),
                          ("heads", 14), ("kv-heads", 2), ("intermediate", 4864), ("vocab", 151936)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--tie", action="store_true")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    cfg = transformers.Qwen2Config(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                                   num_key_value_heads=a.kv_heads, intermediate_size=a.intermediate,
                                   vocab_size=a.vocab, tie_word_embeddings=a.tie, rope_theta=1e6,
                                   max_position_embeddings=a.prompt + a.new + 8)
    torch.manual_seed(1)
    model = transformers.Qwen2ForCausalLM(cfg).to("cuda", dtype).eval()
    ids = torch.randint(0, a.vocab, (a.seqs, a.prompt), device="cuda")
    mask = torch.ones_like(ids)

    def run(n):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                           cache_implementation="static", pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    run(a.new)  # warm-up (allocations, kernels)
    decode = []
    for _ in range(a.reps):
        decode.append(run(a.new) - run(1))
    med = statistics.median(decode)
    print(f"hf: {torch.cuda.get_device_name()} transformers {transformers.__version__} {a.dtype}, "
          f"{a.seqs} seqs, prompt {a.prompt}, {a.new} new: decode {1e3 * med:.1f} ms")
    print(f"hf: {a.seqs * (a.new - 1) / med:.0f} tokens/s")


if __name__ == "__main__":
    main()
