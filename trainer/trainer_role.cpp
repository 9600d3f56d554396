#include "trainer/trainer_role.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>
#include "buffer/buffer_client.h"
#include "common/base/error.h"
#include "common/messaging.h"
#include "job/evaluate.h"
#include "job/model_files.h"
#include "trainer/advantage.h"
#include "trainer/algorithm.h"
#include "trainer/importance.h"
#include "trainer/quarantine.h"
#include "trainer/reference_policy.h"
#include "trainer/rl_step.h"
#include "trainer/sample_log.h"
#include "trainer/step_log.h"
#include "trainer/trainer_metrics.h"
#include "trainer/trainer_ranks.h"
#include "trainer/vcpo.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Experience to_experience(const v1::Sample& s, long group) {
    Experience e;
    e.group = group;
    e.prompt.assign(s.prompt_token_ids().begin(), s.prompt_token_ids().end());
    e.response.assign(s.response_token_ids().begin(), s.response_token_ids().end());
    e.behaviour_logprob.assign(s.behaviour_logprob().begin(), s.behaviour_logprob().end());
    e.token_version.assign(s.token_version().begin(), s.token_version().end());
    if (e.token_version.size() != e.response.size())
        e.token_version.assign(e.response.size(), s.policy_version());
    e.reward = s.reward();
    e.correct = s.correct();
    e.truncated = s.finish_reason() == v1::FINISH_REASON_LENGTH;
    return e;
}

}  // namespace

RlStepOptions rl_options(const JobConfig& cfg) {
    const TrainerConfig& t = cfg.trainer;
    RlStepOptions o;
    o.divide_adv_by_std = t.norm_adv_by_std;
    o.adv_eps = t.adv_eps;
    o.loss.clip_low = static_cast<float>(t.clip_low);
    o.loss.clip_high = static_cast<float>(t.clip_high);
    o.loss.agg = loss_agg_from_name(t.loss_agg);
    o.loss.l_norm = static_cast<float>(cfg.rollout.max_tokens);
    o.entropy_coef = t.entropy_coef;
    o.behaviour_is.mode = is_correction_from_name(t.is_correction);
    o.behaviour_is.cap = t.is_cap;
    o.behaviour_is.low = t.is_low;
    o.behaviour_is.level = is_level_from_name(t.is_level);
    o.mpt_mask = t.mpt_mask;
    o.mpt.prob_threshold = t.mpt_prob;
    o.mpt.entropy_target = t.mpt_entropy;
    o.ess_lr = ess_lr_scaling_from_name(t.ess_lr);
    o.temperature = static_cast<float>(t.temperature > 0 ? t.temperature : cfg.rollout.temperature);
    if (o.temperature <= 0) o.temperature = 1.0f;
    o.micro_batch_tokens = t.micro_batch_tokens;
    o.grad_clip = static_cast<float>(t.grad_clip);
    o.dynamic_sampling = t.dynamic_sampling;
    o.overlong_filter = t.overlong_filter;
    o.ppo_epochs = t.ppo_epochs;
    o.mini_batches = t.mini_batches;
    o.kl_coef = t.kl_coef;
    o.kl_type = kl_type_from_name(t.kl_type);
    // The algorithm's row picks the advantage estimator and the policy loss; its presets (applied at
    // load) already set the knobs it implies (dapo: clip-higher + dynamic sampling, gspo: tiny clip
    // range, vcpo: the OPOB baseline, the ESS-scaled lr and sequence TIS).
    const Algorithm& algo = algorithm_named(t.algorithm);
    o.advantage = algo.advantage;
    o.policy_loss = algo.policy_loss;
    o.kl_in_reward = t.kl_in_reward || algo.kl_in_reward;
    // No dual clip on a sequence ratio (verl).
    o.loss.dual_clip = algo.policy_loss == PolicyLossKind::gspo ? 0.0f : static_cast<float>(t.dual_clip);
    if (t.opob) {  // VCPO's baseline in place of the group mean; its std division follows GRPO's
        o.advantage = AdvantageKind::opob;
        o.opob_norm_by_std = t.norm_adv_by_std;
    }
    o.gamma = t.gamma;
    o.lam = t.lam;
    o.vf_clip = t.vf_clip;
    o.vf_coef = t.vf_coef;
    return o;
}

namespace {

CriticOptions critic_options(const TrainerConfig& t, const AdamWConfig& policy_adam) {
    CriticOptions c;
    c.kind = critic_kind_from_name(t.critic);
    c.adam = policy_adam;
    c.adam.lr = static_cast<float>(t.critic_lr > 0 ? t.critic_lr : 10 * t.lr);
    return c;
}

// DAPO dynamic sampling keeps a group iff its correctness varies (or it has one member).
int kept_groups(const v1::Batch& batch) {
    std::vector<double> acc;
    std::vector<long> group_of;
    long g = 0;
    for (const v1::Group& group : batch.groups()) {
        for (const v1::Sample& s : group.samples()) {
            acc.push_back(s.correct() ? 1.0 : 0.0);
            group_of.push_back(g);
        }
        ++g;
    }
    return dynamic_sampling_filter(acc, group_of).kept_groups;
}

}  // namespace

LrSchedule lr_schedule_of(const TrainerConfig& tc) {
    LrSchedule sched;
    sched.type = lr_schedule_from_name(tc.lr_schedule == "linear" ? "linear_warmup" : tc.lr_schedule);
    sched.base_lr = static_cast<float>(tc.lr);
    sched.warmup_steps = tc.warmup_steps;
    sched.total_steps = tc.steps;
    return sched;
}

namespace {

// The samples of the step's groups in the order of the group ids, not of arrival: which group's last
// reward came back first changes the buffer's order from run to run, and the float sums of the update
// follow the order of the tokens. So a synchronous run reproduces itself exactly for a seed.
std::vector<Experience> experiences_by_group_id(const std::vector<v1::Batch>& batches,
                                                size_t& prompt_tokens) {
    std::vector<const v1::Group*> ordered;
    for (const v1::Batch& batch : batches)
        for (const v1::Group& group : batch.groups()) ordered.push_back(&group);
    std::sort(ordered.begin(), ordered.end(),
              [](const v1::Group* a, const v1::Group* b) { return a->group_id() < b->group_id(); });
    std::vector<Experience> exps;
    long g = 0;
    for (const v1::Group* group : ordered) {
        for (const v1::Sample& s : group->samples()) {
            exps.push_back(to_experience(s, g));
            prompt_tokens += s.prompt_token_ids_size();
        }
        ++g;
    }
    return exps;
}

// Reward statuses of the step's samples; the detail of the last failed one.
RewardCounts reward_counts(const std::vector<v1::Batch>& batches) {
    RewardCounts c;
    for (const v1::Batch& batch : batches)
        for (const v1::Group& group : batch.groups())
            for (const v1::Sample& s : group.samples()) {
                switch (s.reward_status()) {
                    case v1::REWARD_STATUS_ERROR:
                        ++c.error;
                        break;
                    case v1::REWARD_STATUS_TIMEOUT:
                        ++c.timeout;
                        break;
                    case v1::REWARD_STATUS_UNPARSEABLE:
                        ++c.unparseable;
                        break;
                    default:
                        ++c.ok;
                        break;
                }
                if (s.reward_status() == v1::REWARD_STATUS_ERROR ||
                    s.reward_status() == v1::REWARD_STATUS_TIMEOUT) {
                    c.last_detail = s.reward_detail();
                    c.last_prompt_id = s.prompt_id();
                }
            }
    return c;
}

// A greedy eval and the policy version it measured.
struct StepEval {
    double accuracy = -1;
    int64_t policy_version = -1;
};

// The step's line of metrics.jsonl.
nlohmann::json step_line(const JobState& state, StepMetrics& m, size_t prompt_tokens, double step_s,
                         double wait_s, const StepEval* eval) {
    nlohmann::json line;
    line["step"] = state.step;
    line["policy_version"] = state.policy_version;
    for (const auto& [k, v] : m) line[k] = v;
    line["tokens_per_s"] = (m["response_tokens"] + prompt_tokens) / std::max(step_s, 1e-9);
    line["time/step_s"] = step_s;
    line["time/wait_s"] = wait_s;
    if (eval) {
        line["eval/accuracy"] = eval->accuracy;
        line["eval/policy_version"] = eval->policy_version;
    }
    return line;
}

}  // namespace

std::string progress_fields(const TrainerProgress& p) {
    std::string f = fmt::format("reward {:.3f}", p.reward_mean);
    // Samples the reward did not score, only when there are any.
    if (p.reward_errors > 0 || p.reward_timeouts > 0)
        f += fmt::format(" (reward errors {}, timeouts {})", p.reward_errors, p.reward_timeouts);
    if (p.eval_accuracy >= 0) f += fmt::format(" eval {:.3f}", p.eval_accuracy);
    return f + fmt::format(" step {:.2f}s", p.step_s);
}

namespace {

// The greedy eval of eval/accuracy; keep_samples generations kept for samples.jsonl.
EvalResult greedy_eval(const JobContext& ctx, const Model& model, int keep_samples) {
    EvalOptions eo;
    eo.temperature = 0.0f;
    eo.max_tokens = ctx.cfg.rollout.max_tokens;
    eo.stop_tokens = ctx.stop_tokens;
    eo.keep_samples = keep_samples;
    return evaluate(model, ctx.tokenizer, *ctx.reward, ctx.eval, eo);
}

}  // namespace

double eval_accuracy(const JobContext& ctx, const Model& model) {
    return greedy_eval(ctx, model, 0).accuracy;
}

TrainerRole::TrainerRole(const JobContext& ctx, Model model, JobState state, std::unique_ptr<AdamW> adam,
                         const std::string& buffer_endpoint, const std::string& weights_endpoint)
    : ctx_(ctx),
      model_(std::move(model)),
      state_(state),
      adam_(std::move(adam)),
      buffer_endpoint_(buffer_endpoint),
      // weights.transport: zmq keeps the bytes off the memory file (chunks only).
      publisher_(ctx.job_id, weights_endpoint, 8u << 20, ctx.cfg.weights.transport != "zmq", ctx.curve),
      extra_prompts_(ctx.job_id, ctx.cfg.deadlines.dispatcher_s, ctx.curve) {
    const ModelConfig mc = model_.config();
    limits_.sample.vocab_size = mc.vocab;
    limits_.sample.max_position = mc.max_position;
    limits_.sample.group_size = static_cast<uint32_t>(ctx.cfg.rollout.n);
    publish();
}

WeightBlob weight_blob_of(const Model& model, int64_t version) {
    WeightBlob blob;
    blob.version = version;
    blob.bytes.resize(model.data.size() * sizeof(float));
    std::memcpy(blob.bytes.data(), model.data.data(), blob.bytes.size());
    for (const ParamSpec& s : model.layout.specs()) {
        v1::TensorInfo t;
        t.set_name(s.name);
        t.set_dtype("F32");
        for (int64_t d : s.shape) t.add_shape(d);
        t.set_byte_offset(s.offset * sizeof(float));
        t.set_byte_size(s.numel * sizeof(float));
        blob.tensors.push_back(std::move(t));
    }
    return blob;
}

void TrainerRole::publish(const float* device_master) {
    const auto t_publish = Clock::now();
    WeightBlob blob = weight_blob_of(model_, state_.policy_version);
    const uint32_t tensors = static_cast<uint32_t>(blob.tensors.size());
    // The group is made current first, so that the announcement names the generation that broadcasts.
    // Its buckets are converted to bf16 from the fp32 master on the GPU, so only a version that has one
    // goes over NCCL (all but the starting version, published before the group exists).
    blob.nccl_generation = group_ && device_master ? group_->prepare() : -1;
    const bool over_nccl = blob.nccl_generation >= 0;
    published_crc32c_ = publisher_.publish(std::move(blob));
    if (over_nccl) {  // false when it gave up: logged, counted, and the workers fetch over ZeroMQ
        // The CRC of the wire image from the host copy: the same bits as the device master.
        const size_t n = model_.data.size();
        group_->send(state_.policy_version, device_master, n, bf16_wire_crc32c(model_.data.data(), n),
                     tensors);
    }
    record_weights_published(ctx_.job_id, model_.data.size() * sizeof(float),
                             std::chrono::duration<double>(Clock::now() - t_publish).count(),
                             state_.policy_version);
}

// The groups of one step and what pulling them took.
struct TrainerRole::StepBatches {
    std::vector<v1::Batch> batches;
    int kept = 0, pulled = 0;
    int rounds = 0;             // batches' worth of groups generated for the step
    int64_t extra_prompts = 0;  // replacements asked for so far in the job, this step's included
    double wait_s = 0;
    bool gave_up = false;  // fewer than prompts_per_step groups kept within trainer.max_gen_batches
};

// Groups of this step. With dynamic sampling the trainer pulls groups as they complete (partial
// pulls) and asks the dispatcher (ExtraPrompts on its socket) for replacements of the flat ones at
// once, so they are generated while the rest of the step's groups still are: waiting for a whole
// round first left rollout idle at the end of every round. How many: see dynamic_sampling_requests
// (with trainer.oversample, at the job's keep rate so far). It stops when it holds prompts_per_step
// groups with varying correctness, or when max_gen_batches * prompts_per_step groups were generated
// for the step (then it trains on what it has). The step gets every group; RlTrainer drops the flat
// ones. (state_.extra_prompts takes the new count only once the step is done, so that a checkpoint
// written after a stop mid-step describes the last finished step.)
TrainerRole::StepBatches TrainerRole::pull_step(BufferClient& buffer, TrainerMetrics& prometheus,
                                                bool dynamic_sampling, const std::atomic<bool>& stop) {
    const TrainerConfig& tc = ctx_.cfg.trainer;
    const auto t_wait = Clock::now();
    auto t_round = t_wait;
    StepBatches s;
    const int pps = tc.prompts_per_step;
    const int64_t cap = tc.max_gen_batches > 0 ? static_cast<int64_t>(tc.max_gen_batches) * pps : -1;
    int64_t requested = pps;  // groups generated for this step so far (its prompts + replacements)
    int64_t extra = state_.extra_prompts;
    while (!stop && s.pulled < requested) {
        extra_prompts_.announce(extra);  // a no-op once acknowledged; else a retry
        extra_prompts_.send_resumed();   // the same for prompts a resume sent back
        // At most the groups still missing, so a step never holds more than prompts_per_step kept
        // ones; what oversampling asked for beyond that stays in the buffer for later steps.
        const auto want = static_cast<uint32_t>(std::min<int64_t>(requested - s.pulled, pps - s.kept));
        v1::Batch batch = buffer.pull_wait(want, state_.policy_version, 500,
                                           /*allow_partial=*/dynamic_sampling);
        if (batch.batch_id() == 0) continue;
        prometheus.batch_pulled(batch, state_.policy_version,
                                std::chrono::duration<double>(Clock::now() - t_round).count());
        t_round = Clock::now();
        const int n = batch.groups_size(), k = dynamic_sampling ? kept_groups(batch) : n;
        s.pulled += n;
        s.kept += k;
        s.batches.push_back(std::move(batch));
        if (s.kept >= pps) break;
        const double keep_rate = static_cast<double>(ds_kept_ + s.kept) / std::max(1L, ds_pulled_ + s.pulled);
        int64_t more =
            dynamic_sampling_requests(pps - s.kept, requested - s.pulled, n - k, keep_rate, tc.oversample);
        if (cap >= 0) more = std::min(more, cap - requested);  // within the step's cap
        if (more > 0) {
            requested += more;
            extra += more;
            extra_prompts_.announce(extra);
        }
    }
    s.rounds = (s.pulled + pps - 1) / pps;
    ds_kept_ += s.kept, ds_pulled_ += s.pulled;
    s.extra_prompts = extra;
    s.wait_s = std::chrono::duration<double>(Clock::now() - t_wait).count();
    s.gave_up = s.kept < pps;
    return s;
}

void TrainerRole::prepare(RlTrainer& rl, const RlStepOptions& opt) {
    const TrainerConfig& tc = ctx_.cfg.trainer;
    if (opt.advantage == AdvantageKind::gae) {
        // A separate critic starts from the policy's weights at a fresh start; a resumed job reads
        // both the head and the critic's trunk from the checkpoint it resumed from.
        rl.enable_critic(critic_options(tc, adam_->config()));
        if (!state_.loaded_from.empty()) rl.critic()->load(state_.loaded_from + "/critic");
    }
    if (opt.kl_coef > 0 && (!state_.loaded_from.empty() || !tc.ref_model.empty())) {
        // The weights in memory are the resumed ones: rebuild the job's original reference instead.
        Model ref(model_.config());
        load_reference_policy(ctx_, ref);
        rl.set_reference(ref);
    }
}

void TrainerRole::save_checkpoint(RlTrainer& rl, BufferClient& buffer, bool tell_buffer) {
    *adam_ = rl.optimizer();  // from the device (model_.data already holds the step's weights)
    // The tokenizer and configs beside the weights make model/ usable alone (HF, vLLM, stride generate).
    const std::function<void(const std::string&)> extra = [&](const std::string& d) {
        copy_model_side_files(ctx_.cfg, d + "/model");
        if (rl.critic()) rl.critic()->save(d + "/critic");
    };
    const std::string dir = save_job_checkpoint(ctx_.run_path(), model_, *adam_, state_, extra,
                                                ctx_.cfg.trainer.keep_checkpoints);
    spdlog::info("checkpoint {}", dir);
    if (state_.step == 0 || !tell_buffer) return;
    // Only now are the batches of the steps it covers done for good. If the buffer does not hear it
    // (it died, we are stopping), the next resume, from this very checkpoint, tells it again.
    try {
        buffer.checkpoint_durable(state_.step);
    } catch (const std::exception& e) {
        spdlog::warn("checkpoint {}: the buffer was not told (the next resume tells it): {}", dir, e.what());
    }
}

void TrainerRole::stop_for_dead_peer(RlTrainer& rl, BufferClient& buffer, const PeerUnreachable& e,
                                     bool mid_step) {
    if (mid_step)
        throw PeerUnreachable(
            e.peer(),
            fmt::format("trainer: {}; step {} was trained but not committed, so it is not "
                        "checkpointed: a resume starts from the last checkpoint and trains it again",
                        e.what(), state_.step + 1));
    // The buffer (when it is the one that died) is not told: the next resume tells it.
    save_checkpoint(rl, buffer, /*tell_buffer=*/e.peer() != "buffer");
    throw PeerUnreachable(
        e.peer(), fmt::format("trainer: {}; stopped with the checkpoint of step {}", e.what(), state_.step));
}

void TrainerRole::start_over_from_state(BufferClient& buffer, const std::string& jsonl) {
    if (state_.loaded_from.empty() && !restarted_) {
        buffer.release_leases("trainer started");  // anything leased by a previous trainer is replayed
    } else {
        // Batches trained after the checkpoint are served again, data of discarded versions dropped.
        const std::string from =
            state_.loaded_from.empty() ? "the start (no checkpoint yet)" : state_.loaded_from;
        const v1::ReleaseLeasesAck ack =
            buffer.resume("trainer resumed from " + from, state_.step, state_.policy_version);
        spdlog::info(
            "resumed at step {}: the buffer serves again {} groups trained after it, dropped {} groups and "
            "{} in-flight groups holding versions above {}",
            state_.step, ack.groups_replayed(), ack.groups_discarded(), ack.partials_trimmed(),
            state_.policy_version);
        // Their prompts may lie before the dispatcher's cursor: have them handed out again. Sent even
        // when empty: the launcher waits for it before it starts rollout workers again.
        extra_prompts_.resumed({ack.redispatch_prompt_ids().begin(), ack.redispatch_prompt_ids().end()});
        extra_prompts_.send_resumed();
    }
    // Lines of steps after the checkpoint were logged by a policy the resume discarded.
    for (const std::string& path : {jsonl, trained_log_path(), sample_log_path()}) {
        const int64_t removed = truncate_step_log(path, state_.step);
        if (removed > 0)
            spdlog::info("{}: removed the {} lines of steps after {} (trained again now)", path, removed,
                         state_.step);
    }
    // What the steps kept trained, from where the checkpoint knew nothing below was left untrained.
    trained_prompts_ = TrainedPrompts(state_.loaded_from.empty() ? 0 : state_.resume_prompt());
    add_trained_log(trained_log_path(), trained_prompts_);
    state_.first_untrained_prompt = trained_prompts_.first_untrained();
}

std::string TrainerRole::trained_log_path() const {
    return ctx_.run_path() + "/trained.jsonl";
}

std::string TrainerRole::sample_log_path() const {
    return ctx_.run_path() + "/samples.jsonl";
}

StepMetrics TrainerRole::train_step(RlTrainer& rl, const RlStepOptions& opt,
                                    const std::vector<Experience>& exps, std::vector<v1::Batch>& training,
                                    int& quarantined) {
    if (exps.empty()) return {{"skipped_step", 1.0}};  // every group quarantined
    try {
        if (ranks_) ranks_->announce_step(exps, state_.policy_version);
        return rl.step(exps, opt, state_.policy_version);
    } catch (const CollectiveError&) {
        throw;  // a trainer rank died or hangs: not the batch's fault; the job's trainer restart handles it
    } catch (const Error& e) {
        // Raised while the step builds and scores its batch (before any update): the batch is bad,
        // not the trainer. Its groups are kept aside and the step is skipped.
        quarantined += quarantine_all(training, ctx_.run_path(), state_.step + 1, e.what());
        return {{"skipped_step", 1.0}};
    }
}

bool TrainerRole::reward_health(const RewardCounts& step, StepMetrics& m) {
    m["reward/ok"] = static_cast<double>(step.ok);
    m["reward/errors"] = static_cast<double>(step.error);
    m["reward/timeouts"] = static_cast<double>(step.timeout);
    m["reward/unparseable"] = static_cast<double>(step.unparseable);
    m["reward/error_frac"] = static_cast<double>(step.failed()) / std::max<int64_t>(1, step.samples());
    reward_totals_.ok += step.ok;
    reward_totals_.error += step.error;
    reward_totals_.timeout += step.timeout;
    reward_totals_.unparseable += step.unparseable;
    if (step.failed() > 0) {
        reward_totals_.last_detail = step.last_detail;
        reward_totals_.last_prompt_id = step.last_prompt_id;
    }
    reward_window_.push_back(step);
    if (static_cast<int>(reward_window_.size()) > kRewardWindowSteps) reward_window_.pop_front();
    int64_t failed = 0, samples = 0;
    for (const RewardCounts& c : reward_window_) failed += c.failed(), samples += c.samples();
    return samples > 0 && static_cast<double>(failed) / samples > ctx_.cfg.reward.max_error_frac;
}

void TrainerRole::run(const std::atomic<bool>& stop,
                      const std::function<void(const TrainerProgress&)>& on_step) {
    const JobConfig& cfg = ctx_.cfg;
    const TrainerConfig& tc = cfg.trainer;
    ZmqContext zctx(ctx_.curve);
    // deadlines.buffer_s bounds every call; stop cuts retries short.
    BufferClient buffer(zctx, buffer_endpoint_, ctx_.job_id, buffer_client_options(cfg.deadlines, &stop));
    extra_prompts_.set_stop(&stop);
    const std::string jsonl =
        cfg.metrics.jsonl.empty() ? ctx_.run_path() + "/metrics.jsonl" : cfg.metrics.jsonl;
    start_over_from_state(buffer, jsonl);

    // On trainer.device (checked at load); the optimiser state lives in adam_ on the host between
    // checkpoints and is copied onto the device here.
    RlTrainer rl(model_, adam_->config(), lr_schedule_of(tc), backend_for_device(trainer_device(cfg)));
    rl.optimizer() = *adam_;
    const RlStepOptions opt = rl_options(cfg);
    prepare(rl, opt);
    if (ranks_) {
        rl.set_rank_comms(ranks_->comms());
        ranks_->share_start(model_, *adam_, rl.reference());
        spdlog::info("trainer: {} data-parallel ranks", ranks_->size());
    }

    std::ofstream metrics(jsonl, std::ios::app);
    STRIDE_CHECK(metrics.good(), "metrics.jsonl: cannot open " + jsonl);
    std::ofstream trained(trained_log_path(), std::ios::app);
    STRIDE_CHECK(trained.good(), "trained.jsonl: cannot open " + trained_log_path());
    TrainerMetrics prometheus(ctx_.job_id);  // the same numbers for /metrics
    SampleLog sample_log(sample_log_path(), cfg.log, ctx_.tokenizer, ctx_.stop_tokens);

    const int64_t first_step = state_.step;
    // From the step's update until its commit is through and the state counts it: a checkpoint now
    // would hold the new weights under the old step.
    bool mid_step = false;
    try {
        while (state_.step < tc.steps && !stop) {
            StepBatches pulled = pull_step(buffer, prometheus, opt.dynamic_sampling, stop);
            if (stop) break;  // leases of a partial step are released when the next trainer starts
            idle_s_ += pulled.wait_s;
            if (pulled.gave_up)
                spdlog::warn(
                    "step {}: dynamic sampling kept {} of {} groups after {} rounds "
                    "(trainer.max_gen_batches)",
                    state_.step + 1, pulled.kept, tc.prompts_per_step, pulled.rounds);

            const auto t0 = Clock::now();
            // A group the model cannot take is kept aside (quarantine.h), not fatal; it is committed with
            // the others below, so it never comes back once the step's checkpoint lands.
            std::vector<v1::Batch> training = pulled.batches;
            int quarantined = quarantine_bad_groups(training, limits_, ctx_.run_path(), state_.step + 1);
            size_t prompt_tokens = 0;
            const std::vector<Experience> exps = experiences_by_group_id(training, prompt_tokens);
            const bool first = state_.step == first_step;
            const bool last = state_.step + 1 == tc.steps;
            const bool eval_now =
                !ctx_.eval.empty() &&
                (first || last || (tc.eval_every > 0 && (state_.step + 1) % tc.eval_every == 0));
            // The first step evaluates the policy it starts from (so the gain over the run reads off
            // metrics.jsonl); later evals are of the weights the step produced. eval/policy_version says
            // which.
            StepEval eval;
            // The eval of the weights in model_ now, logged with step `at` (its generations in
            // samples.jsonl).
            auto run_eval = [&](int64_t at) {
                const EvalResult r = greedy_eval(ctx_, model_, sample_log.eval_samples());
                sample_log.write_eval(at, state_.policy_version, r.samples);
                return StepEval{r.accuracy, state_.policy_version};
            };
            if (eval_now && first) eval = run_eval(state_.step + 1);
            mid_step = true;
            StepMetrics m = train_step(rl, opt, exps, training, quarantined);
            m["dynamic_sampling/rounds"] = pulled.rounds;
            m["dynamic_sampling/gave_up"] = pulled.gave_up ? 1.0 : 0.0;
            m["quarantined_groups"] = quarantined;
            quarantined_ += quarantined;
            const RewardCounts step_rewards = reward_counts(training);
            const bool unhealthy = reward_health(step_rewards, m);
            // Kept by the buffer as trained by this step until a checkpoint covers it (save_checkpoint).
            for (const v1::Batch& batch : pulled.batches) buffer.commit(batch.batch_id(), state_.step + 1);
            const int64_t trained_version = state_.policy_version;
            StepWeights weights{.policy_crc32c = published_crc32c_};
            state_.step += 1;
            state_.policy_version += 1;
            state_.extra_prompts = pulled.extra_prompts;
            state_.prompts_dispatched = state_.step * tc.prompts_per_step + state_.extra_prompts;
            for (const v1::Batch& batch : pulled.batches)  // trained or quarantined: done once checkpointed
                for (const v1::Group& g : batch.groups()) trained_prompts_.add(g.group_id());
            state_.first_untrained_prompt = trained_prompts_.first_untrained();
            mid_step = false;
            const int64_t published_ms = unix_ms_now();  // before: no worker can hold the version earlier
            if (slot_ && rl.device_weights()) slot_->put(state_.policy_version, rl.device_weights());
            publish(rl.device_weights());
            weights.published_crc32c = published_crc32c_;
            trained << trained_line(state_.step, trained_version, published_ms, weights, training,
                                    pulled.batches)
                    << "\n";
            trained.flush();
            const double step_s = std::chrono::duration<double>(Clock::now() - t0).count();
            busy_s_ += step_s;
            state_.rl_seconds += step_s + pulled.wait_s;

            sample_log.write_step(state_.step, training);
            if (eval_now && !first) eval = run_eval(state_.step);
            const nlohmann::json line =
                step_line(state_, m, prompt_tokens, step_s, pulled.wait_s, eval_now ? &eval : nullptr);
            metrics << line.dump() << "\n";
            metrics.flush();
            prometheus.step_logged(line);
            if (on_step)
                on_step({state_.step, tc.steps, m["reward/mean"], eval_now ? eval.accuracy : -1,
                         line["tokens_per_s"], step_s, step_rewards.error, step_rewards.timeout,
                         static_cast<int64_t>(m["response_tokens"]) + static_cast<int64_t>(prompt_tokens)});
            if (unhealthy) {
                int64_t failed = 0, samples = 0;
                for (const RewardCounts& c : reward_window_) failed += c.failed(), samples += c.samples();
                save_checkpoint(rl, buffer);
                throw Error(fmt::format(
                    "reward: {} of the {} samples trained on in the last {} step(s) got no score (reward "
                    "error "
                    "or timeout), more than reward.max_error_frac={}; stopped at step {} with a checkpoint. "
                    "Latest reward error (prompt {}): {}",
                    failed, samples, reward_window_.size(), cfg.reward.max_error_frac, state_.step,
                    reward_totals_.last_prompt_id, reward_totals_.last_detail));
            }
            if (tc.checkpoint_every > 0 && state_.step % tc.checkpoint_every == 0 && !last)
                save_checkpoint(rl, buffer);
        }
    } catch (const PeerUnreachable& e) {
        stop_for_dead_peer(rl, buffer, e, mid_step);
    }
    save_checkpoint(rl, buffer);
    if (ranks_) {
        try {
            ranks_->announce_stop();
        } catch (const CollectiveError& e) {  // a rank already gone (stopped with the job): done anyway
            spdlog::warn("trainer: the other ranks were not told the job ended: {}", e.what());
        }
    }
}

}  // namespace stride
