// Transformer forward/backward against an independent PyTorch float64 implementation
// (tests/model/reference/torch_model.py): per-token logprob and entropy and the gradient of
// sum_t a_t logprob_t + b_t entropy_t w.r.t. every parameter, max abs error <= 1e-4.
// The test writes weights as raw float32 in ParamLayout order plus meta.json, runs the script once for
// all cases, and compares. Needs /usr/bin/python3 with torch; without it the test fails (not skips).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cmath>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

namespace fs = std::filesystem;
using namespace stride;

namespace {

struct Case {
    std::string name;
    ModelConfig cfg;
    std::vector<int> seq_lengths;
    float temperature;
    int chunk;
    bool recompute;
};

std::vector<Case> cases() {
    return {
        {"llama_llama3rope_untied", test::tiny_llama(), {7, 12, 4}, 1.0f, 1024, false},
        {"qwen2_bias_tied_temp_recompute", test::tiny_qwen2(), {9, 5, 11}, 0.7f, 5, true},
        {"qwen3_qknorm_headdim_attnbias", test::tiny_qwen3(), {13, 6}, 1.3f, 3, false},
    };
}

std::string rope_type(RopeScalingType t) {
    return t == RopeScalingType::llama3 ? "llama3" : t == RopeScalingType::linear ? "linear" : "none";
}

// Runs a command, returns its exit status and appends its output (stdout + stderr) to `output`.
int run_command(const std::string& cmd, std::string& output) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    return pclose(p);
}

struct CaseResult {
    Case c;
    Model model;
    std::vector<int> tokens;
    TokenScores scores;
    std::vector<float> grads;
    std::vector<double> ref;  // logprob[T], entropy[T], grads[numel]
};

class TransformerVsTorch : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        std::string out;
        if (run_command("/usr/bin/python3 -c 'import torch, numpy'", out) != 0) {
            setup_error_ =
                "the PyTorch reference needs /usr/bin/python3 with torch and numpy "
                "(Debian: apt-get install python3-torch python3-numpy); import failed:\n" +
                out;
            return;
        }
        const fs::path root = fs::temp_directory_path() / ("stride_torch_ref_" + std::to_string(getpid()));
        fs::create_directories(root);
        struct RemoveOnExit {
            fs::path p;
            ~RemoveOnExit() { fs::remove_all(p); }
        } cleanup{root};
        std::string dirs;
        uint64_t seed = 1000;
        for (const Case& c : cases()) {
            auto r = std::make_unique<CaseResult>(CaseResult{c, Model(c.cfg), {}, {}, {}, {}});
            test::randomize_model(r->model, ++seed);
            PackedBatch batch;
            for (int len : c.seq_lengths) batch.add_sequence(test::random_tokens(len, c.cfg.vocab, ++seed));
            r->tokens = batch.tokens;
            const int T = batch.num_tokens();
            std::mt19937_64 rng(++seed);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            std::vector<float> a(T), b(T);
            // Coefficients of a token-mean-like loss (scale 1/sqrt(T)) keep gradients O(10) at most, so
            // float32 rounding (relative ~1e-6) stays well inside the absolute bound below.
            const float coef = 1.0f / std::sqrt((float)T);
            for (int t = 0; t < T; ++t) a[t] = coef * normal(rng), b[t] = coef * normal(rng);

            Transformer tf(r->model);
            ForwardOptions opt;
            opt.temperature = c.temperature, opt.logprob_chunk = c.chunk, opt.recompute = c.recompute;
            r->scores = tf.forward(batch, opt);
            r->grads.assign(r->model.layout.numel(), 0.0f);
            tf.backward(a, b, r->grads.data());

            const fs::path dir = root / c.name;
            fs::create_directories(dir);
            std::ofstream(dir / "weights.bin", std::ios::binary)
                .write(reinterpret_cast<const char*>(r->model.data.data()),
                       r->model.data.size() * sizeof(float));
            const ModelConfig& k = c.cfg;
            nlohmann::json cfg = {{"hidden", k.hidden},         {"intermediate", k.intermediate},
                                  {"layers", k.layers},         {"heads", k.heads},
                                  {"kv_heads", k.kv_heads},     {"head_dim", k.head_dim},
                                  {"vocab", k.vocab},           {"rms_eps", (double)k.rms_eps},
                                  {"rope_theta", k.rope_theta}, {"tie_embeddings", k.tie_embeddings},
                                  {"qk_norm", k.qk_norm}};
            cfg["rope_scaling"] = {
                {"type", rope_type(k.rope_scaling.type)},
                {"factor", k.rope_scaling.factor},
                {"low_freq_factor", k.rope_scaling.low_freq_factor},
                {"high_freq_factor", k.rope_scaling.high_freq_factor},
                {"original_max_position_embeddings", k.rope_scaling.original_max_position_embeddings}};
            nlohmann::json meta = {
                {"config", cfg}, {"temperature", (double)c.temperature}, {"a", a}, {"b", b}};
            meta["params"] = nlohmann::json::array();
            for (const ParamSpec& s : r->model.layout.specs())
                meta["params"].push_back({{"name", s.name}, {"shape", s.shape}});
            meta["seqs"] = nlohmann::json::array();
            for (int s = 0; s < batch.num_seqs(); ++s)
                meta["seqs"].push_back(std::vector<int>(batch.tokens.begin() + batch.cu_seqlens[s],
                                                        batch.tokens.begin() + batch.cu_seqlens[s + 1]));
            std::ofstream(dir / "meta.json") << meta.dump();
            dirs.push_back(' ');  // (not " " + ...: GCC 12 false -Wrestrict)
            dirs += dir.string();
            results_.push_back(std::move(r));
        }
        const std::string script = std::string(STRIDE_SOURCE_DIR) + "/tests/model/reference/torch_model.py";
        out.clear();
        if (run_command("/usr/bin/python3 " + script + dirs, out) != 0) {
            setup_error_ = "torch_model.py failed:\n" + out;
            return;
        }
        for (auto& r : results_) {
            const size_t n = 2 * r->tokens.size() + r->model.layout.numel();
            r->ref.resize(n);
            std::ifstream f(root / r->c.name / "out.bin", std::ios::binary);
            f.read(reinterpret_cast<char*>(r->ref.data()), n * sizeof(double));
            if (!f) setup_error_ = "short or missing out.bin for case " + r->c.name;
        }
    }
    static void TearDownTestSuite() { results_.clear(); }

    static const CaseResult& result(const std::string& name) {
        for (auto& r : results_)
            if (r->c.name == name) return *r;
        throw std::runtime_error("no case " + name);
    }

    void check_case(const std::string& name) {
        ASSERT_TRUE(setup_error_.empty()) << setup_error_;
        const CaseResult& r = result(name);
        const size_t T = r.tokens.size();
        double err_lp = 0, err_ent = 0;
        for (size_t t = 0; t < T; ++t) {
            err_lp = std::max(err_lp, std::fabs(r.scores.logprob[t] - r.ref[t]));
            err_ent = std::max(err_ent, std::fabs(r.scores.entropy[t] - r.ref[T + t]));
        }
        EXPECT_LE(err_lp, 1e-4) << "logprob";
        EXPECT_LE(err_ent, 1e-4) << "entropy";
        // Sanity: the reference values are not degenerate (logprobs of a 50+ word vocabulary are O(1)).
        EXPECT_LT(r.ref[1], -0.1);
        EXPECT_GT(r.ref[T + 1], 0.1);
        double worst_grad = 0;
        for (const ParamSpec& s : r.model.layout.specs()) {
            double err = 0, mag = 0;
            for (size_t i = 0; i < s.numel; ++i) {
                const double ref = r.ref[2 * T + s.offset + i];
                err = std::max(err, std::fabs(r.grads[s.offset + i] - ref));
                mag = std::max(mag, std::fabs(ref));
            }
            worst_grad = std::max(worst_grad, err);
            // Absolute bound of the assignment, plus a scale-free one: float32 vs float64 truth.
            EXPECT_LE(err, 1e-4) << s.name << " (max |grad| " << mag << ")";
            EXPECT_LE(err, 2e-5 * mag + 1e-6) << s.name << " (max |grad| " << mag << ")";
            EXPECT_GT(mag, 1e-3) << s.name << ": reference gradient is ~0, the comparison would be vacuous";
        }
        std::printf("  %s: max abs error logprob %.2e, entropy %.2e, gradients %.2e\n", name.c_str(), err_lp,
                    err_ent, worst_grad);
    }

    static inline std::vector<std::unique_ptr<CaseResult>> results_;
    static inline std::string setup_error_;
};

TEST_F(TransformerVsTorch, LlamaUntiedLlama3RopeMlpBias) {
    check_case("llama_llama3rope_untied");
}
TEST_F(TransformerVsTorch, Qwen2BiasTiedTemperatureRecomputeChunked) {
    check_case("qwen2_bias_tied_temp_recompute");
}
TEST_F(TransformerVsTorch, Qwen3QkNormExplicitHeadDimAttentionBias) {
    check_case("qwen3_qknorm_headdim_attnbias");
}

}  // namespace
