// Training-step throughput of the CPU Transformer: forward + backward tokens/s on a small config.
// Compare with tests/model/reference/torch_train_step.py (same config, same thread count):
//   STRIDE_THREADS=2 build/bench_train_step [--recompute]
//   OMP_NUM_THREADS=2 /usr/bin/python3 tests/model/reference/torch_train_step.py
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "common/base/parallel.h"
#include "model/transformer.h"

using namespace stride;

int main(int argc, char** argv) {
    init_threads();
    const bool recompute = argc > 1 && !std::strcmp(argv[1], "--recompute");
    // Small Qwen2-style model: H 256, I 768, 4 layers, 8 heads / 4 kv heads (D 32), V 4096, tied.
    ModelConfig c;
    c.arch = Arch::qwen2;
    c.hidden = 256, c.intermediate = 768, c.layers = 4, c.heads = 8, c.kv_heads = 4, c.head_dim = 32;
    c.vocab = 4096, c.tie_embeddings = true, c.qkv_bias = true, c.rope_theta = 1e6;
    Model m(c);
    model_init_random(m, 1);
    const int n_seqs = 4, len = 256;  // 1024 tokens per step
    std::mt19937 rng(2);
    PackedBatch batch;
    for (int s = 0; s < n_seqs; ++s) {
        std::vector<int> seq(len);
        for (int& t : seq) t = (int)(rng() % c.vocab);
        batch.add_sequence(seq);
    }
    const int T = batch.num_tokens();
    std::vector<float> g_lp(T, 1.0f / T), g_ent(T, 0.01f / T), grads(m.layout.numel());
    ForwardOptions opt;
    opt.recompute = recompute;
    Transformer tf(m);
    auto step = [&] {
        tf.forward(batch, opt);
        tf.backward(g_lp, g_ent, grads.data());
    };
    step();  // warm-up: arena and scratch allocation
    const int iters = 5;
    double fwd_s = 0, total_s = 0;
    for (int i = 0; i < iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        tf.forward(batch, opt);
        auto t1 = std::chrono::steady_clock::now();
        tf.backward(g_lp, g_ent, grads.data());
        auto t2 = std::chrono::steady_clock::now();
        fwd_s += std::chrono::duration<double>(t1 - t0).count();
        total_s += std::chrono::duration<double>(t2 - t0).count();
    }
    std::printf("threads %d, T %d, recompute %d: forward %.1f ms, forward+backward %.1f ms, %.0f tokens/s\n",
                num_threads(), T, (int)recompute, 1e3 * fwd_s / iters, 1e3 * total_s / iters,
                T * iters / total_s);
    return 0;
}
