// GPU sampling without sorting. Every choice Sampler::sample makes is "the first token, in some
// order, where a running sum crosses a line", so each is found by bisection over that order with
// block reductions (obviously correct; a radix select would be faster, see the TODO):
//  * untruncated (the RL default): inverse CDF in token-id order, bisection over the id (18 passes);
//  * top-k / top-p: the CPU's order is probability descending, lower id first on ties, i.e. the key
//    (bits(p) << 32 | ~id) descending; "the first j in that order with cum(j) >= line" is the largest
//    key K with sum over {key >= K} >= line, found by bisection over the 64-bit key (64 passes each).
// Probabilities are recomputed from the logits in every pass (p = exp(z - zmax), as float, summed in
// double, like the CPU), so nothing but a few scalars per row is stored.
// TODO(#16): a radix select of the top-k/top-p cut would take ~4 passes instead of up to 192.
#include <cstdint>

#include "model/cuda/cuda_check.h"
#include "model/cuda/reduce.cuh"
#include "model/cuda/sampling.h"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 512;

struct Row {
    const float* logits;
    int V;
    float inv_t;
    float zmax;
    __device__ float prob(int i) const { return expf(logits[i] * inv_t - zmax); }
    __device__ uint64_t key(int i) const {
        const float p = prob(i);
        return (static_cast<uint64_t>(__float_as_uint(p)) << 32) | (0xffffffffu - static_cast<uint32_t>(i));
    }
};

__device__ int key_token(uint64_t key) {
    return static_cast<int>(0xffffffffu - static_cast<uint32_t>(key & 0xffffffffu));
}

// Count and mass of the tokens with key >= max(K, cut).
struct Stats {
    double mass;
    int count;
};
__device__ Stats stats_at_least(const Row& r, uint64_t K, uint64_t cut) {
    const uint64_t lo = K > cut ? K : cut;
    double mass = 0.0;
    int count = 0;
    for (int i = threadIdx.x; i < r.V; i += blockDim.x) {
        const uint64_t k = r.key(i);
        if (k >= lo) mass += r.prob(i), ++count;
    }
    return {block_reduce_sum(mass), block_reduce_sum(count)};
}

// Largest key K >= lo with pred(stats_at_least(K, cut)) true; pred(lo) must hold.
template <class Pred>
__device__ uint64_t largest_key(const Row& r, uint64_t lo, uint64_t cut, Pred pred) {
    uint64_t hi = ~0ull;
    while (lo < hi) {
        const uint64_t mid = lo + ((hi - lo) >> 1) + 1;  // in (lo, hi]
        if (pred(stats_at_least(r, mid, cut)))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

// Mass of tokens 0..j (token-id order).
__device__ double prefix_mass(const Row& r, int j) {
    double mass = 0.0;
    for (int i = threadIdx.x; i <= j; i += blockDim.x) mass += r.prob(i);
    return block_reduce_sum(mass);
}

__device__ int untruncated_token(const Row& r, double target, int argmax) {
    int lo = 0, hi = r.V - 1;  // smallest j with prefix_mass(j) > target
    if (!(prefix_mass(r, hi) > target)) {
        // u * sum rounded above the final cumulative sum: the CPU returns the last nonzero token.
        int last = -1;
        for (int i = threadIdx.x; i < r.V; i += blockDim.x)
            if (r.prob(i) != 0.0f) last = i;
        __shared__ int best;
        if (threadIdx.x == 0) best = -1;
        __syncthreads();
        atomicMax(&best, last);
        __syncthreads();
        return best < 0 ? argmax : best;
    }
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (prefix_mass(r, mid) > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

__device__ int truncated_token(const Row& r, const SampleRequest& q, double u) {
    uint64_t cut = 0;  // kept: key >= cut
    if (q.top_k > 0 && q.top_k < r.V) {
        const int k = q.top_k;
        cut = largest_key(r, 0, 0, [k](Stats s) { return s.count >= k; });
    }
    double mass = stats_at_least(r, cut, cut).mass;
    if (q.top_p < 1.0f) {
        const double line = static_cast<double>(q.top_p) * mass;
        cut = largest_key(r, cut, cut, [line](Stats s) { return s.mass >= line; });
        mass = stats_at_least(r, cut, cut).mass;
    }
    const double target = u * mass;
    if (!(mass > target)) return key_token(cut);  // rounding: the CPU returns the last kept token
    return key_token(largest_key(r, cut, cut, [target](Stats s) { return s.mass > target; }));
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(int* tokens, float* logprobs, const float* logits, const int* rows,
                  const SampleRequest* requests, int V) {
    const int row = blockIdx.x;  // request index
    const SampleRequest q = requests[row];
    const bool greedy = q.temperature == 0.0f;
    const size_t logits_row = rows ? (size_t)rows[row] : (size_t)row;
    Row r{logits + logits_row * V, V, greedy ? 1.0f : 1.0f / q.temperature, 0.0f};

    // Max and argmax of z (first index wins ties, as on the CPU).
    float best = -INFINITY;
    int best_i = 0x7fffffff;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        const float z = r.logits[i] * r.inv_t;
        if (z > best) best = z, best_i = i;
    }
    r.zmax = block_reduce_max(best);
    __shared__ int argmax;
    if (threadIdx.x == 0) argmax = 0x7fffffff;
    __syncthreads();
    if (best == r.zmax) atomicMin(&argmax, best_i);
    __syncthreads();
    const int amax = argmax;

    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum += r.prob(i);
    sum = block_reduce_sum(sum);
    const float lse = r.zmax + static_cast<float>(log(sum));

    int token = amax;
    if (!greedy) {
        const double u = counter_uniform(q.seed, q.stream, q.step);
        const bool truncated = (q.top_k > 0 && q.top_k < V) || q.top_p < 1.0f;
        token = truncated ? truncated_token(r, q, u) : untruncated_token(r, u * sum, amax);
    }
    if (threadIdx.x == 0) {
        tokens[row] = token;
        logprobs[row] = r.logits[token] * r.inv_t - lse;
    }
}

}  // namespace

void sample(int* tokens, float* logprobs, const float* logits, const int* rows, const SampleRequest* requests,
            int n, int V, cudaStream_t stream) {
    if (n == 0) return;
    sample_kernel<<<n, kThreads, 0, stream>>>(tokens, logprobs, logits, rows, requests, V);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
