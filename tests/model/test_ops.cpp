// Op-level tests of the CPU kernels in model/ops: attention against a naive O(T^2) implementation
// (forward and backward, ragged varlen batch crossing the kernel's block sizes), chunked LM-head
// log-prob/entropy for several chunk sizes against a naive double-precision reference, RoPE inverse
// frequencies with llama3/linear scaling, and central finite-difference checks of every op's backward.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "common/base/error.h"
#include "model/ops/attention.h"
#include "model/ops/embedding.h"
#include "model/ops/logprob.h"
#include "model/ops/math.h"
#include "model/ops/matmul.h"
#include "model/ops/rmsnorm.h"
#include "model/ops/rope.h"
#include "model/ops/swiglu.h"
#include "model/ops/vec_exp.h"

using namespace stride;

namespace {

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

double weighted_sum(const std::vector<float>& out, const std::vector<float>& r) {
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += (double)out[i] * r[i];
    return s;
}

// Central finite differences of loss() w.r.t. `n_probe` entries of x, compared with grad.
// eps 1e-2 keeps float32 rounding of the loss (~1e-7 relative) far below the check's tolerance; the
// O(eps^2) truncation error is ~1e-4 relative.
void check_fd(const char* what, std::vector<float>& x, const std::vector<float>& grad,
              const std::function<double()>& loss, int n_probe = 12, uint64_t seed = 7) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, x.size() - 1);
    const float eps = 1e-2f;
    for (int k = 0; k < n_probe; ++k) {
        const size_t i = pick(rng);
        const float x0 = x[i];
        x[i] = x0 + eps;
        const double lp = loss();
        x[i] = x0 - eps;
        const double lm = loss();
        x[i] = x0;
        const double fd = (lp - lm) / (2.0 * eps);
        EXPECT_NEAR(grad[i], fd, 2e-3 + 1e-2 * std::fabs(fd)) << what << " index " << i;
    }
}

// ---- attention -------------------------------------------------------------------------------

struct AttnProblem {
    std::vector<int> cu{0, 5, 70, 71, 150};  // ragged: 5, 65 (crosses the 64 key block), 1, 79
    int nq = 4, nkv = 2, D = 8;
    int T() const { return cu.back(); }
    int n_seqs() const { return (int)cu.size() - 1; }
};

// Plain softmax attention in double: out, lse, and (given dout) dq, dk, dv.
void attention_naive(const AttnProblem& P, const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& dout, std::vector<double>& out,
                     std::vector<double>& lse, std::vector<double>& dq, std::vector<double>& dk,
                     std::vector<double>& dv) {
    const int T = P.T(), nq = P.nq, nkv = P.nkv, D = P.D, rep = nq / nkv;
    const double scale = 1.0 / std::sqrt((double)D);
    out.assign((size_t)T * nq * D, 0), lse.assign((size_t)T * nq, 0);
    dq.assign(q.size(), 0), dk.assign(k.size(), 0), dv.assign(v.size(), 0);
    auto Q = [&](int t, int h, int d) { return (double)q[((size_t)t * nq + h) * D + d]; };
    auto K = [&](int t, int h, int d) { return (double)k[((size_t)t * nkv + h) * D + d]; };
    auto V = [&](int t, int h, int d) { return (double)v[((size_t)t * nkv + h) * D + d]; };
    for (int s = 0; s < P.n_seqs(); ++s)
        for (int h = 0; h < nq; ++h)
            for (int i = P.cu[s]; i < P.cu[s + 1]; ++i) {
                const int g = h / rep;
                std::vector<double> p(i + 1 - P.cu[s]);
                double mx = -INFINITY, sum = 0;
                for (int j = P.cu[s]; j <= i; ++j) {
                    double sc = 0;
                    for (int d = 0; d < D; ++d) sc += Q(i, h, d) * K(j, g, d);
                    p[j - P.cu[s]] = sc * scale;
                    mx = std::max(mx, sc * scale);
                }
                for (double& x : p) sum += (x = std::exp(x - mx));
                lse[(size_t)i * nq + h] = mx + std::log(sum);
                for (double& x : p) x /= sum;
                const float* go = &dout[((size_t)i * nq + h) * D];
                std::vector<double> dp(p.size());
                double Di = 0;
                for (int j = P.cu[s]; j <= i; ++j) {
                    const double pj = p[j - P.cu[s]];
                    double dpj = 0;
                    for (int d = 0; d < D; ++d) {
                        out[((size_t)i * nq + h) * D + d] += pj * V(j, g, d);
                        dv[((size_t)j * nkv + g) * D + d] += pj * go[d];
                        dpj += go[d] * V(j, g, d);
                    }
                    dp[j - P.cu[s]] = dpj;
                    Di += pj * dpj;
                }
                for (int j = P.cu[s]; j <= i; ++j) {
                    const double ds = p[j - P.cu[s]] * (dp[j - P.cu[s]] - Di) * scale;
                    for (int d = 0; d < D; ++d) {
                        dq[((size_t)i * nq + h) * D + d] += ds * K(j, g, d);
                        dk[((size_t)j * nkv + g) * D + d] += ds * Q(i, h, d);
                    }
                }
            }
}

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs((double)a[i] - (double)b[i]));
    return m;
}

void expect_attention_matches_naive(const AttnProblem& P) {
    const int T = P.T();
    auto q = randn((size_t)T * P.nq * P.D, 1), k = randn((size_t)T * P.nkv * P.D, 2);
    auto v = randn((size_t)T * P.nkv * P.D, 3), dout = randn((size_t)T * P.nq * P.D, 4);
    std::vector<float> out(q.size()), lse((size_t)T * P.nq), dq(q.size()), dk(k.size(), 5.0f), dv(v.size());
    attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), P.cu.data(), P.n_seqs(), P.nq,
                      P.nkv, P.D);
    attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(),
                       k.data(), v.data(), P.cu.data(), P.n_seqs(), P.nq, P.nkv, P.D);
    std::vector<double> o_ref, lse_ref, dq_ref, dk_ref, dv_ref;
    attention_naive(P, q, k, v, dout, o_ref, lse_ref, dq_ref, dk_ref, dv_ref);
    EXPECT_LT(max_abs_diff(out, o_ref), 1e-5);
    EXPECT_LT(max_abs_diff(lse, lse_ref), 1e-5);
    EXPECT_LT(max_abs_diff(dq, dq_ref), 1e-5);
    EXPECT_LT(max_abs_diff(dk, dk_ref), 1e-5);  // assigned, not accumulated onto the 5.0 fill
    EXPECT_LT(max_abs_diff(dv, dv_ref), 1e-5);
}

TEST(Attention, MatchesNaiveForwardAndBackwardOnRaggedGqaBatch) {
    expect_attention_matches_naive(AttnProblem{});
}

// Every key-block width the kernels pick (16, 32, 48, 64 columns) and row groups cut by a sequence
// end: lengths 1..3 below one width step, 16 and 17 across it, 40 (the short RL answers the kernels
// were tuned for), 64 exactly one block, 130 three blocks; head dim 32 as in the benchmarks.
TEST(Attention, MatchesNaiveAcrossKeyBlockWidthsAndSequenceEnds) {
    AttnProblem P;
    P.cu = {0, 3, 19, 36, 76, 140, 270};
    P.nq = 4, P.nkv = 1, P.D = 32;
    expect_attention_matches_naive(P);
}

TEST(Attention, FirstTokenOfEachSequenceSeesOnlyItself) {
    AttnProblem P;
    const int T = P.T();
    auto q = randn((size_t)T * P.nq * P.D, 11), k = randn((size_t)T * P.nkv * P.D, 12);
    auto v = randn((size_t)T * P.nkv * P.D, 13);
    std::vector<float> out(q.size()), lse((size_t)T * P.nq);
    attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), P.cu.data(), P.n_seqs(), P.nq,
                      P.nkv, P.D);
    for (int s = 0; s < P.n_seqs(); ++s) {
        const int t = P.cu[s];
        for (int h = 0; h < P.nq; ++h)
            for (int d = 0; d < P.D; ++d)
                EXPECT_FLOAT_EQ(out[((size_t)t * P.nq + h) * P.D + d],
                                v[((size_t)t * P.nkv + h / 2) * P.D + d]);
    }
}

TEST(Attention, FiniteDifferences) {
    AttnProblem P;
    P.cu = {0, 6, 13};
    const int T = P.T();
    auto q = randn((size_t)T * P.nq * P.D, 21), k = randn((size_t)T * P.nkv * P.D, 22);
    auto v = randn((size_t)T * P.nkv * P.D, 23), r = randn((size_t)T * P.nq * P.D, 24);
    std::vector<float> out(q.size()), lse((size_t)T * P.nq), dq(q.size()), dk(k.size()), dv(v.size());
    auto loss = [&] {
        attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), P.cu.data(), P.n_seqs(), P.nq,
                          P.nkv, P.D);
        return weighted_sum(out, r);
    };
    loss();
    attention_backward(dq.data(), dk.data(), dv.data(), r.data(), out.data(), lse.data(), q.data(), k.data(),
                       v.data(), P.cu.data(), P.n_seqs(), P.nq, P.nkv, P.D);
    check_fd("attention dq", q, dq, loss);
    check_fd("attention dk", k, dk, loss);
    check_fd("attention dv", v, dv, loss);
}

// ---- LM head log-prob / entropy -------------------------------------------------------------

struct HeadProblem {
    int T = 10, H = 16, V = 37;
    float temperature = 0.8f;
    std::vector<float> h = randn((size_t)T * H, 31), w = randn((size_t)V * H, 32, 0.5f);
    std::vector<int> targets{3, 0, 36, -1, 7, 7, 12, 30, 1, -1};
    std::vector<float> g_lp = randn(T, 33), g_ent = randn(T, 34);
};

// Double-precision, unchunked: logprob, entropy, dh, dw.
void head_naive(const HeadProblem& P, std::vector<double>& lp, std::vector<double>& ent,
                std::vector<double>& dh, std::vector<double>& dw) {
    lp.assign(P.T, 0), ent.assign(P.T, 0), dh.assign(P.h.size(), 0), dw.assign(P.w.size(), 0);
    for (int t = 0; t < P.T; ++t) {
        std::vector<double> z(P.V), p(P.V);
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < P.V; ++j) {
            double s = 0;
            for (int c = 0; c < P.H; ++c) s += (double)P.h[t * P.H + c] * P.w[j * P.H + c];
            z[j] = s / P.temperature;
            mx = std::max(mx, z[j]);
        }
        for (int j = 0; j < P.V; ++j) sum += std::exp(z[j] - mx);
        const double lse = mx + std::log(sum);
        double H = 0;
        for (int j = 0; j < P.V; ++j) p[j] = std::exp(z[j] - lse), H -= p[j] * (z[j] - lse);
        const int y = P.targets[t];
        lp[t] = y >= 0 ? z[y] - lse : 0;
        ent[t] = H;
        const double glp = y >= 0 ? P.g_lp[t] : 0;
        for (int j = 0; j < P.V; ++j) {
            double dz = -glp * p[j] - P.g_ent[t] * p[j] * ((z[j] - lse) + H);
            if (j == y) dz += glp;
            dz /= P.temperature;
            for (int c = 0; c < P.H; ++c) {
                dh[t * P.H + c] += dz * P.w[j * P.H + c];
                dw[j * P.H + c] += dz * P.h[t * P.H + c];
            }
        }
    }
}

TEST(LmHeadLogprob, ChunkedMatchesNaiveForEveryChunkSize) {
    HeadProblem P;
    std::vector<double> lp_ref, ent_ref, dh_ref, dw_ref;
    head_naive(P, lp_ref, ent_ref, dh_ref, dw_ref);
    for (int chunk : {1, 3, P.T, 1000}) {
        std::vector<float> lp(P.T), ent(P.T), dh(P.h.size(), 0.0f), dw(P.w.size(), 0.0f);
        lm_head_logprob_forward(lp.data(), ent.data(), P.h.data(), P.w.data(), P.targets.data(), P.T, P.H,
                                P.V, P.temperature, chunk);
        lm_head_logprob_backward(dh.data(), dw.data(), P.g_lp.data(), P.g_ent.data(), P.h.data(), P.w.data(),
                                 P.targets.data(), P.T, P.H, P.V, P.temperature, chunk);
        EXPECT_LT(max_abs_diff(lp, lp_ref), 1e-5) << "chunk " << chunk;
        EXPECT_LT(max_abs_diff(ent, ent_ref), 1e-5) << "chunk " << chunk;
        EXPECT_LT(max_abs_diff(dh, dh_ref), 1e-5) << "chunk " << chunk;
        EXPECT_LT(max_abs_diff(dw, dw_ref), 1e-5) << "chunk " << chunk;
        EXPECT_EQ(lp[3], 0.0f);  // no target
    }
}

TEST(LmHeadLogprob, BackwardAccumulates) {
    HeadProblem P;
    std::vector<float> dh(P.h.size(), 1.0f), dw(P.w.size(), 0.0f), dh0(P.h.size(), 0.0f);
    lm_head_logprob_backward(dh.data(), dw.data(), P.g_lp.data(), nullptr, P.h.data(), P.w.data(),
                             P.targets.data(), P.T, P.H, P.V, P.temperature, 4);
    lm_head_logprob_backward(dh0.data(), nullptr, P.g_lp.data(), nullptr, P.h.data(), P.w.data(),
                             P.targets.data(), P.T, P.H, P.V, P.temperature, 4);
    for (size_t i = 0; i < dh.size(); ++i) EXPECT_NEAR(dh[i], dh0[i] + 1.0f, 1e-6);
}

TEST(LmHeadLogprob, FiniteDifferences) {
    HeadProblem P;
    std::vector<float> lp(P.T), ent(P.T), dh(P.h.size(), 0.0f), dw(P.w.size(), 0.0f);
    auto loss = [&] {
        lm_head_logprob_forward(lp.data(), ent.data(), P.h.data(), P.w.data(), P.targets.data(), P.T, P.H,
                                P.V, P.temperature, 4);
        return weighted_sum(lp, P.g_lp) + weighted_sum(ent, P.g_ent);
    };
    lm_head_logprob_backward(dh.data(), dw.data(), P.g_lp.data(), P.g_ent.data(), P.h.data(), P.w.data(),
                             P.targets.data(), P.T, P.H, P.V, P.temperature, 4);
    check_fd("lm_head dh", P.h, dh, loss);
    check_fd("lm_head dw", P.w, dw, loss);
}

TEST(LmHeadLogprob, RejectsBadArguments) {
    HeadProblem P;
    std::vector<float> lp(P.T);
    P.targets[2] = P.V;
    EXPECT_THROW(lm_head_logprob_forward(lp.data(), nullptr, P.h.data(), P.w.data(), P.targets.data(), P.T,
                                         P.H, P.V, 1.0f, 4),
                 Error);
    P.targets[2] = 0;
    EXPECT_THROW(lm_head_logprob_forward(lp.data(), nullptr, P.h.data(), P.w.data(), P.targets.data(), P.T,
                                         P.H, P.V, 0.0f, 4),
                 Error);
}

// ---- RoPE ------------------------------------------------------------------------------------

TEST(Rope, InvFreqDefaultLinearAndLlama3) {
    ModelConfig c;
    c.head_dim = 8, c.rope_theta = 10000.0;
    std::vector<float> base = rope_inv_freq(c);
    ASSERT_EQ(base.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(base[i], std::pow(10000.0, -2.0 * i / 8), 1e-7);

    c.rope_scaling.type = RopeScalingType::linear, c.rope_scaling.factor = 4.0f;
    std::vector<float> lin = rope_inv_freq(c);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(lin[i], base[i] / 4.0f);

    // llama3 with original context 64, low 1, high 4: wavelengths 2*pi*{1, 10, 100, 1000}.
    c.rope_scaling = {RopeScalingType::llama3, 8.0f, 1.0f, 4.0f, 64};
    std::vector<float> l3 = rope_inv_freq(c);
    EXPECT_FLOAT_EQ(l3[0], base[0]);         // wavelen 6.3 < 16: high frequency, kept
    EXPECT_FLOAT_EQ(l3[2], base[2] / 8.0f);  // wavelen 628 > 64: low frequency, divided by factor
    EXPECT_FLOAT_EQ(l3[3], base[3] / 8.0f);
    const double wl = 2 * M_PI / base[1], s = (64.0 / wl - 1.0) / (4.0 - 1.0);  // medium band: blend
    EXPECT_NEAR(l3[1], (1 - s) * base[1] / 8.0 + s * base[1], 1e-7);
}

TEST(Rope, RotatesHalvesAndBackwardInverts) {
    const int T = 3, nh = 2, D = 6;
    std::vector<float> inv{1.0f, 0.1f, 0.01f};
    std::vector<int> pos{0, 1, 7};
    auto x = randn(T * nh * D, 41), y = x;
    rope_forward(y.data(), pos.data(), inv.data(), T, nh, D);
    // Position 0 is the identity; elsewhere pair (j, j + D/2) rotates by pos * inv[j].
    for (int i = 0; i < nh * D; ++i) EXPECT_FLOAT_EQ(y[i], x[i]);
    const int t = 2, h = 1, j = 1;
    const float* a = &x[(t * nh + h) * D];
    const float ang = 7 * 0.1f;
    EXPECT_NEAR(y[(t * nh + h) * D + j], a[j] * std::cos(ang) - a[j + 3] * std::sin(ang), 1e-6);
    EXPECT_NEAR(y[(t * nh + h) * D + j + 3], a[j + 3] * std::cos(ang) + a[j] * std::sin(ang), 1e-6);
    // The rotation is orthogonal: backward (transpose) undoes forward.
    rope_backward(y.data(), pos.data(), inv.data(), T, nh, D);
    EXPECT_LT(max_abs_diff(y, x), 1e-6);
}

TEST(Rope, FiniteDifferences) {
    const int T = 4, nh = 3, D = 8;
    std::vector<float> inv{1.0f, 0.3f, 0.1f, 0.01f};
    std::vector<int> pos{0, 2, 5, 9};
    auto x = randn(T * nh * D, 42), r = randn(T * nh * D, 43), y = x;
    auto loss = [&] {
        y = x;
        rope_forward(y.data(), pos.data(), inv.data(), T, nh, D);
        return weighted_sum(y, r);
    };
    std::vector<float> dx = r;
    rope_backward(dx.data(), pos.data(), inv.data(), T, nh, D);
    check_fd("rope dx", x, dx, loss);
}

TEST(VecExp, MatchesExpToAboutOneUlp) {
    double worst = 0;
    for (int k = -87000; k <= 88000; ++k) {
        const float x = k * 1e-3f + 3.7e-4f;
        const double ref = std::exp((double)x);
        worst = std::max(worst, std::fabs(vec_expf(x) - ref) / ref);
    }
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(vec_expf(0.0f), 1.0f);
    EXPECT_LT(vec_expf(-INFINITY), 1e-37f);  // clamped, not NaN
    EXPECT_GE(vec_expf(-INFINITY), 0.0f);
}

// ---- RMSNorm, SwiGLU, matmul, embedding -------------------------------------------------------

TEST(RmsNorm, ForwardValuesAndFiniteDifferences) {
    const int T = 5, C = 70;  // C > 64 exercises two column blocks in the weight gradient
    auto x = randn(T * C, 51), w = randn(C, 52), r = randn(T * C, 53);
    for (float& v : w) v += 1.0f;
    std::vector<float> out(T * C), rstd(T);
    auto loss = [&] {
        rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), T, C, 1e-6f);
        return weighted_sum(out, r);
    };
    loss();
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += (double)x[C + c] * x[C + c];
    EXPECT_NEAR(rstd[1], 1.0 / std::sqrt(ss / C + 1e-6), 1e-6);
    EXPECT_NEAR(out[C + 3], w[3] * x[C + 3] * rstd[1], 1e-6);
    std::vector<float> dx(T * C, 0.0f), dw(C, 0.0f);
    rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), T, C);
    check_fd("rmsnorm dx", x, dx, loss);
    check_fd("rmsnorm dw", w, dw, loss);
}

TEST(SwiGlu, FiniteDifferences) {
    const size_t N = 100;
    auto g = randn(N, 61, 2.0f), u = randn(N, 62), r = randn(N, 63);
    std::vector<float> out(N), dg(N), du(N);
    auto loss = [&] {
        swiglu_forward(out.data(), g.data(), u.data(), N);
        return weighted_sum(out, r);
    };
    loss();
    EXPECT_NEAR(out[5], g[5] / (1 + std::exp(-g[5])) * u[5], 1e-6);
    swiglu_backward(dg.data(), du.data(), r.data(), g.data(), u.data(), N);
    check_fd("swiglu dgate", g, dg, loss);
    check_fd("swiglu dup", u, du, loss);
}

TEST(Matmul, ForwardValuesAndFiniteDifferences) {
    const int T = 6, Cin = 9, Cout = 70;
    auto x = randn(T * Cin, 71), w = randn(Cout * Cin, 72), b = randn(Cout, 73), r = randn(T * Cout, 74);
    std::vector<float> out(T * Cout);
    auto loss = [&] {
        matmul_forward(out.data(), x.data(), w.data(), b.data(), T, Cin, Cout);
        return weighted_sum(out, r);
    };
    loss();
    double ref = b[4];
    for (int c = 0; c < Cin; ++c) ref += (double)x[2 * Cin + c] * w[4 * Cin + c];
    EXPECT_NEAR(out[2 * Cout + 4], ref, 1e-5);
    std::vector<float> dx(T * Cin, 0.0f), dw(Cout * Cin, 0.0f), db(Cout, 0.0f);
    matmul_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), T, Cin, Cout);
    check_fd("matmul dinp", x, dx, loss);
    check_fd("matmul dweight", w, dw, loss);
    check_fd("matmul dbias", b, db, loss);
}

TEST(Embedding, LookupScatterAddAndBadToken) {
    const int T = 5, H = 3, V = 4;
    auto table = randn(V * H, 81);
    std::vector<int> tok{2, 0, 2, 3, 2};
    std::vector<float> out(T * H);
    embedding_forward(out.data(), tok.data(), table.data(), T, H, V);
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < H; ++c) EXPECT_EQ(out[t * H + c], table[tok[t] * H + c]);
    std::vector<float> dout(T * H, 1.0f), dtable(V * H, 0.5f);
    embedding_backward(dtable.data(), dout.data(), tok.data(), T, H);
    EXPECT_FLOAT_EQ(dtable[2 * H], 3.5f);  // token 2 appears three times, accumulated onto 0.5
    EXPECT_FLOAT_EQ(dtable[1 * H], 0.5f);  // token 1 never appears
    tok[3] = V;
    EXPECT_THROW(embedding_forward(out.data(), tok.data(), table.data(), T, H, V), Error);
    tok[3] = -1;
    EXPECT_THROW(embedding_forward(out.data(), tok.data(), table.data(), T, H, V), Error);
}

// ---- bf16 ------------------------------------------------------------------------------------

TEST(Bf16, RoundsToNearestEvenAndKeepsSpecials) {
    EXPECT_EQ(bf16_from_float(1.0f), 0x3F80);
    EXPECT_EQ(bf16_from_float(-2.0f), 0xC000);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
    EXPECT_EQ(bf16_from_float(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
    EXPECT_EQ(bf16_from_float(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
    EXPECT_EQ(bf16_from_float(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);  // above half
    EXPECT_EQ(bf16_from_float(INFINITY), 0x7F80);
    EXPECT_TRUE(std::isnan(float_from_bf16(bf16_from_float(NAN))));
    EXPECT_EQ(bf16_from_float(3.4e38f), 0x7F80);  // rounds past the largest bf16: infinity
    for (float x : {0.0f, 1.5f, -0.09375f, 65280.0f}) EXPECT_EQ(float_from_bf16(bf16_from_float(x)), x);
    // Relative error at most half a unit in the last place: 2^-8 of the power of two below x.
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    for (int i = 0; i < 1000; ++i) {
        const float x = normal(rng);
        EXPECT_LE(std::fabs(float_from_bf16(bf16_from_float(x)) - x), std::fabs(x) * std::ldexp(1.0f, -8));
    }
}

}  // namespace
