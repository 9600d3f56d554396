// GPU sampling without sorting. Every choice Sampler::sample makes is "the first token, in some
// order, where a running sum crosses a line":
//  * untruncated (the RL default): inverse CDF in token-id order, bisection over the id (18 passes
//    with block reductions);
//  * top-k / top-p: the CPU's order is probability descending, lower id first on ties, i.e. the key
//    (bits(p) << 32 | ~id) descending; "the first j in that order with cum(j) >= line" is the largest
//    key K with sum over {key >= K} >= line. A radix select finds it 8 bits at a time (8 passes over
//    the row instead of the 64 of a bisection): each pass builds a 256-bin histogram (count and mass)
//    of the keys that share the digits chosen so far and takes the largest digit whose running sum
//    from the top still satisfies the line.
// Probabilities are recomputed from the logits in every pass (p = exp(z - zmax), as float), so
// nothing but a few scalars and one histogram per row is stored. The histogram's mass is fixed point
// (p rounded to a multiple of 2^-40, summed in 64-bit integers): integer atomics add in any order to
// the same bits, so a seed gives the same token run to run. The CPU sums the float probabilities in
// double; the two differ by at most V * 2^-41, so a draw can differ only when the line falls that
// close to a cumulative sum (test_backend_ops compares the tokens with the CPU's).
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

// ---- radix select over the 64-bit key --------------------------------------------------------------

constexpr double kFixedOne = 1099511627776.0;  // 2^40: the histogram's unit of probability mass

__device__ unsigned long long fixed_mass(float p) {
    return __double2ull_rn(static_cast<double>(p) * kFixedOne);
}

// Count and mass (fixed point) of a set of tokens.
struct Stats {
    unsigned long long mass;
    int count;
};

// Largest key K with pred(stats of {key >= max(K, cut)}) true; pred must be monotone (true for small
// K). Returns cut when pred does not even hold there (rounding of the caller's line). Every thread of
// the block calls it and gets the same K.
template <class Pred>
__device__ uint64_t radix_largest_key(const Row& r, uint64_t cut, Pred pred) {
    __shared__ unsigned long long hist_mass[256];
    __shared__ int hist_count[256];
    __shared__ uint64_t s_prefix;
    __shared__ Stats s_above;
    __shared__ int s_none;
    uint64_t prefix = 0;   // the digits chosen so far, in place
    Stats above{0ull, 0};  // tokens whose key is above every key with that prefix
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) hist_mass[b] = 0ull, hist_count[b] = 0;
        __syncthreads();
        const uint64_t high = shift == 56 ? 0ull : (~0ull << (shift + 8));
        // Each thread adds runs of equal digits at once: in the first passes nearly every token falls
        // in one or two bins, and per-token atomics there would serialise.
        int run_digit = -1, run_count = 0;
        unsigned long long run_mass = 0ull;
        for (int i = threadIdx.x; i < r.V; i += blockDim.x) {
            const uint64_t k = r.key(i);
            if (k < cut || (k & high) != prefix) continue;
            const int d = static_cast<int>((k >> shift) & 0xffu);
            if (d != run_digit) {
                if (run_count)
                    atomicAdd(&hist_mass[run_digit], run_mass), atomicAdd(&hist_count[run_digit], run_count);
                run_digit = d, run_mass = 0ull, run_count = 0;
            }
            run_mass += fixed_mass(r.prob(i)), ++run_count;
        }
        if (run_count)
            atomicAdd(&hist_mass[run_digit], run_mass), atomicAdd(&hist_count[run_digit], run_count);
        __syncthreads();
        if (threadIdx.x == 0) {
            Stats sum = above;
            int chosen = -1;
            for (int d = 255; d >= 0; --d) {
                const Stats with{sum.mass + hist_mass[d], sum.count + hist_count[d]};
                if (pred(with)) {
                    chosen = d;
                    break;
                }
                sum = with;
            }
            s_none = chosen < 0;
            if (chosen >= 0) s_prefix = prefix | (static_cast<uint64_t>(chosen) << shift), s_above = sum;
        }
        __syncthreads();
        if (s_none) return cut;  // only possible in the first pass: pred(cut) is false
        prefix = s_prefix, above = s_above;
        __syncthreads();  // the histogram is cleared for the next pass only after everyone read
    }
    return prefix > cut ? prefix : cut;
}

// Fixed-point mass of the tokens with key >= cut (deterministic block reduction).
__device__ unsigned long long mass_at_least(const Row& r, uint64_t cut) {
    unsigned long long mass = 0ull;
    for (int i = threadIdx.x; i < r.V; i += blockDim.x)
        if (r.key(i) >= cut) mass += fixed_mass(r.prob(i));
    return block_reduce_sum(mass);
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
        cut = radix_largest_key(r, 0, [k](Stats s) { return s.count >= k; });
    }
    unsigned long long mass = mass_at_least(r, cut);
    if (q.top_p < 1.0f) {
        const double line = static_cast<double>(q.top_p) * static_cast<double>(mass);
        cut = radix_largest_key(r, cut, [line](Stats s) { return static_cast<double>(s.mass) >= line; });
        mass = mass_at_least(r, cut);
    }
    const double target = u * static_cast<double>(mass);
    if (!(static_cast<double>(mass) > target)) return key_token(cut);  // the CPU returns the last kept token
    return key_token(
        radix_largest_key(r, cut, [target](Stats s) { return static_cast<double>(s.mass) > target; }));
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
