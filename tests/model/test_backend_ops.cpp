// Every entry of the Backend table (model/backend.h), on every backend present, against the CPU
// backend: ggml's test-backend-ops. Inputs are random with ragged lengths and lengths crossing KV-block
// and split-K partition boundaries; each case copies its inputs to the backend's device through the
// backend's own alloc/copy, runs the entry there and the CPU entry on the host, and compares.
//
// Tolerances, per dtype of the computation:
//   fp32 kernels           NMSE (ggml: sum (a-b)^2 / sum b^2) <= 1e-9 and |a-b| <= 1e-4 + 1e-4 |b|
//                          (summation order differs; exp/cos on the GPU are within 2 ulp of libm);
//                          forward and backward alike. Wider absolute bounds where sums run long:
//                          weight gradients of RMSNorm and the LM head 1e-3 + 1e-4 |b|, RoPE at
//                          131k positions 2e-3 + 1e-3 |b|
//   determinism            attention_backward and rmsnorm_backward (no atomics) bit-identical when
//                          run twice on the same inputs
//   bf16 KV cache          bit-identical stores (same rounding function, model/ops/math.h)
//   bf16-rounded GEMM      NMSE <= 1e-4 (8-bit mantissa: relative error ~4e-3 per product)
//   bf16 weights           cast and embedding gather bit-identical; the projection with bf16 inputs
//                          and fp32 accumulation against the CPU's widened fp32 GEMM on the same
//                          bf16 values: only the summation order differs, NMSE <= 1e-9 and
//                          |a-b| <= 1e-3 + 1e-3 |b|
//   AdamW step             |a-b| <= 1e-6 + 1e-5 |b| on weights and moments (fused multiply-adds on
//                          the GPU; the CPU backend against itself is bit-identical)
//   sum of squares         each block's double sum within 1e-12 relative (summation order only)
//   sampling               greedy tokens identical; sampled tokens identical in >= 97% of rows (a draw
//                          that lands within float rounding of a CDF step may go either way), the
//                          log-prob of the returned token within 1e-4 of the CPU's for that token.
// The CPU backend is also run against itself (bit-identical), which checks the harness and that
// every entry exists on the CPU. Without a GPU the cuda instance prints why and skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "model/backend.h"
#include "model/device_buffer.h"
#include "model/ops/math.h"
#include "model/ops/rope.h"
#include "tests/model/transformer_test_util.h"
#if STRIDE_HAVE_CUDA
#include "model/cuda/backend_cuda.h"
#include "model/cuda/context.h"
#endif

using namespace stride;

namespace {

// Function-pointer entries of the table (alloc .. sample), each named once in kCovered with the case
// that runs it. A new entry makes the static_assert fail until it is added there and has a case below.
constexpr size_t kEntries = (sizeof(Backend) - offsetof(Backend, alloc)) / sizeof(void*);
constexpr auto kCovered = std::make_tuple(
    &Backend::alloc, &Backend::free, &Backend::copy, &Backend::zero, &Backend::sync,  // case_memory
    &Backend::add_inplace,                                                            // case_add_inplace
    &Backend::rmsnorm_residual_forward, &Backend::rmsnorm_forward,
    &Backend::rmsnorm_backward,                                 // case_rmsnorm
    &Backend::matmul_forward, &Backend::matmul_backward,        // case_matmul
    &Backend::rope_forward, &Backend::rope_backward,            // case_rope
    &Backend::swiglu_forward, &Backend::swiglu_backward,        // case_swiglu
    &Backend::attention_forward, &Backend::attention_backward,  // case_attention
    &Backend::embedding_forward, &Backend::embedding_backward,  // case_embedding
    &Backend::lm_head_logprob_forward, &Backend::lm_head_logprob_backward,
    &Backend::lm_head_logits,                                                   // case_lm_head
    &Backend::paged_attention_forward, &Backend::paged_attention_forward_bf16,  // case_paged_attention
    &Backend::kv_append, &Backend::kv_append_bf16,                              // case_kv_append
    &Backend::sample,                                                           // case_sample
    &Backend::adamw_step,                                                       // case_adamw_step
    &Backend::sum_squares, &Backend::scale,                                     // case_sum_squares_and_scale
    &Backend::matmul_forward_bf16, &Backend::embedding_forward_bf16, &Backend::cast_to_bf16,
    &Backend::alloc_host, &Backend::free_host, &Backend::memory_info);  // case_bf16_weights
static_assert(kEntries == 36 && std::tuple_size_v<decltype(kCovered)> == kEntries,
              "a Backend entry was added or removed: name it in kCovered and add its case");

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// A host vector mirrored on a backend's device.
template <class T>
struct Dev {
    DeviceBuffer buf;
    size_t n;
    Dev(const Backend& be, const std::vector<T>& host)
        : buf(be, std::max<size_t>(host.size(), 1) * sizeof(T)), n(host.size()) {
        be.copy(buf.get(), host.data(), n * sizeof(T));
    }
    Dev(const Backend& be, size_t count) : buf(be, std::max<size_t>(count, 1) * sizeof(T)), n(count) {
        buf.zero();
    }
    T* get() { return buf.as<T>(); }
    std::vector<T> host() const {
        std::vector<T> h(n);
        buf.backend()->copy(h.data(), buf.get(), n * sizeof(T));
        buf.backend()->sync();
        return h;
    }
};

struct Tol {
    double nmse = 1e-9;
    float abs = 1e-4f, rel = 1e-4f;
};

void expect_close(const std::string& what, const std::vector<float>& got, const std::vector<float>& want,
                  Tol tol = {}) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double err = 0, ref = 0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        // NaN/Inf positions must match exactly (FlashMLA's "anomalies" rule).
        if (!std::isfinite(want[i]) || !std::isfinite(got[i])) {
            EXPECT_EQ(std::isnan(got[i]), std::isnan(want[i])) << what << " at " << i;
            if (!std::isnan(want[i])) {
                EXPECT_EQ(got[i], want[i]) << what << " at " << i;
            }
            continue;
        }
        const double d = (double)got[i] - want[i];
        err += d * d, ref += (double)want[i] * want[i];
        if (std::fabs(d) > tol.abs + tol.rel * std::fabs(want[i]) && bad++ == 0) first_bad = i;
    }
    EXPECT_LE(ref > 0 ? err / ref : err, tol.nmse) << what << ": NMSE";
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements off, first at "
                       << first_bad << " (" << got[first_bad] << " vs " << want[first_bad] << ")";
}

// ---- the cases ------------------------------------------------------------------------------------
// Each runs one entry (or a forward/backward pair) on `be` and on the CPU and compares. The CPU and
// CUDA backends fill every entry, backward included: a null entry fails the case.

const Backend& cpu = cpu_backend();

bool supported(const Backend& be, const char* entry, bool has) {
    if (!has) ADD_FAILURE() << "backend " << be.name << " has no " << entry << " (null entry)";
    return has;
}

void case_memory(const Backend& be) {
    auto x = randn(1000, 1);
    Dev<float> d(be, x);
    EXPECT_EQ(d.host(), x) << "copy round trip";
    Dev<float> e(be, x.size());
    be.copy(e.get(), d.get(), x.size() * sizeof(float));  // device to device
    EXPECT_EQ(e.host(), x);
    e.buf.zero();
    EXPECT_EQ(e.host(), std::vector<float>(x.size(), 0.0f));
}

void case_add_inplace(const Backend& be) {
    for (size_t n : {1, 1000, 65537}) {
        auto y = randn(n, 2), x = randn(n, 3);
        Dev<float> dy(be, y), dx(be, x);
        be.add_inplace(dy.get(), dx.get(), n);
        cpu.add_inplace(y.data(), x.data(), n);
        expect_close("add_inplace n=" + std::to_string(n), dy.host(), y);
    }
}

void case_rmsnorm(const Backend& be) {
    for (int C : {1, 64, 896, 1537})
        for (int T : {1, 7, 33, 300}) {  // 300 rows: the CUDA weight gradient's row chunks
            const std::string tag = " T=" + std::to_string(T) + " C=" + std::to_string(C);
            auto x = randn((size_t)T * C, 4 + C), w = randn(C, 5, 0.5f), a = randn((size_t)T * C, 6);
            std::vector<float> out(x.size()), rstd(T);
            Dev<float> dx(be, x), dw(be, w), da(be, a), dout(be, x.size()), drstd(be, T);
            be.rmsnorm_forward(dout.get(), drstd.get(), dx.get(), dw.get(), T, C, 1e-6f);
            cpu.rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), T, C, 1e-6f);
            expect_close("rmsnorm_forward" + tag, dout.host(), out);
            expect_close("rmsnorm_forward rstd" + tag, drstd.host(), rstd);

            // Fused residual: residual += a, out = rmsnorm(residual).
            auto res = x;
            be.rmsnorm_residual_forward(dout.get(), drstd.get(), dx.get(), da.get(), dw.get(), T, C, 1e-6f);
            cpu.rmsnorm_residual_forward(out.data(), rstd.data(), res.data(), a.data(), w.data(), T, C,
                                         1e-6f);
            expect_close("rmsnorm_residual_forward residual" + tag, dx.host(), res);
            expect_close("rmsnorm_residual_forward" + tag, dout.host(), out);

            if (!supported(be, "rmsnorm_backward", be.rmsnorm_backward)) continue;
            auto g = randn(x.size(), 7), dinp = randn(x.size(), 8), dwt = randn(C, 9);
            Dev<float> dg(be, g), ddinp(be, dinp), ddw(be, dwt), dres(be, res), drs(be, rstd);
            be.rmsnorm_backward(ddinp.get(), ddw.get(), dg.get(), dres.get(), dw.get(), drs.get(), T, C);
            cpu.rmsnorm_backward(dinp.data(), dwt.data(), g.data(), res.data(), w.data(), rstd.data(), T, C);
            const auto got_dinp = ddinp.host(), got_dw = ddw.host();
            expect_close("rmsnorm_backward dinp" + tag, got_dinp, dinp);
            expect_close("rmsnorm_backward dweight" + tag, got_dw, dwt, {1e-9, 1e-3f, 1e-4f});
            // Deterministic (no atomics): the same call on the same inputs is bit-identical.
            Dev<float> ddinp2(be, randn(x.size(), 8)), ddw2(be, randn(C, 9));
            be.rmsnorm_backward(ddinp2.get(), ddw2.get(), dg.get(), dres.get(), dw.get(), drs.get(), T, C);
            EXPECT_TRUE(ddinp2.host() == got_dinp && ddw2.host() == got_dw)
                << "rmsnorm_backward is not deterministic" << tag;
        }
}

void case_matmul(const Backend& be, Tol tol) {
    struct Shape {
        int T, Cin, Cout;
    };
    for (Shape s : {Shape{1, 64, 96}, Shape{5, 7, 3}, Shape{37, 896, 128}, Shape{130, 128, 896}})
        for (bool bias : {false, true}) {
            const std::string tag = " T=" + std::to_string(s.T) + " Cin=" + std::to_string(s.Cin) +
                                    " Cout=" + std::to_string(s.Cout) + (bias ? " bias" : "");
            auto x = randn((size_t)s.T * s.Cin, 10), w = randn((size_t)s.Cout * s.Cin, 11, 0.1f),
                 b = randn(s.Cout, 12);
            std::vector<float> out((size_t)s.T * s.Cout);
            Dev<float> dx(be, x), dw(be, w), db(be, b), dout(be, out.size());
            be.matmul_forward(dout.get(), dx.get(), dw.get(), bias ? db.get() : nullptr, s.T, s.Cin, s.Cout);
            cpu.matmul_forward(out.data(), x.data(), w.data(), bias ? b.data() : nullptr, s.T, s.Cin, s.Cout);
            expect_close("matmul_forward" + tag, dout.host(), out, tol);
            if (!supported(be, "matmul_backward", be.matmul_backward)) continue;
            auto g = randn(out.size(), 13), dinp = randn(x.size(), 14), dwt = randn(w.size(), 15),
                 dbias = randn(s.Cout, 16);
            Dev<float> dg(be, g), ddinp(be, dinp), ddw(be, dwt), ddb(be, dbias);
            be.matmul_backward(ddinp.get(), ddw.get(), bias ? ddb.get() : nullptr, dg.get(), dx.get(),
                               dw.get(), s.T, s.Cin, s.Cout);
            cpu.matmul_backward(dinp.data(), dwt.data(), bias ? dbias.data() : nullptr, g.data(), x.data(),
                                w.data(), s.T, s.Cin, s.Cout);
            expect_close("matmul_backward dinp" + tag, ddinp.host(), dinp, tol);
            expect_close("matmul_backward dweight" + tag, ddw.host(), dwt, tol);
            expect_close("matmul_backward dbias" + tag, ddb.host(), dbias, tol);
        }
}

void case_rope(const Backend& be) {
    for (int D : {8, 64, 128}) {
        ModelConfig c = test::tiny_llama();  // llama3 scaling: all three frequency bands
        c.head_dim = D;
        const std::vector<float> inv = rope_inv_freq(c);
        const int T = 9, nh = 3;
        std::vector<int> pos = {0, 1, 2, 15, 16, 17, 4095, 32768, 131071};
        auto x = randn((size_t)T * nh * D, 17 + D);
        Dev<float> dxv(be, x), dinv(be, inv);
        Dev<int> dpos(be, pos);
        auto want = x;
        be.rope_forward(dxv.get(), dpos.get(), dinv.get(), T, nh, D);
        cpu.rope_forward(want.data(), pos.data(), inv.data(), T, nh, D);
        // At position 131071 the angle is ~1e5 rad: fp32 cos/sin of it differ by a few ulp of the
        // angle between libm and CUDA, so the absolute tolerance is wider there.
        expect_close("rope_forward D=" + std::to_string(D), dxv.host(), want, {1e-8, 2e-3f, 1e-3f});
        if (!supported(be, "rope_backward", be.rope_backward)) continue;
        be.rope_backward(dxv.get(), dpos.get(), dinv.get(), T, nh, D);
        cpu.rope_backward(want.data(), pos.data(), inv.data(), T, nh, D);
        expect_close("rope_backward D=" + std::to_string(D), dxv.host(), want, {1e-8, 2e-3f, 1e-3f});
    }
}

void case_swiglu(const Backend& be) {
    for (size_t N : {1, 333, 4864 * 3}) {
        auto g = randn(N, 18, 3.0f), u = randn(N, 19), dout = randn(N, 20);
        std::vector<float> out(N), dg(N), du(N);
        Dev<float> dgv(be, g), duv(be, u), dov(be, dout), dout_(be, N), ddg(be, N), ddu(be, N);
        be.swiglu_forward(dout_.get(), dgv.get(), duv.get(), N);
        cpu.swiglu_forward(out.data(), g.data(), u.data(), N);
        expect_close("swiglu_forward N=" + std::to_string(N), dout_.host(), out);
        if (!supported(be, "swiglu_backward", be.swiglu_backward)) continue;
        be.swiglu_backward(ddg.get(), ddu.get(), dov.get(), dgv.get(), duv.get(), N);
        cpu.swiglu_backward(dg.data(), du.data(), dout.data(), g.data(), u.data(), N);
        expect_close("swiglu_backward dgate", ddg.host(), dg);
        expect_close("swiglu_backward dup", ddu.host(), du);
    }
}

void case_embedding(const Backend& be) {
    const int V = 101, H = 48, T = 40;
    auto table = randn((size_t)V * H, 21);
    auto tokens = test::random_tokens(T, V, 22);
    tokens[3] = tokens[7] = tokens[11];  // repeats: the backward's scatter must add them up
    std::vector<float> out((size_t)T * H);
    Dev<float> dt(be, table), dout(be, out.size());
    Dev<int> dtok(be, tokens);
    be.embedding_forward(dout.get(), dtok.get(), dt.get(), T, H, V);
    cpu.embedding_forward(out.data(), tokens.data(), table.data(), T, H, V);
    expect_close("embedding_forward", dout.host(), out, {0, 0, 0});
    if (!supported(be, "embedding_backward", be.embedding_backward)) return;
    auto g = randn(out.size(), 23), dtab = randn(table.size(), 24);
    Dev<float> dg(be, g), ddt(be, dtab);
    be.embedding_backward(ddt.get(), dg.get(), dtok.get(), T, H);
    cpu.embedding_backward(dtab.data(), g.data(), tokens.data(), T, H);
    expect_close("embedding_backward", ddt.host(), dtab);
}

// Packed varlen batch: lengths crossing the CPU kernel's 64-key blocks, the CUDA backward's 16-row
// blocks and its shared tiles (min(128, 4096 / D) rows: 16 to 128 here), and a lone token. Head dims
// up to the CUDA kernels' 256, and one (80) that leaves lanes of the last 32 idle.
void case_attention(const Backend& be) {
    const std::vector<int> lens = {1, 17, 64, 130, 5, 257};
    std::vector<int> cu = {0};
    for (int l : lens) cu.push_back(cu.back() + l);
    const int T = cu.back(), n = (int)lens.size();
    struct Heads {
        int D, nq, nkv;
    };
    std::vector<Heads> shapes = {{80, 4, 2}, {256, 2, 1}};
    for (int D : {32, 64, 128})
        for (auto [nq, nkv] : {std::pair{4, 2}, std::pair{3, 3}, std::pair{8, 1}})
            shapes.push_back({D, nq, nkv});
    for (auto [D, nq, nkv] : shapes) {
        const std::string tag =
            " D=" + std::to_string(D) + " nq=" + std::to_string(nq) + " nkv=" + std::to_string(nkv);
        auto q = randn((size_t)T * nq * D, 25), k = randn((size_t)T * nkv * D, 26),
             v = randn((size_t)T * nkv * D, 27);
        std::vector<float> out(q.size()), lse((size_t)T * nq);
        Dev<float> dq(be, q), dk(be, k), dv(be, v), dout(be, out.size()), dlse(be, lse.size());
        Dev<int> dcu(be, cu);
        be.attention_forward(dout.get(), dlse.get(), dq.get(), dk.get(), dv.get(), dcu.get(), n, T, nq, nkv,
                             D);
        cpu.attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(), n, T, nq, nkv,
                              D);
        expect_close("attention_forward" + tag, dout.host(), out);
        expect_close("attention_forward lse" + tag, dlse.host(), lse);
        if (!supported(be, "attention_backward", be.attention_backward)) continue;
        auto g = randn(out.size(), 28);
        std::vector<float> gq(q.size()), gk(k.size()), gv(v.size());
        // The gradients are assigned: start the backend's from garbage, not zeros.
        Dev<float> dg(be, g), dgq(be, randn(q.size(), 43)), dgk(be, randn(k.size(), 44)),
            dgv(be, randn(v.size(), 45));
        be.attention_backward(dgq.get(), dgk.get(), dgv.get(), dg.get(), dout.get(), dlse.get(), dq.get(),
                              dk.get(), dv.get(), dcu.get(), n, T, nq, nkv, D);
        cpu.attention_backward(gq.data(), gk.data(), gv.data(), g.data(), out.data(), lse.data(), q.data(),
                               k.data(), v.data(), cu.data(), n, T, nq, nkv, D);
        const auto got_q = dgq.host(), got_k = dgk.host(), got_v = dgv.host();
        expect_close("attention_backward dq" + tag, got_q, gq);
        expect_close("attention_backward dk" + tag, got_k, gk);
        expect_close("attention_backward dv" + tag, got_v, gv);
        // No atomics, one owner per gradient row: a second run is bit-identical.
        be.attention_backward(dgq.get(), dgk.get(), dgv.get(), dg.get(), dout.get(), dlse.get(), dq.get(),
                              dk.get(), dv.get(), dcu.get(), n, T, nq, nkv, D);
        EXPECT_TRUE(dgq.host() == got_q && dgk.host() == got_k && dgv.host() == got_v)
            << "attention_backward is not deterministic" << tag;
    }
}

void case_lm_head(const Backend& be, Tol tol) {
    const int T = 11, H = 64, V = 1003;
    auto h = randn((size_t)T * H, 29), w = randn((size_t)V * H, 30, 0.3f);
    auto targets = test::random_tokens(T, V, 31);
    targets[4] = -1;  // a row without a target (end of a sequence)
    Dev<float> dh(be, h), dw(be, w);
    Dev<int> dt(be, targets);
    std::vector<float> logits((size_t)T * V);
    Dev<float> dlogits(be, logits.size());
    be.lm_head_logits(dlogits.get(), dh.get(), dw.get(), T, H, V);
    cpu.lm_head_logits(logits.data(), h.data(), w.data(), T, H, V);
    expect_close("lm_head_logits", dlogits.host(), logits, tol);
    for (int chunk : {1, 4, 64})  // chunks crossing the batch and one holding it whole
        for (float temp : {1.0f, 0.7f}) {
            const std::string tag =
                " chunk=" + std::to_string(chunk) + " temperature=" + std::to_string(temp);
            std::vector<float> lp(T), ent(T);
            Dev<float> dlp(be, T), dent(be, T), ws(be, lm_head_workspace_floats(T, V, chunk));
            be.lm_head_logprob_forward(dlp.get(), dent.get(), dh.get(), dw.get(), dt.get(), T, H, V, temp,
                                       chunk, ws.get());
            cpu.lm_head_logprob_forward(lp.data(), ent.data(), h.data(), w.data(), targets.data(), T, H, V,
                                        temp, chunk, nullptr);
            expect_close("lm_head_logprob_forward logprob" + tag, dlp.host(), lp, tol);
            expect_close("lm_head_logprob_forward entropy" + tag, dent.host(), ent, tol);
            if (!supported(be, "lm_head_logprob_backward", be.lm_head_logprob_backward)) continue;
            auto glp = randn(T, 32), gent = randn(T, 33), dhh = randn(h.size(), 34),
                 dww = randn(w.size(), 35);
            glp[5] = gent[5] = 0.0f;  // a row without gradient: skipped, adds nothing
            Dev<float> dglp(be, glp), dgent(be, gent), ddh(be, dhh), ddw(be, dww);
            be.lm_head_logprob_backward(ddh.get(), ddw.get(), dglp.get(), dgent.get(), dh.get(), dw.get(),
                                        dt.get(), T, H, V, temp, chunk, ws.get());
            cpu.lm_head_logprob_backward(dhh.data(), dww.data(), glp.data(), gent.data(), h.data(), w.data(),
                                         targets.data(), T, H, V, temp, chunk, nullptr);
            expect_close("lm_head_logprob_backward dh" + tag, ddh.host(), dhh, tol);
            expect_close("lm_head_logprob_backward dw" + tag, ddw.host(), dww, tol);
            // Either gradient may be null (skipped), and so may either upstream gradient (zero): here
            // only dh, from the log-prob alone, and only dw, from the entropy alone.
            be.lm_head_logprob_backward(ddh.get(), nullptr, dglp.get(), nullptr, dh.get(), dw.get(), dt.get(),
                                        T, H, V, temp, chunk, ws.get());
            cpu.lm_head_logprob_backward(dhh.data(), nullptr, glp.data(), nullptr, h.data(), w.data(),
                                         targets.data(), T, H, V, temp, chunk, nullptr);
            be.lm_head_logprob_backward(nullptr, ddw.get(), nullptr, dgent.get(), dh.get(), dw.get(),
                                        dt.get(), T, H, V, temp, chunk, ws.get());
            cpu.lm_head_logprob_backward(nullptr, dww.data(), nullptr, gent.data(), h.data(), w.data(),
                                         targets.data(), T, H, V, temp, chunk, nullptr);
            expect_close("lm_head_logprob_backward dh only" + tag, ddh.host(), dhh, tol);
            expect_close("lm_head_logprob_backward dw only" + tag, ddw.host(), dww, tol);
        }
}

// A paged pool of `blocks` blocks x `layers` layers (K and V), the KvCache layout.
struct Pool {
    int blocks, layers, B, nkv, D;
    size_t tile() const { return (size_t)B * nkv * D; }
    size_t block_stride() const { return (size_t)layers * 2 * tile(); }
    size_t elements() const { return (size_t)blocks * block_stride(); }
    size_t k_off(int layer) const { return (size_t)layer * 2 * tile(); }
    size_t v_off(int layer) const { return k_off(layer) + tile(); }
};

void case_kv_append(const Backend& be) {
    const Pool p{12, 2, 16, 2, 64};
    const int T = 37, kv_row = p.nkv * p.D;
    std::vector<int> slots((size_t)p.blocks * p.B);
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), std::mt19937_64(36));
    slots.resize(T);  // distinct slots scattered over blocks
    auto k = randn((size_t)T * kv_row, 37), v = randn((size_t)T * kv_row, 38);
    Dev<float> dk(be, k), dv(be, v);
    Dev<int> ds(be, slots);
    {
        std::vector<float> pool(p.elements(), 0.0f);
        Dev<float> dp(be, pool);
        be.kv_append(dp.get() + p.k_off(1), dp.get() + p.v_off(1), p.block_stride(), dk.get(), dv.get(),
                     ds.get(), T, kv_row, p.B);
        cpu.kv_append(pool.data() + p.k_off(1), pool.data() + p.v_off(1), p.block_stride(), k.data(),
                      v.data(), slots.data(), T, kv_row, p.B);
        EXPECT_EQ(dp.host(), pool) << "kv_append";
    }
    std::vector<uint16_t> pool(p.elements(), 0);
    Dev<uint16_t> dp(be, pool);
    be.kv_append_bf16(dp.get() + p.k_off(0), dp.get() + p.v_off(0), p.block_stride(), dk.get(), dv.get(),
                      ds.get(), T, kv_row, p.B);
    cpu.kv_append_bf16(pool.data() + p.k_off(0), pool.data() + p.v_off(0), p.block_stride(), k.data(),
                       v.data(), slots.data(), T, kv_row, p.B);
    EXPECT_EQ(dp.host(), pool) << "kv_append_bf16";
}

// Sequences with context lengths around block (16) and split-K partition (256) boundaries; each
// attends with its last few positions (chunked prefill) or one (decode).
void case_paged_attention(const Backend& be) {
    const int B = 16, nq = 4, nkv = 2, D = 64, layers = 2, layer = 1;
    const std::vector<int> ctx = {1, 15, 16, 17, 255, 256, 257, 600};
    int max_blocks = 0, blocks = 0;
    for (int c : ctx) max_blocks = std::max(max_blocks, (c + B - 1) / B), blocks += (c + B - 1) / B;
    const Pool p{blocks, layers, B, nkv, D};
    // Block tables: sequence s owns a shuffled set of physical blocks.
    std::vector<int> phys(blocks);
    std::iota(phys.begin(), phys.end(), 0);
    std::shuffle(phys.begin(), phys.end(), std::mt19937_64(39));
    std::vector<int> tables(ctx.size() * max_blocks, -1), token_seq, token_pos;
    int next = 0;
    for (size_t s = 0; s < ctx.size(); ++s) {
        for (int b = 0; b < (ctx[s] + B - 1) / B; ++b) tables[s * max_blocks + b] = phys[next++];
        const int new_tokens = s % 2 ? 1 : std::min(3, ctx[s]);
        for (int j = ctx[s] - new_tokens; j < ctx[s]; ++j)
            token_seq.push_back((int)s), token_pos.push_back(j);
    }
    const int T = (int)token_seq.size();
    auto q = randn((size_t)T * nq * D, 40);
    auto pool = randn(p.elements(), 41);
    std::vector<uint16_t> pool16(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) pool16[i] = bf16_from_float(pool[i]);
    Dev<float> dq(be, q), dpool(be, pool), dout(be, q.size());
    Dev<uint16_t> dpool16(be, pool16);
    Dev<int> dtab(be, tables), dseq(be, token_seq), dpos(be, token_pos);
    std::vector<float> out(q.size());
    be.paged_attention_forward(dout.get(), dq.get(), dpool.get() + p.k_off(layer),
                               dpool.get() + p.v_off(layer), p.block_stride(), dtab.get(), max_blocks,
                               dseq.get(), dpos.get(), T, nq, nkv, D, B);
    cpu.paged_attention_forward(out.data(), q.data(), pool.data() + p.k_off(layer),
                                pool.data() + p.v_off(layer), p.block_stride(), tables.data(), max_blocks,
                                token_seq.data(), token_pos.data(), T, nq, nkv, D, B);
    expect_close("paged_attention_forward", dout.host(), out);
    be.paged_attention_forward_bf16(dout.get(), dq.get(), dpool16.get() + p.k_off(layer),
                                    dpool16.get() + p.v_off(layer), p.block_stride(), dtab.get(), max_blocks,
                                    dseq.get(), dpos.get(), T, nq, nkv, D, B);
    cpu.paged_attention_forward_bf16(out.data(), q.data(), pool16.data() + p.k_off(layer),
                                     pool16.data() + p.v_off(layer), p.block_stride(), tables.data(),
                                     max_blocks, token_seq.data(), token_pos.data(), T, nq, nkv, D, B);
    expect_close("paged_attention_forward_bf16", dout.host(), out);
}

void case_sample(const Backend& be) {
    for (int V : {7, 5000, 151936}) {
        std::vector<SampleRequest> req;
        const float temps[] = {0.0f, 1.0f, 0.7f, 1.0f, 1.0f, 0.6f};
        const int topk[] = {0, 0, 0, 1, 50, 20};
        const float topp[] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.9f};
        for (int i = 0; i < 48; ++i) {
            const int c = i % 6;
            req.push_back({temps[c], i % 12 == 11 ? 0.5f : topp[c], topk[c], 0, 1000u + i, (uint64_t)i,
                           (uint64_t)(7 * i)});
        }
        const int n = (int)req.size(), n_rows = 40;
        std::vector<int> rows(n);  // rows repeat: samples of one prompt share its logits row
        for (int i = 0; i < n; ++i) rows[i] = (7 * i) % n_rows;
        auto logits = randn((size_t)n_rows * V, 42 + V, 3.0f);
        logits[5] = logits[6];  // a tie
        std::vector<int> tok(n);
        std::vector<float> lp(n);
        Dev<float> dl(be, logits), dlp(be, n);
        Dev<int> dtok(be, n), drows(be, rows);
        DeviceBuffer dreq(be, req.size() * sizeof(SampleRequest));
        be.copy(dreq.get(), req.data(), req.size() * sizeof(SampleRequest));
        be.sample(dtok.get(), dlp.get(), dl.get(), drows.get(), dreq.as<SampleRequest>(), n, V);
        cpu.sample(tok.data(), lp.data(), logits.data(), rows.data(), req.data(), n, V);
        const auto got = dtok.host();
        const auto got_lp = dlp.host();
        int same = 0;
        for (int i = 0; i < n; ++i) {
            const std::string tag = " V=" + std::to_string(V) + " row " + std::to_string(i);
            if (req[i].temperature == 0.0f || req[i].top_k == 1) {
                EXPECT_EQ(got[i], tok[i]) << "greedy" << tag;
            }
            same += got[i] == tok[i];
            ASSERT_GE(got[i], 0) << tag;
            ASSERT_LT(got[i], V) << tag;
            // The log-prob of whichever token came back, recomputed on the CPU.
            const float inv_t = req[i].temperature == 0.0f ? 1.0f : 1.0f / req[i].temperature;
            const float* z = logits.data() + (size_t)rows[i] * V;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < V; ++j) mx = std::max(mx, (double)z[j] * inv_t);
            for (int j = 0; j < V; ++j) sum += std::exp((double)z[j] * inv_t - mx);
            EXPECT_NEAR(got_lp[i], z[got[i]] * inv_t - (mx + std::log(sum)), 1e-4) << "logprob" << tag;
        }
        EXPECT_GE(same, n * 97 / 100)
            << "V=" << V << ": sampled tokens differ from the CPU's in too many rows";
    }
}

// AdamW over ragged lengths, three steps (the bias corrections change), lr and decay non-zero; the
// moments start at zero as a fresh optimizer's do.
void case_adamw_step(const Backend& be) {
    for (size_t n : {1, 1000, 70001}) {
        auto p = randn(n, 60), g = randn(n, 61, 0.1f);
        std::vector<float> m(n, 0.0f), v(n, 0.0f);
        Dev<float> dp(be, p), dg(be, g), dm(be, n), dv(be, n);
        for (int t = 1; t <= 3; ++t) {
            const AdamWStep s{1e-3f * t,
                              0.9f,
                              0.999f,
                              1e-8f,
                              0.01f,
                              1.0f - std::pow(0.9f, (float)t),
                              1.0f - std::pow(0.999f, (float)t)};
            be.adamw_step(dp.get(), dg.get(), dm.get(), dv.get(), n, s);
            cpu.adamw_step(p.data(), g.data(), m.data(), v.data(), n, s);
        }
        const Tol tol{1e-9, 1e-6f, 1e-5f};
        const std::string tag = " n=" + std::to_string(n);
        expect_close("adamw_step params" + tag, dp.host(), p, tol);
        expect_close("adamw_step m" + tag, dm.host(), m, tol);
        expect_close("adamw_step v" + tag, dv.host(), v, tol);
    }
}

// The blocked squared norm (fewer elements than blocks too) and the clip scale.
void case_sum_squares_and_scale(const Backend& be) {
    for (size_t n : {0, 5, 255, 257, 100003}) {
        const std::string tag = " n=" + std::to_string(n);
        auto x = randn(n, 62 + n);
        std::vector<double> want(kSumSquaresBlocks);
        cpu.sum_squares(want.data(), x.data(), n);
        Dev<float> dx(be, x);
        Dev<double> dpart(be, kSumSquaresBlocks);
        be.sum_squares(dpart.get(), dx.get(), n);
        const std::vector<double> got = dpart.host();
        for (int b = 0; b < kSumSquaresBlocks; ++b)
            EXPECT_NEAR(got[b], want[b], 1e-12 * want[b]) << "sum_squares block " << b << tag;
        be.scale(dx.get(), 0.37f, n);
        cpu.scale(x.data(), 0.37f, n);
        expect_close("scale" + tag, dx.host(), x, {0, 0, 0});  // one product each: exact
    }
}

// bf16 weights (rollout.dtype = bf16): the cast that fills them, the projection and the embedding
// gather that read them, the pinned host staging they are uploaded through, and the memory report
// the KV pool is sized from (null on the CPU).
void case_bf16_weights(const Backend& be) {
    auto src = randn(3001, 40, 3.0f);
    src[0] = 0.0f, src[1] = -0.0f, src[2] = 1e-40f, src[3] = 3.4e38f, src[4] = INFINITY, src[5] = -INFINITY;
    std::vector<uint16_t> want(src.size());
    cpu.cast_to_bf16(want.data(), src.data(), src.size());
    Dev<float> dsrc(be, src);
    Dev<uint16_t> dcast(be, src.size());
    be.cast_to_bf16(dcast.get(), dsrc.get(), src.size());
    EXPECT_EQ(dcast.host(), want) << "cast_to_bf16";

    struct Shape {
        int T, Cin, Cout;
    };
    for (Shape s : {Shape{1, 64, 96}, Shape{5, 7, 3}, Shape{37, 896, 128}, Shape{130, 128, 896}})
        for (bool bias : {false, true}) {
            const std::string tag = " T=" + std::to_string(s.T) + " Cin=" + std::to_string(s.Cin) +
                                    " Cout=" + std::to_string(s.Cout) + (bias ? " bias" : "");
            auto x = randn((size_t)s.T * s.Cin, 41), w = randn((size_t)s.Cout * s.Cin, 42, 0.1f),
                 b = randn(s.Cout, 43);
            std::vector<uint16_t> w16(w.size());
            cpu.cast_to_bf16(w16.data(), w.data(), w.size());
            std::vector<float> out((size_t)s.T * s.Cout);
            Dev<float> dx(be, x), db(be, b), dout(be, out.size());
            Dev<uint16_t> dw(be, w16);
            be.matmul_forward_bf16(dout.get(), dx.get(), dw.get(), bias ? db.get() : nullptr, s.T, s.Cin,
                                   s.Cout);
            cpu.matmul_forward_bf16(out.data(), x.data(), w16.data(), bias ? b.data() : nullptr, s.T, s.Cin,
                                    s.Cout);
            expect_close("matmul_forward_bf16" + tag, dout.host(), out, {1e-9, 1e-3f, 1e-3f});
        }

    const int V = 77, H = 40, T = 33;
    auto table = randn((size_t)V * H, 44);
    std::vector<uint16_t> t16(table.size());
    cpu.cast_to_bf16(t16.data(), table.data(), table.size());
    const auto tokens = test::random_tokens(T, V, 45);
    std::vector<float> emb((size_t)T * H);
    Dev<uint16_t> dt(be, t16);
    Dev<int> dtok(be, tokens);
    Dev<float> demb(be, emb.size());
    be.embedding_forward_bf16(demb.get(), dtok.get(), dt.get(), T, H, V);
    cpu.embedding_forward_bf16(emb.data(), tokens.data(), t16.data(), T, H, V);
    expect_close("embedding_forward_bf16", demb.host(), emb, {0, 0, 0});

    // Host staging: written on the host, copied up and back through it.
    auto* staging = static_cast<float*>(be.alloc_host(src.size() * sizeof(float)));
    std::memcpy(staging, src.data(), src.size() * sizeof(float));
    Dev<float> up(be, src.size());
    be.copy(up.get(), staging, src.size() * sizeof(float));
    be.sync();
    be.free_host(staging);
    EXPECT_EQ(up.host(), src) << "alloc_host staging round trip";

    if (be.kind == DeviceKind::cpu) {
        EXPECT_EQ(be.memory_info, nullptr) << "the CPU's memory is not the engine's to size";
    } else if (supported(be, "memory_info", be.memory_info)) {
        size_t free_b = 0, total_b = 0;
        be.memory_info(&free_b, &total_b);
        EXPECT_GT(total_b, size_t(1) << 30);
        EXPECT_LE(free_b, total_b);
    }
}

// ---- the table of cases, run per backend ---------------------------------------------------------

struct Case {
    const char* name;
    std::function<void(const Backend&)> run;
};

std::vector<Case> cases() {
    return {
        {"memory (alloc free copy zero sync)", case_memory},
        {"add_inplace", case_add_inplace},
        {"rmsnorm (forward, residual, backward)", case_rmsnorm},
        {"matmul fp32", [](const Backend& be) { case_matmul(be, {}); }},
        {"rope", case_rope},
        {"swiglu", case_swiglu},
        {"embedding", case_embedding},
        {"attention", case_attention},
        {"lm_head fp32",
         [](const Backend& be) {
             case_lm_head(be, {1e-9, 1e-3f, 1e-4f});
         }},
        {"kv_append", case_kv_append},
        {"paged_attention", case_paged_attention},
        {"sample", case_sample},
        {"adamw_step", case_adamw_step},
        {"sum_squares, scale", case_sum_squares_and_scale},
        {"bf16 weights (cast, matmul, embedding, host staging, memory_info)", case_bf16_weights},
    };
}

// The backends present in this process, by name; empty reason = usable.
std::string unavailable(const std::string& name) {
    return device_unavailable_reason(name);
}

class BackendOps : public ::testing::TestWithParam<std::string> {};

// The CPU and CUDA backends implement every entry, the backward ones included (issue #17).
TEST_P(BackendOps, EveryEntryIsImplemented) {
    const std::string why = unavailable(GetParam());
    if (!why.empty()) GTEST_SKIP() << "backend " << GetParam() << " not tested: " << why;
    const Backend& be = backend_for_device(GetParam());
    size_t filled = 0;
    std::apply([&](auto... entry) { ((filled += be.has(entry) ? 1 : 0), ...); }, kCovered);
    // memory_info is null on the CPU by design (host memory is not sized by the engine).
    const size_t optional = be.kind == DeviceKind::cpu ? 1 : 0;
    EXPECT_EQ(filled, kEntries - optional) << "backend " << be.name << " has null entries";
}

TEST_P(BackendOps, EveryEntryMatchesTheCpuBackend) {
    const std::string why = unavailable(GetParam());
    if (!why.empty()) GTEST_SKIP() << "backend " << GetParam() << " not tested: " << why;
    const Backend& be = backend_for_device(GetParam());
    for (const Case& c : cases()) {
        SCOPED_TRACE(std::string(be.name) + ": " + c.name);
        c.run(be);
        be.sync();
    }
}

#if STRIDE_HAVE_CUDA
// cuBLAS with bf16-rounded inputs and fp32 accumulation: the bf16 tolerance.
TEST(BackendOps, CudaMatmulBf16ModeWithinBf16Tolerance) {
    const std::string why = unavailable("cuda");
    if (!why.empty()) GTEST_SKIP() << "cuda not tested: " << why;
    const Backend& be = backend_for_device("cuda");
    cuda::set_matmul_precision(cuda::MatmulPrecision::bf16);
    case_matmul(be, {1e-4, 5e-2f, 2e-2f});
    case_lm_head(be, {1e-4, 5e-2f, 2e-2f});
    cuda::set_matmul_precision(cuda::MatmulPrecision::fp32);
}
#endif

INSTANTIATE_TEST_SUITE_P(Backends, BackendOps, ::testing::Values("cpu", "cuda"),
                         [](const auto& info) { return info.param; });

}  // namespace
