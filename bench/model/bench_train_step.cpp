// bench/model/bench_train_step.cpp: training-step throughput of the CPU engine against PyTorch CPU
// (bench/model/torch_peer.py, same architecture, config, batch shape, token ids and thread count),
// both measured in this run.
//
// One step = Transformer::forward on a PackedBatch + Transformer::backward with g_logprob = -1/T on
// every token (the gradient of mean next-token NLL) + clip_grad_norm(1.0) + AdamW::step (+ zeroing the
// gradient buffer, the analogue of zero_grad). Tokens/s = T / median step time; the same on the peer.
// Also: achieved GFLOP/s of our step (model FLOPs: 6 * matmul params * T + causal attention
// 12 * S(S+1)/2 * D * heads per layer and sequence; recomputation is not counted) as a fraction of
// OpenBLAS SGEMM peak (1024^3 cblas_sgemm, best of 5) measured here too.
//
//   build/bin/bench_train_step [--batch 8 --seq 256 --warmup 2 --steps 5] [model options] [--profile]
//
// --profile times the engine's big ops alone on the same shapes (all layers' GEMMs, attention,
// LM head with log-prob) to show where a step goes. The last line is the headline.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/model/bench_common.h"
#include "model/ops/attention.h"
#include "model/ops/logprob.h"
#include "model/ops/matmul.h"
#include "model/optim.h"
#include "model/transformer.h"

using namespace stride;
using namespace stride_bench;

static const char* kUsage =
    "bench_train_step [--batch 8] [--seq 256] [--warmup 2] [--steps 5] [--recompute] "
    "[--profile]\n" STRIDE_BENCH_MODEL_USAGE;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

// Best-of-`reps` seconds of f() after one untimed call.
template <class F>
double best_time(int reps, F&& f) {
    f();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, seconds_since(t0));
    }
    return best;
}

// OpenBLAS SGEMM GFLOP/s on an n^3 problem, best of 5.
double sgemm_peak_gflops(int n) {
    std::vector<float> a((size_t)n * n, 0.5f), b((size_t)n * n, 0.25f), c((size_t)n * n, 0.0f);
    const double s = best_time(5, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                    c.data(), n);
    });
    return 2.0 * n * n * n / s * 1e-9;
}

// Model FLOPs of one training step (forward + backward) over n_seqs sequences of `len` tokens.
double train_step_flops(const ModelConfig& c, int n_seqs, int len) {
    const double H = c.hidden, Hq = c.q_dim(), Hkv = c.kv_dim(), I = c.intermediate, V = c.vocab;
    const double mm_params = c.layers * (H * Hq + 2 * H * Hkv + Hq * H + 3 * H * I) + V * H;  // + LM head
    const double T = (double)n_seqs * len;
    const double attn = 12.0 * (len * (len + 1.0) / 2) * c.head_dim * c.heads * c.layers * n_seqs;
    return 6.0 * mm_params * T + attn;
}

// Times the engine's big ops alone on the step's shapes (forward + backward of each).
void profile_ops(const ModelConfig& c, const Model& m, const PackedBatch& batch, double step_s) {
    const int T = batch.num_tokens(), H = c.hidden, Hq = c.q_dim(), Hkv = c.kv_dim(), I = c.intermediate;
    const int V = c.vocab, L = c.layers;
    std::vector<float> x((size_t)T * std::max(I, std::max(H, Hq)), 0.01f), y((size_t)T * I, 0.0f);
    std::vector<float> dx((size_t)T * std::max(I, H), 0.0f), dw((size_t)I * H, 0.0f), db(I, 0.0f);
    const LayerWeights& w = m.w.layers[0];
    struct Mm {
        const float* w;
        const float* b;
        int cin, cout;
    };
    const Mm mms[] = {{w.wq, w.bq, H, Hq},      {w.wk, w.bk, H, Hkv},      {w.wv, w.bv, H, Hkv},
                      {w.wo, nullptr, Hq, H},   {w.w_gate, nullptr, H, I}, {w.w_up, nullptr, H, I},
                      {w.w_down, nullptr, I, H}};
    const double mm_fwd = L * best_time(2, [&] {
                              for (const Mm& k : mms)
                                  matmul_forward(y.data(), x.data(), k.w, k.b, T, k.cin, k.cout);
                          });
    const double mm_bwd = L * best_time(2, [&] {
                              for (const Mm& k : mms)
                                  matmul_backward(dx.data(), dw.data(), k.b ? db.data() : nullptr, y.data(),
                                                  x.data(), k.w, T, k.cin, k.cout);
                          });
    // Attention on random-ish q/k/v (values do not change the work).
    std::vector<float> q((size_t)T * Hq), k((size_t)T * Hkv), v((size_t)T * Hkv), o((size_t)T * Hq),
        lse((size_t)T * c.heads), dq((size_t)T * Hq), dk((size_t)T * Hkv), dv((size_t)T * Hkv);
    for (size_t i = 0; i < q.size(); ++i) q[i] = 0.01f * (float)(i % 97);
    for (size_t i = 0; i < k.size(); ++i) k[i] = 0.01f * (float)(i % 89), v[i] = 0.01f * (float)(i % 83);
    const double at_fwd =
        L * best_time(2, [&] {
            attention_forward(o.data(), lse.data(), q.data(), k.data(), v.data(), batch.cu_seqlens.data(),
                              batch.num_seqs(), c.heads, c.kv_heads, c.head_dim);
        });
    const double at_bwd =
        L * best_time(2, [&] {
            attention_backward(dq.data(), dk.data(), dv.data(), o.data(), o.data(), lse.data(), q.data(),
                               k.data(), v.data(), batch.cu_seqlens.data(), batch.num_seqs(), c.heads,
                               c.kv_heads, c.head_dim);
        });
    // LM head with log-probs (chunk 1024 as ForwardOptions' default).
    std::vector<float> h((size_t)T * H, 0.01f), dh((size_t)T * H), lp(T), ent(T), glp(T, -1.0f / T);
    std::vector<float> dwh((size_t)V * H);
    std::vector<int> targets(batch.tokens.begin() + 1, batch.tokens.end());
    targets.push_back(-1);
    const double lm_fwd = best_time(2, [&] {
        lm_head_logprob_forward(lp.data(), ent.data(), h.data(), m.w.lm_head, targets.data(), T, H, V, 1.0f,
                                1024);
    });
    const double lm_bwd = best_time(2, [&] {
        lm_head_logprob_backward(dh.data(), dwh.data(), glp.data(), nullptr, h.data(), m.w.lm_head,
                                 targets.data(), T, H, V, 1.0f, 1024);
    });
    const double attn_flops = 4.0 * batch.num_seqs() * (double)(T / batch.num_seqs()) *
                              (T / batch.num_seqs() + 1) / 2 * c.head_dim * c.heads * L;
    auto row = [&](const char* name, double s, double flops) {
        std::printf("  %-30s %8.1f ms  %5.1f%% of a step", name, 1e3 * s, 100.0 * s / step_s);
        if (flops > 0) std::printf("  %7.1f GFLOP/s", flops / s * 1e-9);
        std::printf("\n");
    };
    const double mm_params = L * ((double)H * Hq + 2.0 * H * Hkv + (double)Hq * H + 3.0 * H * I);
    std::printf("profile (each op alone, best of 2, summed over %d layers):\n", L);
    row("layer GEMMs forward", mm_fwd, 2 * mm_params * T);
    row("layer GEMMs backward", mm_bwd, 4 * mm_params * T);
    row("attention forward", at_fwd, attn_flops);
    row("attention backward", at_bwd, 2 * attn_flops);
    row("LM head + logprob forward", lm_fwd, 2.0 * V * H * T);
    row("LM head + logprob backward", lm_bwd, 4.0 * V * H * T);
    row("everything else", step_s - (mm_fwd + mm_bwd + at_fwd + at_bwd + lm_fwd + lm_bwd), 0);
}

}  // namespace

int main(int argc, char** argv) {
    stride::ensure_fast_blas_kernels(argv);  // the torch peer inherits the same OpenBLAS kernels
    const int threads = setup_threads();
    Args args(argc, argv, kUsage);
    const ModelConfig c = model_config_from_args(args);
    const int n_seqs = args.get("batch", 8), len = args.get("seq", 256);
    const int warmup = args.get("warmup", 2), steps = std::max(1, args.get("steps", 5));
    const bool recompute = args.flag("recompute"), profile = args.flag("profile");
    const bool no_peer = args.flag("no-peer");
    args.done(kUsage);

    Model m(c);
    model_init_random(m, 1);
    const std::vector<int> tokens = random_tokens((size_t)n_seqs * len, c.vocab, 2);
    PackedBatch batch;
    for (int s = 0; s < n_seqs; ++s)
        batch.add_sequence(
            std::vector<int>(tokens.begin() + (size_t)s * len, tokens.begin() + (size_t)(s + 1) * len));
    const int T = batch.num_tokens();
    const size_t P = m.layout.numel();
    std::printf(
        "train step: qwen2 H %d L %d heads %d/%d I %d V %d tied %d (%.2fM params), %d x %d tokens, "
        "%d threads, %s%s\n",
        c.hidden, c.layers, c.heads, c.kv_heads, c.intermediate, c.vocab, (int)c.tie_embeddings, P * 1e-6,
        n_seqs, len, threads, env_note().c_str(), recompute ? ", recompute" : "");

    const double peak = sgemm_peak_gflops(1024);
    std::printf("OpenBLAS SGEMM 1024^3: %.1f GFLOP/s\n", peak);

    // ---- ours -----------------------------------------------------------------------------------------
    std::vector<float> g_lp(T, -1.0f / T), grads(P, 0.0f);
    const std::vector<float> g_ent;  // empty: no entropy term
    ForwardOptions fopt;
    fopt.recompute = recompute;
    AdamW opt(P);
    Transformer tf(m);
    std::vector<double> t_step, t_fwd, t_bwd, t_opt;
    for (int i = 0; i < warmup + steps; ++i) {
        const auto t0 = Clock::now();
        std::fill(grads.begin(), grads.end(), 0.0f);
        tf.forward(batch, fopt);
        const auto t1 = Clock::now();
        tf.backward(g_lp, g_ent, grads.data());
        const auto t2 = Clock::now();
        clip_grad_norm(grads.data(), P, 1.0f);
        opt.step(m.data.data(), grads.data());
        const auto t3 = Clock::now();
        if (i < warmup) continue;
        t_step.push_back(std::chrono::duration<double>(t3 - t0).count());
        t_fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
        t_bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
        t_opt.push_back(std::chrono::duration<double>(t3 - t2).count());
    }
    const double step_s = median(t_step);
    const double ours = T / step_s;
    const double gflops = train_step_flops(c, n_seqs, len) / step_s * 1e-9;
    std::printf(
        "ours:  %.0f tokens/s  (median step %.1f ms: zero+forward %.1f, backward %.1f, clip+AdamW %.1f; "
        "min step %.1f ms)\n",
        ours, 1e3 * step_s, 1e3 * median(t_fwd), 1e3 * median(t_bwd), 1e3 * median(t_opt),
        1e3 * *std::min_element(t_step.begin(), t_step.end()));
    std::printf("ours:  %.1f GFLOP/s model FLOPs = %.0f%% of SGEMM peak\n", gflops, 100.0 * gflops / peak);
    if (profile) profile_ops(c, m, batch, step_s);

    // ---- PyTorch ----------------------------------------------------------------------------------------
    if (no_peer) {
        std::printf("train step: ours %.0f tok/s (no peer); %.0f%% of SGEMM peak\n", ours,
                    100.0 * gflops / peak);
        return 0;
    }
    const nlohmann::json peer = run_torch_peer(
        "train",
        peer_model_args(c) + " --batch " + std::to_string(n_seqs) + " --seq " + std::to_string(len) +
            " --warmup " + std::to_string(warmup) + " --steps " + std::to_string(steps),
        tokens, threads);
    if (peer.is_null()) {
        std::printf("train step: PyTorch peer FAILED (ours %.0f tok/s); %.0f%% of SGEMM peak\n", ours,
                    100.0 * gflops / peak);
        return 1;
    }
    const double torch_tps = peer["tokens_per_s"].get<double>();
    std::printf("torch: %.0f tokens/s  (median step %.1f ms, torch %s, %d threads)\n", torch_tps,
                peer["step_ms_median"].get<double>(), peer["torch"].get<std::string>().c_str(),
                peer["threads"].get<int>());
    std::printf(
        "train step: %.2fx PyTorch CPU (ours %.0f tok/s, torch %.0f tok/s); %.0f%% of SGEMM peak "
        "(%.1f of %.1f GFLOP/s)\n",
        ours / torch_tps, ours, torch_tps, 100.0 * gflops / peak, gflops, peak);
    return 0;
}
