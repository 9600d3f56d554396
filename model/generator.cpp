#include "model/generator.h"

#include <algorithm>
#include <string>

#include "common/base/error.h"
#include "model/kv_budget.h"

namespace stride {

const char* finish_reason_name(FinishReason r) {
    return r == FinishReason::stop ? "stop" : "length";
}

// The KV pool's size: given, sized from the device's free memory (before the weights and the
// activations are allocated: they are counted in), or from kv_bytes.
static int pool_blocks(const Model& model, const GeneratorOptions& opt) {
    const ModelConfig& cfg = model.config();
    if (opt.kv_blocks > 0) return opt.kv_blocks;
    const Backend& be = opt.backend ? *opt.backend : cpu_backend();
    if (opt.kv_memory_fraction > 0.0 && be.memory_info) {
        KvBudget b;
        be.memory_info(&b.free_bytes, &b.total_bytes);
        b.fraction = opt.kv_memory_fraction;
        b.weight_bytes = device_weight_bytes(model.layout, opt.weight_dtype);
        b.activation_bytes = decoder_activation_bytes(cfg, opt.max_batch_tokens, opt.max_running);
        b.block_bytes = kv_block_bytes(cfg, opt.block_size, opt.kv_dtype);
        b.min_blocks = (std::max(1, opt.kv_min_tokens) + opt.block_size - 1) / opt.block_size;
        return kv_blocks_for_budget(b);
    }
    return KvCache::blocks_for_bytes(cfg, opt.kv_bytes, opt.block_size, opt.kv_dtype);
}

Generator::Generator(const Model& model, const GeneratorOptions& opt)
    : model_(model),
      opt_(opt),
      cache_(model.config(), pool_blocks(model, opt), opt.block_size, opt.kv_dtype,
             opt.backend ? *opt.backend : cpu_backend()),
      decoder_(model, cache_, opt.weight_dtype) {
    sample_dev_.set_backend(cache_.backend());
    STRIDE_CHECK(opt.max_running >= 1, "generator: max_running must be >= 1");
    STRIDE_CHECK(opt.max_batch_tokens >= opt.max_running,
                 "generator: max_batch_tokens (" + std::to_string(opt.max_batch_tokens) +
                     ") must be >= max_running (" + std::to_string(opt.max_running) +
                     ") so every running sequence can decode each step");
}

int Generator::new_seq() {
    int id;
    if (!free_seqs_.empty()) {
        id = free_seqs_.back();
        free_seqs_.pop_back();
    } else {
        id = static_cast<int>(seqs_.size());
        seqs_.emplace_back();
    }
    seqs_[id] = Seq{};
    seqs_[id].live = true;
    return id;
}

void Generator::validate(const GenerationRequest& req) const {
    const std::string who = "generate request " + std::to_string(req.id) + ": ";
    const int V = model_.config().vocab;
    STRIDE_CHECK(!req.prompt.empty(), who + "empty prompt");
    for (int t : req.prompt)
        STRIDE_CHECK(t >= 0 && t < V, who + "prompt token " + std::to_string(t) +
                                          " outside the vocabulary [0, " + std::to_string(V) + ")");
    STRIDE_CHECK(req.max_new_tokens >= 1, who + "max_new_tokens must be >= 1");
    STRIDE_CHECK(req.n >= 1, who + "n (samples per prompt) must be >= 1");
    STRIDE_CHECK(req.n <= opt_.max_running, who + "n = " + std::to_string(req.n) + " exceeds max_running (" +
                                                std::to_string(opt_.max_running) + ")");
    req.sampling.validate();
    const int total = static_cast<int>(req.prompt.size()) + req.max_new_tokens;
    STRIDE_CHECK(cache_.blocks_for_tokens(total) <= cache_.blocks_total(),
                 who + std::to_string(total) + " tokens (prompt + max_new_tokens) need " +
                     std::to_string(cache_.blocks_for_tokens(total)) + " KV blocks but the pool has " +
                     std::to_string(cache_.blocks_total()) + "; raise the KV memory budget");
    STRIDE_CHECK(req.segment_tokens >= 0, who + "segment_tokens must be >= 0 (0: unsegmented)");
    STRIDE_CHECK(req.first_segment_tokens >= 0 && req.first_segment_tokens <= req.segment_tokens,
                 who + "first_segment_tokens must be within 0..segment_tokens");
}

void Generator::add(const GenerationRequest& req) {
    validate(req);
    std::vector<int> group;
    for (int k = 0; k < req.n; ++k) {
        int id = new_seq();
        Seq& s = seqs_[id];
        s.request_id = req.id;
        s.sample_index = k;
        s.tokens = req.prompt;
        s.prompt_len = static_cast<int>(req.prompt.size());
        s.max_new_tokens = req.max_new_tokens;
        s.stop_tokens = req.stop_tokens;
        s.sampling = req.sampling;
        s.segment_tokens = req.segment_tokens;
        s.round_budget = req.first_segment_tokens > 0 ? req.first_segment_tokens : req.segment_tokens;
        s.segment_starts = {0};
        s.fork_leader = k == 0 ? -1 : group[0];
        group.push_back(id);
    }
    waiting_.push_back(std::move(group));
}

void Generator::add_resumed(const GenerationRequest& req, const std::vector<GeneratedSequence>& samples) {
    validate(req);
    const std::string who = "resume request " + std::to_string(req.id) + ": ";
    for (const GeneratedSequence& g : samples) {
        const std::string which = who + "sample " + std::to_string(g.sample_index) + " ";
        STRIDE_CHECK(g.request_id == req.id, which + "belongs to request " + std::to_string(g.request_id));
        STRIDE_CHECK(g.sample_index >= 0 && g.sample_index < req.n,
                     which + "is outside the request's n = " + std::to_string(req.n));
        STRIDE_CHECK(g.logprobs.size() == g.tokens.size() && g.versions.size() == g.tokens.size(),
                     which + "has " + std::to_string(g.tokens.size()) + " tokens but " +
                         std::to_string(g.logprobs.size()) + " log-probs and " +
                         std::to_string(g.versions.size()) + " versions");
        STRIDE_CHECK(
            static_cast<int>(g.tokens.size()) < req.max_new_tokens,
            which + "already has max_new_tokens = " + std::to_string(req.max_new_tokens) + " tokens");
        const int V = model_.config().vocab;
        for (int t : g.tokens) STRIDE_CHECK(t >= 0 && t < V, which + "has a token outside the vocabulary");
        STRIDE_CHECK(g.tokens.empty() || std::find(req.stop_tokens.begin(), req.stop_tokens.end(),
                                                   g.tokens.back()) == req.stop_tokens.end(),
                     which + "already ended with a stop token");
    }
    for (const GeneratedSequence& g : samples) {
        int id = new_seq();
        Seq& s = seqs_[id];
        s.request_id = req.id;
        s.sample_index = g.sample_index;
        s.tokens = req.prompt;
        s.tokens.insert(s.tokens.end(), g.tokens.begin(), g.tokens.end());
        s.prompt_len = static_cast<int>(req.prompt.size());
        s.max_new_tokens = req.max_new_tokens;
        s.stop_tokens = req.stop_tokens;
        s.sampling = req.sampling;
        s.logprobs = g.logprobs;
        s.versions = g.versions;
        s.segment_tokens = req.segment_tokens;
        s.round_budget = req.segment_tokens;
        const int gen = static_cast<int>(g.tokens.size());
        s.segment_starts = g.segment_starts.empty() ? std::vector<int>{0} : g.segment_starts;
        if (gen > 0 && s.segment_starts.back() != gen) s.segment_starts.push_back(gen);  // a new segment
        s.round_start = gen;
        waiting_.push_back({id});  // re-prefills on its own: resumed samples share no blocks
    }
}

int Generator::num_waiting() const {
    int n = 0;
    for (const auto& g : waiting_) n += static_cast<int>(g.size());
    return n;
}

void Generator::release_followers(int leader) {
    for (int r : running_)
        if (seqs_[r].fork_leader == leader) seqs_[r].fork_leader = -1;  // will prefill on its own
}

void Generator::free_kv(int seq) {
    Seq& s = seqs_[seq];
    if (s.kv >= 0) cache_.seq_free(s.kv);
    s.kv = -1;
    s.computed = 0;
}

void Generator::preempt(int seq) {
    free_kv(seq);
    release_followers(seq);
    running_.erase(std::find(running_.begin(), running_.end(), seq));
    waiting_.push_front({seq});
    ++stats_.preemptions;
}

// Preempts the most recently admitted resident sequence at running_ index >= min_index (never
// `keep`). Returns false when there is none.
bool Generator::preempt_one(int keep, int min_index) {
    for (int j = static_cast<int>(running_.size()) - 1; j >= min_index; --j) {
        int r = running_[j];
        if (r != keep && seqs_[r].kv >= 0) {
            preempt(r);
            return true;
        }
    }
    return false;
}

// Frees the KV of one resident sequence that is not running (parked first, most recently parked
// first, then queued ones from the back), never `keep`. Returns false when there is none. Idle KV is
// the cheapest to give up: nobody waits on it this round.
bool Generator::evict_idle(int keep) {
    for (auto it = parked_.rbegin(); it != parked_.rend(); ++it)
        if (*it != keep && seqs_[*it].kv >= 0) {
            free_kv(*it);
            ++stats_.evictions;
            return true;
        }
    for (auto g = waiting_.rbegin(); g != waiting_.rend(); ++g)
        for (int si : *g)
            if (si != keep && seqs_[si].kv >= 0) {
                free_kv(si);
                ++stats_.evictions;
                return true;
            }
    return false;
}

void Generator::drop_kv() {
    // Followers waiting to fork are not resident; their leader's prefill is redone, then they fork.
    for (size_t i = 0; i < seqs_.size(); ++i)
        if (seqs_[i].live && seqs_[i].kv >= 0) free_kv(static_cast<int>(i));
}

void Generator::begin_round() {
    ++stats_.rounds;
    // push_front in reverse keeps the park order; carried-over sequences run before new requests.
    for (auto it = parked_.rbegin(); it != parked_.rend(); ++it) {
        Seq& s = seqs_[*it];
        s.parked = false;
        s.round_start = generated(*it);
        s.round_budget = s.segment_tokens;
        s.segment_starts.push_back(s.round_start);
        waiting_.push_front({*it});
    }
    parked_.clear();
}

GeneratedSequence Generator::snapshot(int seq) const {
    const Seq& s = seqs_[seq];
    GeneratedSequence out;
    out.request_id = s.request_id;
    out.sample_index = s.sample_index;
    out.tokens.assign(s.tokens.begin() + s.prompt_len, s.tokens.end());
    out.logprobs = s.logprobs;
    out.versions = s.versions;
    out.segment_starts = s.segment_starts;
    return out;
}

std::vector<GeneratedSequence> Generator::unfinished() const {
    std::vector<GeneratedSequence> out;
    for (size_t i = 0; i < seqs_.size(); ++i)
        if (seqs_[i].live) out.push_back(snapshot(static_cast<int>(i)));
    std::sort(out.begin(), out.end(), [](const GeneratedSequence& a, const GeneratedSequence& b) {
        return a.request_id != b.request_id ? a.request_id < b.request_id : a.sample_index < b.sample_index;
    });
    return out;
}

// Forgets a sequence (finished or cancelled): its KV, its place in the queues, its slot.
void Generator::release(int seq) {
    free_kv(seq);
    auto drop = [seq](std::vector<int>& v) { v.erase(std::remove(v.begin(), v.end(), seq), v.end()); };
    drop(running_);
    drop(parked_);
    for (auto& g : waiting_) drop(g);
    waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(), [](const auto& g) { return g.empty(); }),
                   waiting_.end());
    seqs_[seq] = Seq{};
    free_seqs_.push_back(seq);
}

void Generator::cancel(uint64_t request_id) {
    for (size_t i = 0; i < seqs_.size(); ++i)
        if (seqs_[i].live && seqs_[i].request_id == request_id) release(static_cast<int>(i));
}

int Generator::blocks_reserved() const {
    int total = 0;
    for (size_t i = 0; i < seqs_.size(); ++i) {
        const Seq& s = seqs_[i];
        if (!s.live) continue;
        int end = s.max_new_tokens;  // generated tokens this sequence may reach before it stops
        if (s.segment_tokens > 0)
            end = std::min(end, s.parked ? generated(static_cast<int>(i)) + s.segment_tokens
                                         : s.round_start + s.round_budget);
        int held = 0;
        if (s.kv >= 0)
            held = static_cast<int>(cache_.seq_block_table(s.kv).size());
        else if (s.fork_leader >= 0)
            held = s.prompt_len / cache_.block_size();  // will share the full ones
        total += std::max(0, cache_.blocks_for_tokens(s.prompt_len + end) - held);
    }
    return total;
}

void Generator::finish(int seq, FinishReason reason, std::vector<GeneratedSequence>& finished) {
    Seq& s = seqs_[seq];
    GeneratedSequence out;
    out.request_id = s.request_id;
    out.sample_index = s.sample_index;
    out.tokens.assign(s.tokens.begin() + s.prompt_len, s.tokens.end());
    out.logprobs = std::move(s.logprobs);
    out.versions = std::move(s.versions);
    out.segment_starts = std::move(s.segment_starts);
    out.reason = reason;
    finished.push_back(std::move(out));
    release(seq);
}

// Samples every sequence in sample_seqs_ from its logits row (sample_rows_) in one Backend::sample
// call, then applies the tokens in that order (the order the per-sequence sampling had).
void Generator::sample_scheduled(const float* logits, std::vector<GeneratedSequence>& finished) {
    const int n = static_cast<int>(sample_seqs_.size());
    if (n == 0) return;
    sample_reqs_.resize(n);
    for (int i = 0; i < n; ++i) {
        const Seq& s = seqs_[sample_seqs_[i]];
        sample_reqs_[i] = {s.sampling.temperature,
                           s.sampling.top_p,
                           s.sampling.top_k,
                           0,
                           s.sampling.seed,
                           static_cast<uint64_t>(s.sample_index),
                           static_cast<uint64_t>(generated(sample_seqs_[i]))};
    }
    sample_tokens_.resize(n);
    sample_logprobs_.resize(n);
    const Backend& be = cache_.backend();
    if (be.host_memory) {
        be.sample(sample_tokens_.data(), sample_logprobs_.data(), logits, sample_rows_.data(),
                  sample_reqs_.data(), n, model_.config().vocab);
    } else {
        // Device layout: [requests | rows | tokens | logprobs], one copy in, one copy out.
        const size_t req_bytes = n * sizeof(SampleRequest), int_bytes = n * sizeof(int);
        sample_dev_.grow(req_bytes + 3 * int_bytes);
        auto* base = sample_dev_.as<unsigned char>();
        auto* reqs = reinterpret_cast<SampleRequest*>(base);
        auto* rows = reinterpret_cast<int*>(base + req_bytes);
        auto* toks = rows + n;
        auto* lps = reinterpret_cast<float*>(toks + n);
        be.copy(reqs, sample_reqs_.data(), req_bytes);
        be.copy(rows, sample_rows_.data(), int_bytes);
        be.sample(toks, lps, logits, rows, reqs, n, model_.config().vocab);
        be.copy(sample_tokens_.data(), toks, int_bytes);
        be.copy(sample_logprobs_.data(), lps, n * sizeof(float));
        be.sync();
    }
    for (int i = 0; i < n; ++i)
        sample_into(sample_seqs_[i], SampledToken{sample_tokens_[i], sample_logprobs_[i]}, finished);
}

void Generator::sample_into(int seq, SampledToken st, std::vector<GeneratedSequence>& finished) {
    Seq& s = seqs_[seq];
    const int gen = generated(seq);
    s.tokens.push_back(st.token);
    s.logprobs.push_back(st.logprob);
    s.versions.push_back(version_);
    if (std::find(s.stop_tokens.begin(), s.stop_tokens.end(), st.token) != s.stop_tokens.end())
        finish(seq, FinishReason::stop, finished);
    else if (gen + 1 >= s.max_new_tokens)
        finish(seq, FinishReason::length, finished);
    else if (s.segment_tokens > 0 && gen + 1 - s.round_start >= s.round_budget) {
        // Its segment is done: out of the batch until begin_round(), KV kept (evicted if needed).
        s.parked = true;
        running_.erase(std::find(running_.begin(), running_.end(), seq));
        parked_.push_back(seq);
        ++stats_.parks;
    }
}

std::vector<GeneratedSequence> Generator::step() {
    std::vector<GeneratedSequence> finished;
    if (round_done()) return finished;
    batch_.clear();
    scheduled_.clear();
    int budget = opt_.max_batch_tokens;
    int reserved = 0;        // blocks promised to sequences already scheduled in this step
    bool preempted = false;  // memory pressure this step: admit nothing new

    auto schedule = [&](int si, int n, int blocks) {
        Seq& s = seqs_[si];
        batch_.add(s.kv, s.tokens.data() + s.computed, n);
        scheduled_.push_back({si, n});
        const bool decode = n == 1 && s.computed == static_cast<int>(s.tokens.size()) - 1 &&
                            static_cast<int>(s.tokens.size()) > s.prompt_len;
        (decode ? stats_.decode_tokens : stats_.prefill_tokens) += n;
        reserved += blocks;
        budget -= n;
    };

    // ---- running sequences first: decode one token, or the next prefill chunk ---------------------
    for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
        const int si = running_[i];
        if (seqs_[si].fork_leader >= 0) continue;  // forks its leader's prompt when that is done
        if (seqs_[si].kv < 0) seqs_[si].kv = cache_.seq_create();
        const int kv = seqs_[si].kv;
        int n = std::min(static_cast<int>(seqs_[si].tokens.size()) - seqs_[si].computed, budget);
        while (cache_.blocks_to_grow(kv, n) > cache_.blocks_free() - reserved) {
            if (evict_idle(si) || preempt_one(si, static_cast<int>(i) + 1)) {
                preempted = true;
                continue;
            }
            --n;  // nothing left to preempt: feed a shorter chunk (or nothing this step)
            if (n == 0) break;
        }
        if (n > 0) schedule(si, n, cache_.blocks_to_grow(kv, n));
    }

    // ---- admit waiting groups (FIFO), unless we just had to preempt --------------------------------
    while (!preempted && !waiting_.empty() && budget > 0) {
        const std::vector<int>& group = waiting_.front();
        if (running_.size() + group.size() > static_cast<size_t>(opt_.max_running)) break;
        Seq& lead = seqs_[group[0]];
        // A sequence carried over from the last round may still hold its KV: it feeds only what is
        // not cached (its last sampled token).
        const bool resident = lead.kv >= 0;
        const int n = std::min(static_cast<int>(lead.tokens.size()) - lead.computed, budget);
        const int blocks = resident ? cache_.blocks_to_grow(lead.kv, n) : cache_.blocks_for_tokens(n);
        // Keep one block of headroom per running sequence for its next decode step, so admission does
        // not immediately force preemption; with nothing running, admit whatever fits. Idle (parked)
        // KV is given up first.
        const int headroom = static_cast<int>(running_.size() + group.size());
        auto fits = [&] {
            const int avail = cache_.blocks_free() - reserved;
            return running_.empty() && scheduled_.empty() ? blocks <= avail : blocks + headroom <= avail;
        };
        while (!fits() && evict_idle(group[0])) {
        }
        if (!fits()) break;
        if (!resident) lead.kv = cache_.seq_create();
        running_.insert(running_.end(), group.begin(), group.end());
        schedule(group[0], n, blocks);
        waiting_.pop_front();
    }

    STRIDE_CHECK(!scheduled_.empty(), "generator: no sequence can make progress (KV pool of " +
                                          std::to_string(cache_.blocks_total()) + " blocks too small?)");

    // ---- one batched forward, then sampling ----------------------------------------------------------
    const float* logits = decoder_.extend_on_device(batch_);
    ++stats_.steps;
    stats_.batch_seqs += static_cast<int64_t>(scheduled_.size());
    std::vector<int> followers;
    sample_seqs_.clear(), sample_rows_.clear();
    for (size_t k = 0; k < scheduled_.size(); ++k) {
        const int si = scheduled_[k].seq;
        Seq& s = seqs_[si];
        s.computed += scheduled_[k].count;
        if (s.computed < static_cast<int>(s.tokens.size())) continue;  // prefill chunk, more to come
        // Samples waiting for this prompt fork its KV now, before the leader can finish and free it.
        followers.clear();
        for (int r : running_)
            if (seqs_[r].fork_leader == si) followers.push_back(r);
        for (int f : followers) {
            seqs_[f].kv = cache_.seq_fork(s.kv);
            seqs_[f].computed = s.computed;
            seqs_[f].fork_leader = -1;
        }
        for (int f : followers) sample_seqs_.push_back(f), sample_rows_.push_back(static_cast<int>(k));
        sample_seqs_.push_back(si), sample_rows_.push_back(static_cast<int>(k));
    }
    sample_scheduled(logits, finished);
    return finished;
}

std::vector<GeneratedSequence> Generator::run_until_done() {
    std::vector<GeneratedSequence> all;
    while (!done()) {
        if (round_done()) begin_round();
        std::vector<GeneratedSequence> f = step();
        for (auto& g : f) all.push_back(std::move(g));
    }
    return all;
}

}  // namespace stride
