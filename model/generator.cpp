#include "model/generator.h"

#include <algorithm>
#include <string>

#include "common/base/error.h"

namespace stride {

const char* finish_reason_name(FinishReason r) {
    return r == FinishReason::stop ? "stop" : "length";
}

static int pool_blocks(const ModelConfig& cfg, const GeneratorOptions& opt) {
    return opt.kv_blocks > 0 ? opt.kv_blocks : KvCache::blocks_for_bytes(cfg, opt.kv_bytes, opt.block_size);
}

Generator::Generator(const Model& model, const GeneratorOptions& opt)
    : model_(model),
      opt_(opt),
      cache_(model.config(), pool_blocks(model.config(), opt), opt.block_size),
      decoder_(model, cache_),
      sampler_(model.config().vocab) {
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

void Generator::add(const GenerationRequest& req) {
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
        s.fork_leader = k == 0 ? -1 : group[0];
        group.push_back(id);
    }
    waiting_.push_back(std::move(group));
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

void Generator::preempt(int seq) {
    Seq& s = seqs_[seq];
    if (s.kv >= 0) cache_.seq_free(s.kv);
    s.kv = -1;
    s.computed = 0;
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

void Generator::drop_kv() {
    for (int r : running_) {
        Seq& s = seqs_[r];
        if (s.kv >= 0) cache_.seq_free(s.kv);
        s.kv = -1;
        s.computed = 0;
    }
}

void Generator::finish(int seq, FinishReason reason, std::vector<GeneratedSequence>& finished) {
    Seq& s = seqs_[seq];
    GeneratedSequence out;
    out.request_id = s.request_id;
    out.sample_index = s.sample_index;
    out.tokens.assign(s.tokens.begin() + s.prompt_len, s.tokens.end());
    out.logprobs = std::move(s.logprobs);
    out.versions = std::move(s.versions);
    out.reason = reason;
    finished.push_back(std::move(out));
    if (s.kv >= 0) cache_.seq_free(s.kv);
    running_.erase(std::find(running_.begin(), running_.end(), seq));
    s = Seq{};
    free_seqs_.push_back(seq);
}

void Generator::sample_into(int seq, const float* logits, std::vector<GeneratedSequence>& finished) {
    Seq& s = seqs_[seq];
    const int generated = static_cast<int>(s.tokens.size()) - s.prompt_len;
    SampledToken st = sampler_.sample(logits, s.sampling, static_cast<uint64_t>(s.sample_index),
                                      static_cast<uint64_t>(generated));
    s.tokens.push_back(st.token);
    s.logprobs.push_back(st.logprob);
    s.versions.push_back(version_);
    if (std::find(s.stop_tokens.begin(), s.stop_tokens.end(), st.token) != s.stop_tokens.end())
        finish(seq, FinishReason::stop, finished);
    else if (generated + 1 >= s.max_new_tokens)
        finish(seq, FinishReason::length, finished);
}

std::vector<GeneratedSequence> Generator::step() {
    std::vector<GeneratedSequence> finished;
    if (done()) return finished;
    batch_.clear();
    scheduled_.clear();
    int budget = opt_.max_batch_tokens;
    int reserved = 0;  // blocks promised to sequences already scheduled in this step
    bool preempted = false;

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
            if (preempt_one(si, static_cast<int>(i) + 1)) {
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
        const int n = std::min(static_cast<int>(lead.tokens.size()), budget);
        const int blocks = cache_.blocks_for_tokens(n);
        const int avail = cache_.blocks_free() - reserved;
        // Keep one block of headroom per running sequence for its next decode step, so admission does
        // not immediately force preemption; with nothing running, admit whatever fits.
        const int headroom = static_cast<int>(running_.size() + group.size());
        const bool fits =
            running_.empty() && scheduled_.empty() ? blocks <= avail : blocks + headroom <= avail;
        if (!fits) break;
        lead.kv = cache_.seq_create();
        lead.computed = 0;
        running_.insert(running_.end(), group.begin(), group.end());
        schedule(group[0], n, blocks);
        waiting_.pop_front();
    }

    STRIDE_CHECK(!scheduled_.empty(), "generator: no sequence can make progress (KV pool of " +
                                          std::to_string(cache_.blocks_total()) + " blocks too small?)");

    // ---- one batched forward, then sampling ----------------------------------------------------------
    const float* logits = decoder_.extend(batch_);
    const int V = model_.config().vocab;
    ++stats_.steps;
    std::vector<int> followers;
    for (size_t k = 0; k < scheduled_.size(); ++k) {
        const int si = scheduled_[k].seq;
        Seq& s = seqs_[si];
        s.computed += scheduled_[k].count;
        if (s.computed < static_cast<int>(s.tokens.size())) continue;  // prefill chunk, more to come
        const float* row = logits + k * static_cast<size_t>(V);
        // Samples waiting for this prompt fork its KV now, before the leader can finish and free it.
        followers.clear();
        for (int r : running_)
            if (seqs_[r].fork_leader == si) followers.push_back(r);
        for (int f : followers) {
            seqs_[f].kv = cache_.seq_fork(s.kv);
            seqs_[f].computed = s.computed;
            seqs_[f].fork_leader = -1;
        }
        for (int f : followers) sample_into(f, row, finished);
        sample_into(si, row, finished);
    }
    return finished;
}

std::vector<GeneratedSequence> Generator::run_until_done() {
    std::vector<GeneratedSequence> all;
    while (!done()) {
        std::vector<GeneratedSequence> f = step();
        for (auto& g : f) all.push_back(std::move(g));
    }
    return all;
}

}  // namespace stride
