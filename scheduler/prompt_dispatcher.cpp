#include "scheduler/prompt_dispatcher.h"

#include "trainer/trained_prompts.h"  // prompt_number

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "common/base/error.h"

namespace stride {

PromptDispatcher::PromptDispatcher(const JobContext& ctx, const std::string& bind_endpoint,
                                   const std::string& weights_endpoint, const DispatcherOptions& opt)
    : ctx_(ctx),
      opt_(opt),
      zctx_(ctx.curve),
      sock_(zctx_, bind_endpoint, 1 << 20),
      endpoint_(sock_.endpoint()),
      versions_(ctx.job_id, weights_endpoint, 8, true, ctx.curve),
      cursor_(opt.start_prompt),
      extra_(opt.dynamic_sampling ? opt.start_extra_prompts : 0) {
    STRIDE_CHECK(opt_.prompts_per_step > 0, "trainer.prompts_per_step must be > 0");
    if (!ctx.train.empty()) epoch_ = opt.start_prompt / static_cast<int64_t>(ctx.train.size());
    thread_ = std::thread([this] { serve(); });
}

PromptDispatcher::~PromptDispatcher() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

v1::Prompt PromptDispatcher::prompt_at(int64_t p) {
    const int64_t n = static_cast<int64_t>(ctx_.train.size());
    const int64_t epoch = p / n, pos = p % n;
    if (epoch != order_epoch_) {
        // Epoch e's order: a shuffle seeded by (job seed, e), so a resumed job sees the same order.
        order_.resize(n);
        std::iota(order_.begin(), order_.end(), 0);
        std::mt19937_64 rng(opt_.seed * 1000003ull + static_cast<uint64_t>(epoch));
        std::shuffle(order_.begin(), order_.end(), rng);
        order_epoch_ = epoch;
    }
    if (epoch > epoch_) {  // counted and said, not repeated silently
        epoch_ = epoch;
        spdlog::info(
            "data.train: epoch {} starts at prompt {}: the {} training prompts again, in a new order",
            epoch + 1, p, n);
    }
    const std::vector<int64_t>& order = order_;
    const TokenizedPrompt& tp = ctx_.train[order[pos]];
    v1::Prompt out;
    // Appending rather than "p" + to_string(p): GCC 12 emits a false -Wrestrict on the latter.
    std::string id = "p";
    id += std::to_string(p);
    out.set_prompt_id(id);
    out.set_group_id(id);
    out.mutable_token_ids()->Add(tp.ids.begin(), tp.ids.end());
    out.set_text(tp.text);
    out.set_label(tp.answer);
    out.set_label_json(tp.answer_json);
    // verl's per-row keys, for the reward the rollout worker calls (RewardInput).
    if (!tp.data_source.empty()) (*out.mutable_metadata())["data_source"] = tp.data_source;
    if (!tp.extra_info_json.empty()) (*out.mutable_metadata())["extra_info"] = tp.extra_info_json;
    out.set_dataset_index(order[pos]);
    out.set_epoch(static_cast<uint32_t>(epoch));
    return out;
}

void PromptDispatcher::serve() {
    while (!stop_) {
        auto req = sock_.recv(50);
        if (!req) continue;
        v1::Envelope in;
        EnvelopeCheck check = decode_envelope(req->payload, ctx_.job_id, &in);
        v1::Envelope out;
        if (check.ok() && in.has_prompt_request()) {
            out = answer_prompt_request(in.prompt_request());
        } else if (check.ok() && in.has_extra_prompts()) {
            out = answer_extra_prompts(in.extra_prompts());
        } else if (check.ok() && in.has_redispatch_prompts()) {
            out = answer_redispatch(in.redispatch_prompts());
        } else {
            ++rejected_;
            out = check.ok()
                      ? make_error(ctx_.job_id, v1::ERROR_CODE_UNKNOWN_BODY,
                                   "the scheduler serves PromptRequest, ExtraPrompts and RedispatchPrompts")
                      : make_rejection(check);  // never tells a stranger our job id
        }
        sock_.reply(*req, encode_envelope(out));
    }
}

v1::Envelope PromptDispatcher::answer_extra_prompts(const v1::ExtraPrompts& ep) {
    v1::Envelope out = make_envelope(ctx_.job_id);
    if (ep.total() < 0) {
        ++rejected_;
        return make_error(ctx_.job_id, v1::ERROR_CODE_INVALID_ARGUMENT,
                          "ExtraPrompts.total must be >= 0, got " + std::to_string(ep.total()));
    }
    if (opt_.dynamic_sampling) extra_ = std::max<int64_t>(extra_, ep.total());
    out.mutable_extra_prompts_ack()->set_total(extra_);
    return out;
}

void PromptDispatcher::release_worker(const std::string& worker_id) {
    std::lock_guard<std::mutex> lock(releases_mu_);
    releases_.push_back(worker_id);
}

void PromptDispatcher::apply_releases() {
    std::vector<std::string> lost;
    {
        std::lock_guard<std::mutex> lock(releases_mu_);
        lost.swap(releases_);
    }
    for (const std::string& w : lost) {
        // Its oldest version no longer holds the gate back, and a later run of it counts anew.
        inflight_oldest_.erase(w);
        last_answer_.erase(w);
        queue_again(holders_.release(w), "worker " + w + " was lost");
    }
}

void PromptDispatcher::queue_again(const std::vector<int64_t>& prompts, const std::string& why) {
    int64_t queued = 0;
    for (int64_t p : prompts) queued += again_.add(p) ? 1 : 0;
    if (queued > 0)
        spdlog::warn("dispatcher: {} prompts to hand out again: {} ({} queued in all)", queued, why,
                     again_.size());
}

int64_t PromptDispatcher::step_of(int64_t p, int64_t extra) const {
    return std::max<int64_t>(0, p - extra) / opt_.prompts_per_step;
}

v1::Envelope PromptDispatcher::answer_redispatch(const v1::RedispatchPrompts& rp) {
    std::vector<int64_t> back;
    for (const std::string& id : rp.prompt_ids()) {
        const std::optional<int64_t> p = prompt_number(id);
        if (!p) {
            ++rejected_;
            return make_error(ctx_.job_id, v1::ERROR_CODE_INVALID_ARGUMENT,
                              "RedispatchPrompts: '" + id + "' is not a prompt id of this dispatcher (p<N>)");
        }
        // Not handed out yet: it comes in its turn. Held by a live worker: it is being generated.
        if (*p < cursor_ && !holders_.held_by_anyone(*p)) back.push_back(*p);
    }
    const size_t before = again_.size();
    queue_again(
        back, "RedispatchPrompts: " + (rp.reason().empty() ? "a resume deleted their groups" : rp.reason()));
    ++trainer_resumes_;
    v1::Envelope out = make_envelope(ctx_.job_id);
    out.mutable_redispatch_prompts_ack()->set_queued(static_cast<uint32_t>(again_.size() - before));
    return out;
}

std::string PromptDispatcher::failure() const {
    std::lock_guard<std::mutex> lock(failure_mu_);
    return failure_;
}

bool PromptDispatcher::refresh_version() {
    if (!failure().empty()) return false;
    // The trainer's version changes once per step; asking the publisher at most every 2 ms keeps the
    // gate fresh (in sync mode each step's rollout waits on it) without a round trip per request.
    const auto now = std::chrono::steady_clock::now();
    if (now - version_checked_ <= std::chrono::milliseconds(2)) return true;
    version_checked_ = now;
    // One short attempt per request: the serving thread (and a stop) never waits long on a silent
    // publisher; the silence is bounded across attempts instead, from the first unanswered read after
    // an answer (time in which nobody asked, as while a trainer restarts, does not count before it).
    const int attempt_ms = static_cast<int>(std::clamp(opt_.weights_deadline_s * 1000.0, 1.0, 250.0));
    if (auto u = versions_.latest(attempt_ms)) {
        version_ = u->version();
        publisher_silent_since_.reset();
        return true;
    }
    if (!publisher_silent_since_) publisher_silent_since_ = now;
    const double silent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *publisher_silent_since_).count();
    if (silent < opt_.weights_deadline_s) return true;
    std::lock_guard<std::mutex> lock(failure_mu_);
    failure_ = fmt::format(
        "prompt dispatcher: the trainer's weight publisher at {} did not answer for {:.1f} s "
        "(deadlines.weights_s = {}): it is down or stuck; no more prompts are handed out",
        versions_.endpoint(), silent, opt_.weights_deadline_s);
    spdlog::error("{}", failure_);
    return false;
}

void PromptDispatcher::note_worker_report(const v1::PromptRequest& pr) {
    // What each worker has in flight: its own report, lowered by what we hand it now (its next
    // request reports those too).
    if (pr.has_oldest_inflight_version())
        inflight_oldest_[pr.worker_id()] = pr.oldest_inflight_version();
    else
        inflight_oldest_.erase(pr.worker_id());
    if (opt_.dynamic_sampling && opt_.max_lag > 0) {  // a report below the last: the worker restarted
        uint64_t& last = flat_reported_[pr.worker_id()];
        flat_groups_ +=
            static_cast<int64_t>(pr.flat_groups() >= last ? pr.flat_groups() - last : pr.flat_groups());
        last = pr.flat_groups();
    }
}

v1::Envelope PromptDispatcher::answer_prompt_request(const v1::PromptRequest& pr) {
    // A retry of a request whose reply was lost: the same prompts again, not new ones.
    if (pr.request_seq() > 0) {
        auto it = last_answer_.find(pr.worker_id());
        if (it != last_answer_.end() && it->second.run == pr.worker_run() &&
            it->second.seq == pr.request_seq())
            return it->second.reply;
    }
    apply_releases();
    if (!refresh_version()) {
        ++rejected_;
        return make_error(ctx_.job_id, v1::ERROR_CODE_INTERNAL, failure());
    }
    note_worker_report(pr);
    std::set<int64_t> inflight;
    for (const std::string& id : pr.inflight_prompt_ids())
        if (auto p = prompt_number(id)) inflight.insert(*p);
    queue_again(holders_.report(pr.worker_id(), pr.worker_run(), inflight),
                "worker " + pr.worker_id() + " restarted");
    v1::Envelope out = make_envelope(ctx_.job_id);
    fill_batch(pr, out.mutable_prompt_batch());
    for (const v1::Prompt& p : out.prompt_batch().prompts())
        holders_.handed(pr.worker_id(), *prompt_number(p.prompt_id()));
    if (pr.request_seq() > 0) last_answer_[pr.worker_id()] = {pr.worker_run(), pr.request_seq(), out};
    return out;
}

void PromptDispatcher::fill_batch(const v1::PromptRequest& pr, v1::PromptBatch* batch) {
    const int64_t version = version_;
    const int64_t scheduled = static_cast<int64_t>(opt_.total_steps) * opt_.prompts_per_step;
    int64_t oldest_inflight = version;
    for (const auto& [worker, v] : inflight_oldest_) oldest_inflight = std::min(oldest_inflight, v);
    int64_t cursor = cursor_;
    // A flat group is one the trainer will drop and replace: as AReaL frees the slot of a rejected
    // rollout, it moves the gate as soon as a worker reports it, not only once the trainer pulls it
    // and asks for its replacement (E). E already counts the flat groups the trainer pulled and
    // the replacements it asked for ahead (oversampling), so the larger of the two counts each
    // flat group once. Until the trainer pulled them rollout would idle at the gate, with its
    // next kept groups still missing. Async only: a synchronous trainer pulls and replaces flat
    // groups as they complete, and one it never pulls (its step was full) is dropped as stale, so a
    // replacement for it would be generated for nothing.
    const int64_t extra = std::max<int64_t>(extra_, flat_groups_);
    const int64_t total = scheduled + extra;
    // Another worker may still be lost with prompts: whoever asks stays until nobody holds any.
    const bool all_out = again_.empty() && !holders_.others_hold_any(pr.worker_id());
    if (opt_.dynamic_sampling ? version >= opt_.total_steps : (cursor >= total && all_out)) {
        batch->set_finished(true);
    } else if (version >= 0) {
        int64_t min_version = 0;
        auto add = [&](int64_t p, bool again) {
            v1::Prompt* out = batch->add_prompts();
            *out = prompt_at(p);
            out->set_redispatched(again);
            min_version = std::max<int64_t>(min_version, step_of(p, extra) - opt_.max_lag);
        };
        // AReaL's bound counts from the trainer's version; counting from the oldest group still in
        // flight instead paces rollout so that the trainer cannot run more than max_lag versions
        // ahead of it: a long response admitted under the bound is waited for, never dropped as
        // stale (with a group of version o in flight, at most (o + max_lag + 1) * prompts_per_step
        // prompts exist, so the trainer reaches at most version o + max_lag before it arrives).
        const int64_t open_steps =
            std::min<int64_t>(std::min(version, oldest_inflight) + opt_.max_lag + 1, opt_.total_steps);
        // Prompts handed out before come first (the oldest steps, which the trainer waits on), behind
        // the same gate: a worker must never wait for a version whose step waits on what it holds.
        const auto may_generate = [&](int64_t p) {
            const int64_t step = step_of(p, extra);
            return step < open_steps && (!pr.hold_version() || step - opt_.max_lag <= pr.policy_version());
        };
        const std::vector<int64_t> again = again_.take(pr.max_prompts(), may_generate);
        for (int64_t p : again) add(p, true);
        redispatched_ += static_cast<int64_t>(again.size());
        int64_t limit = std::min(total, open_steps * opt_.prompts_per_step + extra);
        if (pr.hold_version())  // only steps whose min version (step - max_lag) it already holds
            limit = std::min(limit, (pr.policy_version() + opt_.max_lag + 1) * opt_.prompts_per_step + extra);
        const int64_t room = static_cast<int64_t>(pr.max_prompts()) - static_cast<int64_t>(again.size());
        const int64_t take = std::min<int64_t>(room, std::max<int64_t>(0, limit - cursor));
        for (int64_t p = cursor; p < cursor + take; ++p) add(p, false);
        cursor_ = cursor + take;
        if (take > 0 || !again.empty()) {
            auto [it, fresh] = inflight_oldest_.try_emplace(pr.worker_id(), version);
            if (!fresh) it->second = std::min(it->second, version);
        }
        batch->set_min_policy_version(min_version);
    }
    if (batch->prompts_size() == 0 && !batch->finished()) batch->set_retry_after_ms(20);
}

}  // namespace stride
