// Trainer peak memory vs sample length: one sample of L tokens (1k .. 64k) through a training step
// (forward + backward, chunked LM head) of a tiny model, each length in a fresh child process so the
// peak resident set is that length's alone. Run with activation recomputation (what long samples
// use) and without it (the peer, up to --peer-max-len). The memory must grow linearly in L with a
// small slope: no [L, L] attention matrix, no [L, vocab] logits.
//
//   build/bin/bench_memory_length [--max-len 65536] [--peer-max-len 16384] [model args]
//
// Last line: "memory slope: X KiB/token with recompute = R x the no-recompute slope; ...".
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "bench/model/bench_common.h"
#include "model/params.h"
#include "model/transformer.h"

using namespace stride;
using namespace stride_bench;

namespace {

const char* kUsage =
    "usage: bench_memory_length [--max-len 65536] [--min-len 1024] [--peer-max-len 16384]\n"
    "  [--chunk 1024] (LM-head chunk)\n" STRIDE_BENCH_MODEL_USAGE;

// VmHWM / VmRSS of this process in bytes.
size_t status_bytes(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::stoull(line.substr(std::strlen(field) + 1)) * 1024;
    return 0;
}

struct Point {
    int len = 0;
    bool recompute = false;
    double peak_bytes = 0;  // peak RSS growth over the state before the step
    double act_bytes = 0;   // Transformer::activation_bytes()
    double seconds = 0;
};

// Runs in a child: one training step on a single sequence of `len` tokens.
void measure_child(const ModelConfig& c, int len, bool recompute, int chunk, int fd) {
    Model m(c);
    model_init_random(m, 1);
    std::vector<float> grads(m.layout.numel(), 0.0f);
    PackedBatch batch;
    batch.add_sequence(random_tokens(len, c.vocab, 3));
    std::vector<float> g_lp(len, -1.0f / len);
    // Reset the peak to the current RSS: what the step adds is the activation memory.
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    const size_t before = status_bytes("VmRSS:");
    const auto t0 = Clock::now();
    Transformer tf(m);
    ForwardOptions fo;
    fo.recompute = recompute;
    fo.logprob_chunk = chunk;
    tf.forward(batch, fo);
    tf.backward(g_lp, {}, grads.data());
    Point p;
    p.len = len;
    p.recompute = recompute;
    p.seconds = seconds_since(t0);
    p.peak_bytes = static_cast<double>(status_bytes("VmHWM:") - before);
    p.act_bytes = static_cast<double>(tf.activation_bytes());
    (void)!write(fd, &p, sizeof(p));
}

Point measure(const ModelConfig& c, int len, bool recompute, int chunk) {
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        measure_child(c, len, recompute, chunk, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    Point p;
    const bool ok = read(fds[0], &p, sizeof(p)) == (ssize_t)sizeof(p);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!ok) {
        std::fprintf(stderr, "length %d: child failed (status %d)\n", len, status);
        std::exit(1);
    }
    return p;
}

// Least-squares slope and intercept of y over x, and R^2.
void fit(const std::vector<Point>& pts, double& slope, double& intercept, double& r2) {
    double n = pts.size(), sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (const Point& p : pts) {
        sx += p.len, sy += p.peak_bytes, sxx += double(p.len) * p.len, sxy += p.len * p.peak_bytes;
        syy += p.peak_bytes * p.peak_bytes;
    }
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    intercept = (sy - slope * sx) / n;
    const double ss_tot = syy - sy * sy / n;
    double ss_res = 0;
    for (const Point& p : pts) ss_res += std::pow(p.peak_bytes - (slope * p.len + intercept), 2);
    r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
}

}  // namespace

int main(int argc, char** argv) {
    ensure_fast_blas_kernels(argv);
    const int threads = setup_threads();
    Args args(argc, argv, kUsage);
    // A tiny model by default: the point is how memory scales with length, not the model.
    if (!args.kv.count("hidden")) args.kv["hidden"] = "64";
    if (!args.kv.count("layers")) args.kv["layers"] = "2";
    if (!args.kv.count("heads")) args.kv["heads"] = "4";
    if (!args.kv.count("kv-heads")) args.kv["kv-heads"] = "2";
    if (!args.kv.count("intermediate")) args.kv["intermediate"] = "176";
    if (!args.kv.count("vocab")) args.kv["vocab"] = "4096";
    const ModelConfig c = model_config_from_args(args);
    const int min_len = args.get("min-len", 1024), max_len = args.get("max-len", 65536);
    const int peer_max = args.get("peer-max-len", 16384), chunk = args.get("chunk", 1024);
    args.done(kUsage);
    std::printf(
        "trainer memory vs sample length: qwen2 H %d L %d heads %d/%d I %d V %d, LM-head chunk %d, %d "
        "threads\n",
        c.hidden, c.layers, c.heads, c.kv_heads, c.intermediate, c.vocab, chunk, threads);
    std::printf("%8s %10s %14s %14s %12s %8s\n", "tokens", "recompute", "peak MiB", "arena MiB", "KiB/token",
                "step s");
    std::vector<Point> with, without;
    for (int len = min_len; len <= max_len; len *= 2) {
        for (bool rc : {true, false}) {
            if (!rc && len > peer_max) continue;
            const Point p = measure(c, len, rc, chunk);
            std::printf("%8d %10s %14.1f %14.1f %12.2f %8.2f\n", len, rc ? "on" : "off",
                        p.peak_bytes / (1 << 20), p.act_bytes / (1 << 20), p.peak_bytes / 1024 / len,
                        p.seconds);
            std::fflush(stdout);
            (rc ? with : without).push_back(p);
        }
    }
    double s_on, b_on, r2_on, s_off, b_off, r2_off;
    fit(with, s_on, b_on, r2_on);
    fit(without, s_off, b_off, r2_off);
    const double model_bytes_per_token_layer = 4.0 * c.hidden;  // one fp32 residual row per layer
    std::printf(
        "fit with recompute: %.2f KiB/token + %.1f MiB (R^2 %.4f); without: %.2f KiB/token (R^2 %.4f)\n",
        s_on / 1024, b_on / (1 << 20), r2_on, s_off / 1024, r2_off);
    std::printf("recompute slope = %.1f residual rows of H floats per token (L = %d layers)\n",
                s_on / model_bytes_per_token_layer, c.layers);
    std::printf(
        "memory slope: %.2f KiB/token with recompute = %.2fx the no-recompute slope; linear fit R^2 %.4f "
        "up to %d tokens\n",
        s_on / 1024, s_on / s_off, r2_on, with.back().len);
    return 0;
}
