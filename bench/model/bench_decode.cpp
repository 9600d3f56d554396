// bench/model/bench_decode.cpp: batched decode throughput of the CPU engine against PyTorch CPU
// (bench/model/torch_peer.py decode: preallocated per-layer K/V [B, kv_heads, T, D], inference_mode),
// both measured in this run with the same config, prompts and thread count.
//
// Ours: one Generator (paged KV cache, continuous batching) gets --seqs requests of --prompt tokens,
// greedy sampling (temperature 0) and max_new_tokens = --new + 1. Its first step prefills every prompt
// and samples the first token (untimed); the next --new steps each decode one token of every sequence
// (timed, Generator overhead and sampling included). The peer does the same: prefill, argmax, then
// --new decode steps. Tokens/s = seqs * new / median decode time over --reps repetitions (after one
// warm-up repetition on each side).
//
//   build/bin/bench_decode [--seqs 64 --prompt 32 --new 64 --reps 3] [model options] [--profile]
//
// --cuda runs ours on the CUDA backend (model/cuda/; logits come back to the host for sampling), with
// --no-peer on the GPU machine (the peer is PyTorch on the CPU). --bf16-weights stores the weights in
// bf16 as a rollout worker on a GPU does (rollout.dtype); the GPU machine's peer is bench/gpu/hf_decode.py.
//
// --profile also runs the same decode on a bare Decoder (own KvCache, argmax by hand) to separate the
// Generator's scheduling/sampling overhead from the model's forward.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/model/bench_common.h"
#include "model/backend.h"
#include "model/decoder.h"
#include "model/generator.h"

using namespace stride;
using namespace stride_bench;

static const char* kUsage =
    "bench_decode [--seqs 64] [--prompt 32] [--new 64] [--reps 3] [--block-size 16] [--bf16-kv] "
    "[--profile] [--cuda] [--bf16-weights]\n" STRIDE_BENCH_MODEL_USAGE;

int main(int argc, char** argv) {
    stride::ensure_fast_blas_kernels(argv);  // the torch peer inherits the same OpenBLAS kernels
    const int threads = setup_threads();
    Args args(argc, argv, kUsage);
    const ModelConfig c = model_config_from_args(args);
    const int n_seqs = args.get("seqs", 64), prompt = args.get("prompt", 32), n_new = args.get("new", 64);
    const int reps = std::max(1, args.get("reps", 3)), block_size = args.get("block-size", 16);
    const bool no_peer = args.flag("no-peer"), profile = args.flag("profile"), cuda = args.flag("cuda");
    const KvDtype kv_dtype = args.flag("bf16-kv") ? KvDtype::bf16 : KvDtype::fp32;
    // The rollout engine's weights on a GPU (rollout.dtype: bf16); the CPU's bf16 kernels are references.
    const WeightDtype weight_dtype = args.flag("bf16-weights") ? WeightDtype::bf16 : WeightDtype::fp32;
    args.done(kUsage);
    const Backend& backend = backend_for_device(cuda ? "cuda" : "cpu");

    Model m(c);
    model_init_random(m, 1);
    const std::vector<int> prompts = random_tokens((size_t)n_seqs * prompt, c.vocab, 3);
    std::printf(
        "decode: qwen2 H %d L %d heads %d/%d I %d V %d tied %d (%.2fM params), %d seqs, prompt %d, "
        "%d decode steps, KV cache %s, %s weights, %s backend, %d threads, %s\n",
        c.hidden, c.layers, c.heads, c.kv_heads, c.intermediate, c.vocab, (int)c.tie_embeddings,
        m.layout.numel() * 1e-6, n_seqs, prompt, n_new, kv_dtype_name(kv_dtype),
        weight_dtype_name(weight_dtype), backend.name, threads, env_note().c_str());

    // ---- ours -----------------------------------------------------------------------------------------
    GeneratorOptions gopt;
    gopt.block_size = block_size;
    gopt.kv_dtype = kv_dtype;
    gopt.kv_blocks = n_seqs * ((prompt + n_new + 1 + block_size - 1) / block_size) + 1;
    gopt.max_running = n_seqs;
    gopt.max_batch_tokens = std::max(n_seqs * prompt, n_seqs);  // every prompt prefilled in one step
    gopt.backend = &backend;
    gopt.weight_dtype = weight_dtype;
    Generator gen(m, gopt);
    std::vector<double> times;
    double prefill_s = 0;
    int64_t generated = 0;
    for (int rep = 0; rep < reps + 1; ++rep) {  // rep 0 is the warm-up
        for (int s = 0; s < n_seqs; ++s) {
            GenerationRequest r;
            r.id = (uint64_t)rep * n_seqs + s;
            r.prompt.assign(prompts.begin() + (size_t)s * prompt, prompts.begin() + (size_t)(s + 1) * prompt);
            r.max_new_tokens = n_new + 1;
            r.sampling.temperature = 0.0f;  // greedy, as the peer's argmax
            gen.add(r);
        }
        auto t0 = Clock::now();
        gen.step();  // prefill of all prompts + first token
        const double pf = seconds_since(t0);
        if (gen.num_running() != n_seqs) {
            std::fprintf(stderr, "bench_decode: expected all %d sequences running after prefill, got %d\n",
                         n_seqs, gen.num_running());
            return 1;
        }
        t0 = Clock::now();
        int n_steps = 0;
        std::vector<GeneratedSequence> done;
        while (!gen.done()) {
            for (GeneratedSequence& g : gen.step()) done.push_back(std::move(g));
            ++n_steps;
        }
        const double dt = seconds_since(t0);
        if (n_steps != n_new || (int)done.size() != n_seqs) {
            std::fprintf(stderr, "bench_decode: expected %d decode steps and %d sequences, got %d and %zu\n",
                         n_new, n_seqs, n_steps, done.size());
            return 1;
        }
        if (rep == 0) continue;
        times.push_back(dt);
        prefill_s += pf;
        for (const GeneratedSequence& g : done) generated += (int64_t)g.tokens.size();
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2];
    const double ours = (double)n_seqs * n_new / med;
    std::printf(
        "ours:  %.0f tokens/s  (median %.1f ms for %d steps = %.2f ms/step; min %.1f ms; prefill %.1f ms, "
        "%lld tokens generated)\n",
        ours, 1e3 * med, n_new, 1e3 * med / n_new, 1e3 * times.front(), 1e3 * prefill_s / reps,
        (long long)generated);
    std::printf("prefill: %.0f tokens/s (%d prompts of %d tokens in one step, with the first token)\n",
                (double)n_seqs * prompt / (prefill_s / reps), n_seqs, prompt);

    if (profile) {
        // Bare Decoder: same prompts, same greedy decode, no Generator.
        KvCache cache(c, gopt.kv_blocks, block_size, kv_dtype, backend);
        Decoder dec(m, cache);
        std::vector<int> ids(n_seqs), next(n_seqs);
        DecodeBatch b;
        for (int s = 0; s < n_seqs; ++s) {
            ids[s] = cache.seq_create();
            b.add(ids[s], prompts.data() + (size_t)s * prompt, prompt);
        }
        auto argmax_rows = [&](const float* logits) {
            for (int s = 0; s < n_seqs; ++s) {
                const float* r = logits + (size_t)s * c.vocab;
                next[s] = (int)(std::max_element(r, r + c.vocab) - r);
            }
        };
        argmax_rows(dec.extend(b));
        double extend_s = 0;
        const auto t0 = Clock::now();
        for (int i = 0; i < n_new; ++i) {
            b.clear();
            for (int s = 0; s < n_seqs; ++s) b.add(ids[s], &next[s], 1);
            const auto t1 = Clock::now();
            const float* logits = dec.extend(b);
            extend_s += seconds_since(t1);
            argmax_rows(logits);
        }
        const double total = seconds_since(t0);
        std::printf(
            "profile: bare Decoder %.0f tokens/s (%.2f ms/step, of which Decoder::extend %.2f ms); "
            "Generator adds %.2f ms/step\n",
            (double)n_seqs * n_new / total, 1e3 * total / n_new, 1e3 * extend_s / n_new,
            1e3 * (med - total) / n_new);
    }

    // ---- PyTorch ----------------------------------------------------------------------------------------
    if (no_peer) {
        std::printf("decode (%d seqs): ours %.0f tok/s (no peer)\n", n_seqs, ours);
        return 0;
    }
    const nlohmann::json peer = run_torch_peer(
        "decode",
        peer_model_args(c) + " --batch " + std::to_string(n_seqs) + " --prompt " + std::to_string(prompt) +
            " --new " + std::to_string(n_new) + " --warmup 1 --reps " + std::to_string(reps),
        prompts, threads);
    if (peer.is_null()) {
        std::printf("decode (%d seqs): PyTorch peer FAILED (ours %.0f tok/s)\n", n_seqs, ours);
        return 1;
    }
    const double torch_tps = peer["tokens_per_s"].get<double>();
    std::printf("torch: %.0f tokens/s  (median %.1f ms for %d steps, torch %s, %d threads)\n", torch_tps,
                peer["decode_ms_median"].get<double>(), n_new, peer["torch"].get<std::string>().c_str(),
                peer["threads"].get<int>());
    std::printf("decode (%d seqs): %.2fx PyTorch CPU (ours %.0f tok/s, torch %.0f tok/s)\n", n_seqs,
                ours / torch_tps, ours, torch_tps);
    return 0;
}
