#include "rollout/rollout_worker.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "buffer/buffer_client.h"
#include "common/base/error.h"
#include "common/messaging.h"
#include "common/weight_sync.h"
#include "model/generator.h"
#include "rollout/rollout_metrics.h"
#include "trainer/evaluate.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void add_seconds(std::atomic<double>& a, double s) {
    double cur = a.load();
    while (!a.compare_exchange_weak(cur, cur + s)) {
    }
}

// A group in flight: its prompt and the samples finished so far.
struct PendingGroup {
    v1::Prompt prompt;
    int64_t version = 0;
    Clock::time_point started;
    std::vector<v1::Sample> done;
};

}  // namespace

RolloutWorker::RolloutWorker(const JobContext& ctx, std::string worker_id, RolloutEndpoints endpoints)
    : ctx_(ctx), id_(std::move(worker_id)), ep_(std::move(endpoints)) {}

void RolloutWorker::run(const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx_.cfg;
    ZmqContext zctx;
    RequestClient scheduler(zctx, ep_.scheduler, ctx_.job_id);
    BufferClient buffer(zctx, ep_.buffer, ctx_.job_id);
    WeightSubscriber weights(ctx_.job_id, ep_.weights);
    RolloutMetrics metrics(ctx_.job_id, id_);  // Prometheus series of this worker

    Model model(ctx_.model_config());
    WeightBlob blob;
    int64_t version = -1;
    // Copies a fetched version into the engine's weights. Only called between generator steps, so a
    // version switch is atomic for the decoder; in-flight sequences either keep their KV (stale
    // prefix) or recompute it under the new weights at their next step.
    Generator* gen_ptr = nullptr;
    auto adopt = [&] {
        STRIDE_CHECK(blob.bytes.size() == model.data.size() * sizeof(float),
                     "rollout " + id_ + ": weight blob of " + std::to_string(blob.bytes.size()) +
                         " bytes does not match the model (" + std::to_string(model.data.size() * 4) + ")");
        std::memcpy(model.data.data(), blob.bytes.data(), blob.bytes.size());
        version = blob.version;
        ++stats_.weight_updates;
        metrics.weights_loaded(version);
        if (gen_ptr) {
            if (cfg.rollout.kv_on_update == "recompute") gen_ptr->drop_kv();
            gen_ptr->set_policy_version(version);
        }
    };
    auto load_weights = [&](int64_t at_least) {
        // Blocks until the publisher holds a version >= at_least (or stop).
        while (!stop && version < at_least) {
            if (weights.fetch_if_newer(version, 5000, blob, &metrics.fetch)) adopt();
            else if (version < at_least) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    };
    load_weights(0);

    GeneratorOptions go;
    go.max_running = cfg.rollout.max_batch_seqs;
    go.max_batch_tokens = std::max(2048, go.max_running);
    go.block_size = cfg.rollout.block_size;
    if (cfg.rollout.kv_blocks > 0) go.kv_blocks = cfg.rollout.kv_blocks;
    Generator gen(model, go);
    gen.set_policy_version(version);
    gen_ptr = &gen;
    const bool async = cfg.rollout.mode == "async";
    auto last_poll = Clock::now();

    std::map<uint64_t, PendingGroup> pending;  // by request id
    uint64_t next_request = 0;
    bool finished = false;
    const int n = cfg.rollout.n;
    while (!stop) {
        // Ask for prompts while the engine has room for another group of n sequences.
        if (!finished && gen.num_waiting() == 0 && gen.num_running() + n <= go.max_running) {
            const uint32_t room = static_cast<uint32_t>((go.max_running - gen.num_running()) / n);
            v1::Envelope req = make_envelope(ctx_.job_id);
            req.mutable_prompt_request()->set_worker_id(id_);
            req.mutable_prompt_request()->set_max_prompts(room);
            req.mutable_prompt_request()->set_policy_version(version);
            auto reply = scheduler.call(req, 5000);
            if (reply && reply->has_prompt_batch()) {
                const v1::PromptBatch& pb = reply->prompt_batch();
                finished = pb.finished();
                metrics.prompts_received(pb.prompts_size());
                if (pb.prompts_size() > 0) {
                    // Sync: weights switch only when nothing is in flight. Async: the gate may
                    // require a newer version than this worker holds; fetch it before generating.
                    if (pending.empty() || async) load_weights(pb.min_policy_version());
                    for (const v1::Prompt& p : pb.prompts()) {
                        GenerationRequest r;
                        r.id = next_request++;
                        r.prompt.assign(p.token_ids().begin(), p.token_ids().end());
                        r.max_new_tokens = cfg.rollout.max_tokens;
                        r.stop_tokens = ctx_.stop_tokens;
                        r.sampling.temperature = static_cast<float>(cfg.rollout.temperature);
                        r.sampling.top_p = static_cast<float>(cfg.rollout.top_p);
                        r.sampling.top_k = std::max(0, cfg.rollout.top_k);
                        // Seeded by (job seed, prompt number): reruns of a job draw the same samples.
                        r.sampling.seed = static_cast<uint64_t>(cfg.seed) * 0x9E3779B97F4A7C15ull +
                                          std::hash<std::string>{}(p.prompt_id());
                        r.n = n;
                        gen.add(r);
                        pending[r.id] = PendingGroup{p, version, Clock::now(), {}};
                    }
                }
            } else if (reply && reply->has_error()) {
                throw Error("rollout " + id_ + ": scheduler refused: " + reply->error().message());
            }
        }
        if (gen.done()) {
            if (finished && pending.empty()) break;
            const auto t0 = Clock::now();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            add_seconds(stats_.idle_s, seconds_since(t0));
            continue;
        }
        // Async: pick up a new version between steps, without draining (interruptible generation).
        if (async && Clock::now() - last_poll > std::chrono::milliseconds(20)) {
            last_poll = Clock::now();
            if (weights.fetch_if_newer(version, 1000, blob, &metrics.fetch)) adopt();
        }
        const auto t0 = Clock::now();
        std::vector<GeneratedSequence> out = gen.step();
        metrics.engine_stepped(gen);
        for (GeneratedSequence& s : out) {
            PendingGroup& g = pending.at(s.request_id);
            const auto rt0 = Clock::now();
            RewardInput in;
            in.prompt = g.prompt.text();
            in.response = response_text(ctx_.tokenizer, s.tokens, ctx_.stop_tokens);
            in.answer = g.prompt.label();
            in.response_tokens = static_cast<int>(s.tokens.size());
            in.truncated = s.reason == FinishReason::length;
            RewardResult rr = ctx_.reward->score(in);
            metrics.reward_scored(rr.status, seconds_since(rt0));

            v1::Sample smp;
            smp.set_sample_id(g.prompt.group_id() + "/" + std::to_string(s.sample_index));
            smp.set_prompt_id(g.prompt.prompt_id());
            smp.set_group_id(g.prompt.group_id());
            smp.set_index_in_group(s.sample_index);
            smp.set_group_size(n);
            *smp.mutable_prompt_token_ids() = g.prompt.token_ids();
            smp.mutable_response_token_ids()->Add(s.tokens.begin(), s.tokens.end());
            smp.mutable_behaviour_logprob()->Add(s.logprobs.begin(), s.logprobs.end());
            smp.mutable_token_version()->Add(s.versions.begin(), s.versions.end());
            smp.set_policy_version(s.versions.empty() ? g.version : s.versions.front());
            smp.set_finish_reason(s.reason == FinishReason::stop ? v1::FINISH_REASON_STOP : v1::FINISH_REASON_LENGTH);
            smp.set_reward(static_cast<float>(rr.score));
            static const v1::RewardStatus kStatus[] = {v1::REWARD_STATUS_OK, v1::REWARD_STATUS_ERROR,
                                                       v1::REWARD_STATUS_TIMEOUT, v1::REWARD_STATUS_UNPARSEABLE};
            smp.set_reward_status(kStatus[static_cast<int>(rr.status)]);
            smp.set_reward_detail(rr.detail);
            smp.mutable_timing()->set_generate_ms(std::chrono::duration<double, std::milli>(rt0 - g.started).count());
            smp.mutable_timing()->set_reward_ms(std::chrono::duration<double, std::milli>(Clock::now() - rt0).count());
            smp.set_rollout_worker_id(id_);
            smp.set_segment_count(1);
            smp.add_segment_starts(0);
            smp.set_label(g.prompt.label());
            (*smp.mutable_metadata())["correct"] = rr.correct ? "1" : "0";
            stats_.tokens += static_cast<int64_t>(s.tokens.size());
            ++stats_.samples;
            metrics.sample_finished(std::chrono::duration<double>(rt0 - g.started).count(), s.tokens.size());
            g.done.push_back(std::move(smp));
            if (static_cast<int>(g.done.size()) == n) {
                buffer.put(g.done);  // returns once the whole group is durable
                ++stats_.groups;
                metrics.group_put();
                pending.erase(s.request_id);
            }
        }
        add_seconds(stats_.busy_s, seconds_since(t0));
        metrics.busy(seconds_since(t0));
    }
}

}  // namespace stride
