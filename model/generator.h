// Continuous batching over the Decoder (vLLM V1-style scheduler, CPU reference).
//
// Every sequence is "tokens so far" (prompt + generated) plus "how many of them are in the KV cache".
// Each step() hands out a token budget: running sequences first (a decoding sequence needs 1 token,
// a sequence still prefilling gets the next chunk of its prompt), then waiting requests are admitted
// FIFO while the budget, the running-sequence limit and the KV pool allow. All scheduled tokens go
// through ONE Decoder::extend call; each sequence whose tokens are now all cached samples its next
// token. New prompts therefore join as soon as others finish, long prompts are prefilled in chunks
// alongside decodes, and nothing is ever padded.
//
// Groups (GRPO): a request with n > 1 samples prefills its prompt once; the n - 1 other samples fork
// the prompt's KV blocks (reference counts, copy-on-write of the last partial block) and sample their
// first token from the same logits with their own random stream.
//
// Out of KV blocks: the most recently admitted running sequence is preempted — its blocks are freed
// and it goes back to the front of the queue keeping its tokens; later it re-prefills prompt +
// generated tokens (recompute) and continues. Sampling is keyed by (seed, sample index, tokens
// generated so far), so preemption and batch composition do not change which tokens are drawn.
//
// RL weight updates: overwrite the Model's buffer in place between steps. Then either keep the KV
// (stale prefix, cheaper; AReaL-style "in place") or call drop_kv() so every resident sequence
// re-prefills its prompt + generated tokens with the new weights at its next step (recompute). The
// per-token log-probs already returned were recorded at sampling time with the weights of that step.
//
// Segment rollout (UloRL-style): a request with segment_tokens > 0 generates at most that many tokens
// per round. A sequence that reaches its round's budget unfinished is parked: it leaves the batch but
// keeps its KV (under memory pressure the KV of parked sequences is evicted first, before any running
// sequence is preempted; an evicted sequence re-prefills when it runs again). The round is done when
// nothing runs or waits; begin_round() resumes every parked sequence, ahead of queued requests, as a
// new segment. Between rounds the caller may swap weights (then drop_kv() or keep), add requests, or
// persist the unfinished sequences (unfinished()) and resume them in another Generator
// (add_resumed()). Sampling is keyed by tokens generated so far, so segmenting alone never changes
// which tokens are drawn.
//
// Tested by tests/model/test_generator.cpp and tests/model/test_generator_segments.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/params.h"
#include "model/sampler.h"

namespace stride {

enum class FinishReason { stop, length };
const char* finish_reason_name(FinishReason r);  // "stop" | "length"

struct GenerationRequest {
    uint64_t id = 0;
    std::vector<int> prompt;       // token ids, non-empty
    int max_new_tokens = 16;       // >= 1
    std::vector<int> stop_tokens;  // sampling one of these finishes the sequence (it is kept in tokens)
    SamplingParams sampling;       // temperature, top_p, top_k, seed
    int n = 1;                     // samples of this prompt (sample_index 0..n-1), sharing prompt blocks
    int segment_tokens = 0;        // > 0: generate at most this many tokens per round (segment rollout)
    // > 0 (at most segment_tokens): the budget of the request's first round only. A request that
    // joins a round already under way gets what is left of it, so it parks with the others and the
    // round still ends when its carried-over sequences end their segment.
    int first_segment_tokens = 0;
};

struct GeneratedSequence {
    uint64_t request_id = 0;
    int sample_index = 0;
    std::vector<int> tokens;        // generated tokens only (the stop token included when reason == stop)
    std::vector<float> logprobs;    // behaviour log-prob of each generated token (see sampler.h)
    std::vector<int64_t> versions;  // policy version (set_policy_version) that sampled each token
    // Index in tokens where each segment (round) began: {0} for an unsegmented sequence, one more per
    // round it was carried into. Snapshots of unfinished sequences carry it too.
    std::vector<int> segment_starts;
    FinishReason reason = FinishReason::length;  // meaningless in a snapshot of an unfinished sequence
};

struct GeneratorOptions {
    int kv_blocks = 0;  // KV pool size in blocks; 0 = derive from kv_memory_fraction or kv_bytes
    size_t kv_bytes = size_t(256) << 20;
    // With kv_blocks = 0 on a backend that reports its memory (CUDA): the pool gets what this fraction
    // of the device leaves after memory already in use, the weights and the activations
    // (model/kv_budget.h), and an Error when that is not enough for kv_min_tokens. 0: use kv_bytes.
    double kv_memory_fraction = 0.0;
    int kv_min_tokens = 1;  // the longest sequence (prompt + new tokens) a request may bring
    // How the weights are stored on the backend (bf16: projections with bf16 inputs, fp32 accumulation;
    // model/device_weights.h). Log-prob scoring (Decoder::extend_with_logprobs) needs fp32.
    WeightDtype weight_dtype = WeightDtype::fp32;
    int block_size = 16;
    KvDtype kv_dtype = KvDtype::fp32;  // bf16: half the memory and cache reads, K/V rounded to bf16
    int max_running = 64;              // sequences in flight at once
    int max_batch_tokens = 2048;       // tokens per step (prefill chunks + decodes); >= max_running
    // Where the decoder computes, the KV pool lives and sampling runs (Backend::sample; null: the
    // CPU). Only the sampled tokens and their log-probs come back to the host.
    const Backend* backend = nullptr;
};

struct GeneratorStats {
    int64_t steps = 0;
    int64_t prefill_tokens = 0;  // tokens fed that were not the last sampled token (prompts, recompute)
    int64_t decode_tokens = 0;   // single sampled tokens fed back
    int64_t preemptions = 0;     // running sequences whose KV was freed for others
    int64_t evictions = 0;       // parked (or queued, resident) sequences whose KV was freed for others
    int64_t parks = 0;           // sequences that ended a round unfinished (carried over)
    int64_t rounds = 0;          // begin_round() calls
    int64_t batch_seqs = 0;      // sum over steps of the sequences in the step's batch (occupancy)
};

class Generator {
   public:
    Generator(const Model& model, const GeneratorOptions& opt = {});

    // Queues a request. Throws Error for an empty prompt, out-of-vocabulary ids, bad sampling params,
    // or a request that could never fit the KV pool.
    void add(const GenerationRequest& req);

    // One scheduling iteration: admit, run one batched extend, sample. Returns the sequences that
    // finished in this step (possibly none). Does nothing once the round is done (round_done()).
    std::vector<GeneratedSequence> step();
    // Steps (and begins rounds) until nothing is left; returns everything that finished, in finish
    // order.
    std::vector<GeneratedSequence> run_until_done();

    // Nothing waiting, running or parked.
    bool done() const { return waiting_.empty() && running_.empty() && parked_.empty(); }
    int num_waiting() const;
    int num_running() const { return static_cast<int>(running_.size()); }

    // Frees every resident sequence's KV (running, queued or parked); each re-prefills prompt +
    // generated tokens when it runs next (after a weight update, to recompute the cache with the new
    // weights).
    void drop_kv();

    // ---- segment rollout -------------------------------------------------------------------------
    // The current round is over: every unfinished sequence is parked (step() does nothing until
    // begin_round()). True when nothing is in flight at all, too.
    bool round_done() const { return waiting_.empty() && running_.empty(); }
    int num_parked() const { return static_cast<int>(parked_.size()); }
    // Starts the next round: every parked sequence begins a new segment and is queued ahead of the
    // requests already waiting, in the order it was parked.
    void begin_round();
    // Every unfinished sequence as it stands (generated tokens, log-probs, versions, segment starts),
    // ordered by (request id, sample index). For persisting in-flight work.
    std::vector<GeneratedSequence> unfinished() const;
    // Queues samples of `req` that an earlier generator had partly generated (from unfinished()):
    // each re-prefills prompt + its tokens and continues, as a new segment when it has tokens. Throws
    // Error when a sample does not belong to the request or is already finished.
    void add_resumed(const GenerationRequest& req, const std::vector<GeneratedSequence>& samples);
    // Drops every sequence of a request, wherever it is, and frees its KV.
    void cancel(uint64_t request_id);
    // KV blocks the unfinished sequences may still take before the end of their current segment (a
    // parked one: its next segment; unsegmented: before max_new_tokens), counting a full re-prefill
    // for those not resident. Admission control: blocks_free() - blocks_reserved() is what new
    // requests can use without anyone being preempted.
    int blocks_reserved() const;

    // The caller overwrote model.data (a new policy version): on a device backend copy it to the
    // device's weights (one copy, same buffer). Nothing to do on the CPU.
    void weights_changed() { decoder_.weights_changed(); }
    // The decoder's device weights (Decoder::device_weights): a colocated trainer's new version is
    // copied here device to device (model.data then lags; nothing reads it after construction).
    float* device_weights() { return decoder_.device_weights(); }
    // The weights the decoder computes with: a checkpoint loaded straight onto the device
    // (DeviceWeights::load_checkpoint), a colocated trainer's version adopted with a device cast.
    DeviceWeights& weights() { return decoder_.weights(); }

    // The version of the weights the model holds now; every token sampled from here on records it.
    void set_policy_version(int64_t v) { version_ = v; }
    int64_t policy_version() const { return version_; }

    const KvCache& cache() const { return cache_; }
    const GeneratorStats& stats() const { return stats_; }

   private:
    struct Seq {
        uint64_t request_id = 0;
        int sample_index = 0;
        std::vector<int> tokens;  // prompt + generated
        int prompt_len = 0;
        int computed = 0;      // tokens whose K/V are in the cache
        int kv = -1;           // KvCache sequence id, -1 when not resident
        int fork_leader = -1;  // waits for this sequence's prefill, then forks its KV
        int max_new_tokens = 0;
        std::vector<int> stop_tokens;
        SamplingParams sampling;
        std::vector<float> logprobs;
        std::vector<int64_t> versions;
        int segment_tokens = 0;           // per-round budget, 0: unsegmented
        int round_budget = 0;             // this round's budget: segment_tokens, or a first round's
        int round_start = 0;              // tokens generated when the current round began
        std::vector<int> segment_starts;  // see GeneratedSequence
        bool parked = false;
        bool live = false;
    };
    struct Scheduled {
        int seq;    // index into seqs_
        int count;  // new tokens fed this step
    };

    int new_seq();
    int generated(int seq) const {
        return static_cast<int>(seqs_[seq].tokens.size()) - seqs_[seq].prompt_len;
    }
    void validate(const GenerationRequest& req) const;
    void preempt(int seq);
    bool preempt_one(int keep, int min_index);
    bool evict_idle(int keep);
    void free_kv(int seq);
    void release(int seq);
    GeneratedSequence snapshot(int seq) const;
    void release_followers(int leader);
    void sample_scheduled(const float* logits, std::vector<GeneratedSequence>& finished);
    void sample_into(int seq, SampledToken st, std::vector<GeneratedSequence>& finished);
    void finish(int seq, FinishReason reason, std::vector<GeneratedSequence>& finished);

    const Model& model_;
    GeneratorOptions opt_;
    KvCache cache_;
    Decoder decoder_;
    // One sampling batch per step: the host tables and their copies on the backend's device.
    std::vector<int> sample_seqs_, sample_rows_, sample_tokens_;
    std::vector<SampleRequest> sample_reqs_;
    std::vector<float> sample_logprobs_;
    DeviceBuffer sample_dev_;
    std::vector<Seq> seqs_;
    std::vector<int> free_seqs_;
    std::deque<std::vector<int>> waiting_;  // groups of sequences: leader first, then its followers
    std::vector<int> running_;              // admission order (preemption takes from the back)
    std::vector<int> parked_;               // ended their round unfinished, in park order
    DecodeBatch batch_;
    std::vector<Scheduled> scheduled_;
    int64_t version_ = 0;
    GeneratorStats stats_;
};

}  // namespace stride
