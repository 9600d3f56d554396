#!/usr/bin/env bash
# Everything Stride checks on the GPU machine (H100/H200), in one command from the repository root:
#   1. engine-only build with CUDA (sm_90) against the Debian libraries carried in .deps/root,
#   2. the engine's tests, CUDA kernel tests included (they run on the GPU here), then the GPU tests
#      again one by one with their full output (test_backend_ops: every Backend entry on the GPU
#      against the CPU, the fused AdamW and clipping entries included; test_gpu_model: whole-model
#      log-probs, greedy parity, bf16 cache, sampling, and a full training step (every gradient, AdamW
#      moments, updated weights) in fp32 and bf16 matmul modes against the CPU step; test_nccl_comm: a
#      single-rank communicator, init without its peer failing at its deadline, and with two GPUs a
#      model's weights broadcast equal and a collective without its peer failing; test_nccl_allreduce:
#      the trainer ranks' gradient all-reduce, one rank, and with two GPUs bucket sums and a rank that
#      never calls it failing at its deadline; the multi-GPU cases skip with fewer than 2 GPUs; the
#      trainer ranks themselves are CPU-tested in the full build, RlStepRanks.* and JobRanks.*),
#   3. Hugging Face compatibility both ways (tests/model/reference/hf_compat.py, needs transformers),
#   4. the engine benchmarks (bench/model), with the machine's torch as the peer, and bench_decode on
#      the CUDA backend for a Qwen2.5-0.5B shape at batch 1 and 64.
# Budget: about 8 minutes on 16 cores (the build is most of it); each step has its own timeout, and
# the GPU checks come first so that a run cut short still answers them.
# Results go to $OUT (the device tool brings them back); copy them into bench/results/.
#
# Prepare .deps once on the CPU machine: see bench/README.md ("GPU machine"). Tests that need the npm
# tokenizer oracle or Debian's python3-torch run in CI, not here.
set -uo pipefail
OUT=${OUT:-/tmp/stride-out}
mkdir -p "$OUT"
D=$PWD/.deps/root
LIB=$D/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIB:$LIB/openblas-openmp:${LD_LIBRARY_PATH:-}
export STRIDE_PYTHON=${STRIDE_PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nvcc --version | tail -1
  lscpu | grep -E 'Model name|^CPU\(s\)'
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
} > "$OUT/machine.txt" 2>&1

cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRIDE_ENGINE_ONLY=ON -DSTRIDE_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$D/usr" -DCMAKE_LIBRARY_PATH="$LIB/openblas-openmp;$LIB" \
  -DCMAKE_INCLUDE_PATH="$D/usr/include;$D/usr/include/x86_64-linux-gnu/openblas-openmp" > "$OUT/build.log" 2>&1 \
  && cmake --build build-gpu -j 16 -- -k 0 >> "$OUT/build.log" 2>&1
echo "build rc=$?" | tee -a "$OUT/summary.txt"

for t in model_test_backend_ops model_test_gpu_model cuda_test_rmsnorm_cuda model_test_nccl_comm \
    model_test_nccl_allreduce; do
  timeout 120 build-gpu/tests/$t > "$OUT/$t.log" 2>&1
  echo "$t rc=$? $(grep -cE '^\[       OK' "$OUT/$t.log") ok, $(grep -cE '^\[  FAILED' "$OUT/$t.log") failed, $(grep -cE '^\[  SKIPPED' "$OUT/$t.log") skipped" | tee -a "$OUT/summary.txt"
done

(cd build-gpu && timeout 240 ctest --output-on-failure -j 8 --timeout 200 -E 'Tokenizer|VsTorch') > "$OUT/ctest.log" 2>&1
echo "ctest rc=$? $(grep -E 'tests passed|tests failed' "$OUT/ctest.log")" | tee -a "$OUT/summary.txt"

# Decode on the GPU backend, Qwen2.5-0.5B shape (random weights, fp32 weights, sampling on the GPU).
Q05="--hidden 896 --layers 24 --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --tie"
for seqs in 1 64; do
  echo "== bench_decode --cuda --seqs $seqs $Q05" >> "$OUT/bench_gpu.log"
  timeout 90 build-gpu/bin/bench_decode --cuda --no-peer --seqs $seqs --prompt 128 --new 32 --reps 2 $Q05 \
    >> "$OUT/bench_gpu.log" 2>&1
  echo "bench_decode cuda seqs=$seqs rc=$? :: $(grep '^ours' "$OUT/bench_gpu.log" | tail -1)" | tee -a "$OUT/summary.txt"
  ours=$(grep '^ours' "$OUT/bench_gpu.log" | tail -1 | awk '{print $2}')
  # The same decode by Hugging Face generate (static cache, bf16) on the same GPU.
  echo "== hf_decode --seqs $seqs" >> "$OUT/bench_gpu.log"
  timeout 120 python3 bench/gpu/hf_decode.py --seqs $seqs --prompt 128 --new 32 --reps 2 $Q05 \
    >> "$OUT/bench_gpu.log" 2>&1
  hf=$(grep '^hf: [0-9]' "$OUT/bench_gpu.log" | tail -1 | awk '{print $2}')
  echo "hf_decode seqs=$seqs :: ${hf:-?} tokens/s; ours/hf = $(python3 -c "print(round(${ours:-0}/${hf:-1}, 2))" 2>/dev/null)" \
    | tee -a "$OUT/summary.txt"
done

for dev in cpu cuda; do
  STRIDE_DEVICE=$dev timeout 120 python3 tests/model/reference/hf_compat.py build-gpu/bin/stride "$OUT/hf_compat_$dev.json" \
    > "$OUT/hf_compat_$dev.log" 2>&1
  echo "hf_compat ($dev backend) rc=$?" | tee -a "$OUT/summary.txt"
done

for b in build-gpu/bin/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b (STRIDE_THREADS=${BENCH_THREADS:-16})" >> "$OUT/bench.log"
  STRIDE_THREADS=${BENCH_THREADS:-16} timeout 60 "$b" >> "$OUT/bench.log" 2>&1
  echo "$(basename "$b") rc=$? :: $(tail -1 "$OUT/bench.log")" | tee -a "$OUT/summary.txt"
done
exit 0
