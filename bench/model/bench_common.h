// Shared pieces of the engine benchmarks (bench/model/bench_*.cpp): argument parsing, the bench
// config, thread defaults, and running the PyTorch peer (bench/model/torch_peer.py) in the same run.
//
// Threads: both sides use STRIDE_THREADS, defaulting to 2 when it is unset (set here, before
// stride::init_threads() reads it). The peer gets torch.set_num_threads(N) plus OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS = N. Python: $STRIDE_PYTHON, default /usr/bin/python3 (Debian's torch 1.13).
#pragma once
#include <cstdint>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/parallel.h"
#include "model/config.h"

namespace stride_bench {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---- arguments: --name value pairs and bare --flags -------------------------------------------------
struct Args {
    std::map<std::string, std::string> kv;

    Args(int argc, char** argv, const char* usage) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-h" || a == "--help" || a.rfind("--", 0) != 0) {
                std::fprintf(stderr, "%s", usage);
                std::exit(a.rfind("--", 0) == 0 ? 0 : 2);
            }
            a = a.substr(2);
            const bool has_value = i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0;
            kv[a] = has_value ? argv[++i] : "1";
        }
    }
    int get(const std::string& k, int def) {
        auto it = kv.find(k);
        if (it == kv.end()) return def;
        const int v = std::atoi(it->second.c_str());
        kv.erase(it);
        return v;
    }
    bool flag(const std::string& k) { return get(k, 0) != 0; }
    // Call after every get(): rejects unknown options.
    void done(const char* usage) {
        if (kv.empty()) return;
        std::fprintf(stderr, "unknown option --%s\n%s", kv.begin()->first.c_str(), usage);
        std::exit(2);
    }
};

#define STRIDE_BENCH_MODEL_USAGE                                                                      \
    "  model: --hidden 256 --layers 4 --heads 8 --kv-heads 4 --intermediate 688 --vocab 1024 [--tie]\n" \
    "  --no-peer   skip the PyTorch peer (engine numbers only)\n"                                        \
    "  env: STRIDE_THREADS (default 2, both sides), STRIDE_PYTHON (default /usr/bin/python3)\n"

// Qwen2-style config from the arguments (q/k/v bias, rope_theta 1e6, head_dim = hidden / heads).
inline stride::ModelConfig model_config_from_args(Args& a) {
    stride::ModelConfig c;
    c.arch = stride::Arch::qwen2;
    c.hidden = a.get("hidden", 256);
    c.layers = a.get("layers", 4);
    c.heads = a.get("heads", 8);
    c.kv_heads = a.get("kv-heads", 4);
    c.intermediate = a.get("intermediate", 688);
    c.vocab = a.get("vocab", 1024);
    c.tie_embeddings = a.flag("tie");
    c.head_dim = c.heads > 0 ? c.hidden / c.heads : 0;
    c.qkv_bias = true;
    c.rope_theta = 1e6;
    c.max_position = 1 << 20;
    c.validate();
    return c;
}

// The peer's model arguments for the same config.
inline std::string peer_model_args(const stride::ModelConfig& c) {
    return " --hidden " + std::to_string(c.hidden) + " --layers " + std::to_string(c.layers) + " --heads " +
           std::to_string(c.heads) + " --kv-heads " + std::to_string(c.kv_heads) + " --intermediate " +
           std::to_string(c.intermediate) + " --vocab " + std::to_string(c.vocab) + " --tie " +
           std::to_string((int)c.tie_embeddings) + " --rope-theta " + std::to_string(c.rope_theta);
}

// STRIDE_THREADS defaults to 2 for the benches (both sides), then the engine's pools are set.
inline int setup_threads() {
    if (!std::getenv("STRIDE_THREADS")) setenv("STRIDE_THREADS", "2", 1);
    stride::init_threads();
    return stride::num_threads();
}

// Settings that change the numbers a lot, for the header line. libgomp spin-waits after each parallel
// region unless OMP_WAIT_POLICY=passive, and the OpenBLAS pthread pool competes with those spinning
// threads (both sides of every bench are affected; the environment passes through to the peer).
inline std::string env_note() {
    const char* w = std::getenv("OMP_WAIT_POLICY");
    return std::string("OMP_WAIT_POLICY=") + (w && *w ? w : "unset");
}

// Uniform random token ids in [0, vocab), fixed seed.
inline std::vector<int> random_tokens(size_t n, int vocab, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int> t(n);
    for (int& x : t) x = (int)(rng() % (uint32_t)vocab);
    return t;
}

// ---- the PyTorch peer --------------------------------------------------------------------------------
// Writes the token ids to a temporary int32 file, runs
//   $STRIDE_PYTHON bench/model/torch_peer.py <mode> <args> --threads N --tokens FILE
// and returns its JSON line. On failure prints why and returns a null json.
inline nlohmann::json run_torch_peer(const std::string& mode, const std::string& args,
                                     const std::vector<int>& tokens, int threads) {
    char path[] = "/tmp/stride_bench_tokens_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        std::perror("mkstemp");
        return nullptr;
    }
    const size_t bytes = tokens.size() * sizeof(int);  // int is int32 here
    const bool wrote = write(fd, tokens.data(), bytes) == (ssize_t)bytes;
    close(fd);
    if (!wrote) {
        std::fprintf(stderr, "bench: could not write %s\n", path);
        unlink(path);
        return nullptr;
    }
    const char* py = std::getenv("STRIDE_PYTHON");
    const std::string n = std::to_string(threads);
    setenv("OMP_NUM_THREADS", n.c_str(), 1);  // read by the child only (our pools are already set)
    setenv("OPENBLAS_NUM_THREADS", n.c_str(), 1);
    const std::string cmd = std::string(py && *py ? py : "/usr/bin/python3") + " " STRIDE_SOURCE_DIR
                            "/bench/model/torch_peer.py " + mode + args + " --threads " + n + " --tokens " + path;
    std::fflush(stdout);
    FILE* p = popen(cmd.c_str(), "r");
    nlohmann::json out;
    if (p) {
        char line[4096];
        std::string last;
        while (std::fgets(line, sizeof line, p)) last = line;
        const int rc = pclose(p);
        if (rc == 0 && !last.empty() && last[0] == '{') out = nlohmann::json::parse(last, nullptr, false);
        if (out.is_discarded() || !out.contains("tokens_per_s")) {
            std::fprintf(stderr, "bench: PyTorch peer failed (rc %d): %s\n  last line: %s", rc, cmd.c_str(),
                         last.c_str());
            out = nullptr;
        }
    }
    unlink(path);
    return out;
}

}  // namespace stride_bench
