#include "trainer/rl_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "common/base/error.h"
#include "trainer/advantage.h"
#include "trainer/gae.h"
#include "trainer/token_split.h"

namespace stride {

RlTrainer::RlTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule,
                     const Backend& backend)
    : model_(model),
      policy_(model, adam, backend),
      engine_(policy_.engine()),
      adam_(policy_.optimizer()),
      schedule_(schedule) {}

RlTrainer::~RlTrainer() = default;

void RlTrainer::set_reference(const Model& reference) {
    STRIDE_CHECK(reference.data.size() == model_.data.size(),
                 "rl step: the reference model has another layout");
    ref_engine_.reset();  // it points into the previous reference
    ref_model_ = std::make_unique<Model>(reference);
    ref_engine_ = std::make_unique<Transformer>(*ref_model_, policy_.backend());
}

void RlTrainer::enable_critic(const CriticOptions& opt) {
    critic_ = std::make_unique<Critic>(model_, opt, policy_.backend());
}

namespace {

// Consecutive samples of `order` whose prompt+response tokens fit one micro-batch (at least one
// sample each), as [begin, end) ranges into `order`.
std::vector<std::pair<size_t, size_t>> micro_batches(const std::vector<Experience>& batch,
                                                     const std::vector<size_t>& order, int budget) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t begin = 0, tokens = 0;
    for (size_t k = 0; k < order.size(); ++k) {
        const Experience& x = batch[order[k]];
        const size_t n = x.prompt.size() + x.response.size();
        if (budget > 0 && k > begin && tokens + n > static_cast<size_t>(budget)) {
            out.push_back({begin, k});
            begin = k;
            tokens = 0;
        }
        tokens += n;
    }
    if (begin < order.size()) out.push_back({begin, order.size()});
    return out;
}

PackedBatch pack(const std::vector<Experience>& batch, const std::vector<size_t>& order, size_t b, size_t e) {
    PackedBatch packed;
    for (size_t k = b; k < e; ++k) {
        std::vector<int> seq = batch[order[k]].prompt;
        seq.insert(seq.end(), batch[order[k]].response.begin(), batch[order[k]].response.end());
        packed.add_sequence(seq);
    }
    return packed;
}

// Per-token log-probs and entropies of every response token (flat response order) under `engine`,
// without backward: the proximal policy before the first update, or the frozen reference. With
// `critic`, also the values its head reads off this engine's final hidden rows (the shared critic on
// the policy, or a separate critic's own engine run with fo.lm_head = false and logprob null).
// `order`: the samples to score (all of them, or a data-parallel rank's share; with a critic, all).
void score_responses(Transformer& engine, const std::vector<Experience>& batch,
                     const std::vector<size_t>& order, const std::vector<size_t>& offsets,
                     const ForwardOptions& fo, int budget, std::vector<float>* logprob,
                     std::vector<float>* entropy, const Critic* critic = nullptr,
                     std::vector<double>* values = nullptr) {
    for (auto [b, e] : micro_batches(batch, order, budget)) {
        PackedBatch packed = pack(batch, order, b, e);
        TokenScores s = engine.forward(packed, fo);
        std::vector<ValueSlice> slices;
        for (size_t k = b; k < e; ++k) {
            const size_t i = order[k];
            const size_t start = packed.cu_seqlens[k - b] + batch[i].prompt.size();
            const size_t n = batch[i].response.size();
            if (logprob) std::copy_n(s.logprob.begin() + start, n, logprob->begin() + offsets[i]);
            if (entropy) std::copy_n(s.entropy.begin() + start, n, entropy->begin() + offsets[i]);
            slices.push_back({static_cast<int>(start), static_cast<int>(n)});
        }
        if (critic && values)
            critic->values(engine.final_hidden_host(), slices, values->data() + offsets[order[b]]);
    }
}

std::vector<size_t> all_samples(size_t n) {
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    return all;
}

// Gradient buckets of the data-parallel all-reduce: 25 MiB of fp32, PyTorch DDP's default.
constexpr size_t kGradBucketElems = (25u << 20) / sizeof(float);

// Fraction of the returns' variance the values explain: 1 - Var(R - V) / (Var(R) + 1e-5) (verl).
double explained_variance(const std::vector<double>& values, const std::vector<double>& returns) {
    const size_t n = values.size();
    if (n == 0) return 0.0;
    double mr = 0, md = 0;
    for (size_t t = 0; t < n; ++t) mr += returns[t], md += returns[t] - values[t];
    mr /= n, md /= n;
    double vr = 0, vd = 0;
    for (size_t t = 0; t < n; ++t) {
        vr += (returns[t] - mr) * (returns[t] - mr);
        const double d = returns[t] - values[t] - md;
        vd += d * d;
    }
    return 1.0 - (vd / n) / (vr / n + 1e-5);
}

// Samples of each optimiser mini-batch: the groups, in order of first appearance, cut into `parts`
// chunks of whole groups; within a mini-batch the samples keep their batch order.
std::vector<std::vector<size_t>> split_by_groups(const std::vector<Experience>& batch, int parts) {
    std::unordered_map<long, size_t> rank;
    for (const Experience& x : batch) rank.try_emplace(x.group, rank.size());
    const size_t n_groups = rank.size();
    const size_t n_parts = std::clamp<size_t>(static_cast<size_t>(parts), 1, n_groups);
    const size_t per_part = (n_groups + n_parts - 1) / n_parts;
    std::vector<std::vector<size_t>> out((n_groups + per_part - 1) / per_part);
    for (size_t i = 0; i < batch.size(); ++i) out[rank[batch[i].group] / per_part].push_back(i);
    return out;
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / v.size();
}

double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0.0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / (v.size() - 1));
}

}  // namespace

std::vector<double> RlTrainer::trajectory_grad_sq_norms(const std::vector<Experience>& batch,
                                                        const ForwardOptions& fo,
                                                        std::vector<double>& log_w) {
    std::vector<double> out;
    log_w.clear();
    for (const Experience& x : batch) {
        PackedBatch packed;
        std::vector<int> seq = x.prompt;
        seq.insert(seq.end(), x.response.begin(), x.response.end());
        packed.add_sequence(seq);
        TokenScores s = engine_.forward(packed, fo);
        const size_t start = x.prompt.size(), n = x.response.size();
        log_w.push_back(
            sequence_log_ratio(s.logprob.data() + start, x.behaviour_logprob.data(), static_cast<int>(n)));
        std::vector<float> g(packed.num_tokens(), 0.0f);
        std::fill(g.begin() + start, g.end(), 1.0f);  // token-sum form of the response's score
        policy_.zero_grads();
        engine_.backward(g, {}, policy_.grads());
        out.push_back(policy_.grad_norm_sq());
    }
    policy_.zero_grads();
    return out;
}

namespace {

void check_step_input(const std::vector<Experience>& input, const RlStepOptions& opt) {
    STRIDE_CHECK(!input.empty(), "rl step: empty batch");
    STRIDE_CHECK(opt.ppo_epochs >= 1 && opt.mini_batches >= 1,
                 "rl step: ppo_epochs and mini_batches must be >= 1");
    for (const Experience& e : input) {
        STRIDE_CHECK(!e.prompt.empty(), "rl step: a sample has an empty prompt");
        STRIDE_CHECK(e.behaviour_logprob.size() == e.response.size(),
                     "rl step: behaviour log-probs do not match the response length");
    }
}

// What the rollout produced, before any filtering.
void rollout_metrics(const std::vector<Experience>& input, StepMetrics& m) {
    std::vector<double> rewards, lengths, correct;
    for (const Experience& x : input) {
        rewards.push_back(x.reward);
        lengths.push_back(static_cast<double>(x.response.size()));
        correct.push_back(x.correct ? 1.0 : 0.0);
    }
    m["reward/mean"] = mean(rewards);
    m["reward/std"] = stddev(rewards);
    m["accuracy"] = mean(correct);
    m["response_length/mean"] = mean(lengths);
    m["response_length/max"] = *std::max_element(lengths.begin(), lengths.end());
}

// DAPO dynamic sampling: groups whose correctness is all equal carry no signal. Returns the samples
// the step trains on: `input`, or (with dynamic sampling and flat groups) the kept ones, in `kept`.
const std::vector<Experience>& filter_flat_groups(const std::vector<Experience>& input, bool dynamic_sampling,
                                                  std::vector<Experience>& kept, StepMetrics& m) {
    std::vector<double> acc;
    std::vector<long> group_of;
    for (const Experience& x : input) acc.push_back(x.correct ? 1.0 : 0.0), group_of.push_back(x.group);
    GroupFilter f = dynamic_sampling_filter(acc, group_of);
    // Rounds: the step sees one batch; the trainer role that pulls replacement groups overwrites it.
    m["dynamic_sampling/rounds"] = 1;
    m["dynamic_sampling/groups"] = f.groups;
    m["dynamic_sampling/kept_groups"] = dynamic_sampling ? f.kept_groups : f.groups;
    m["dynamic_sampling/dropped_groups"] = dynamic_sampling ? f.groups - f.kept_groups : 0;
    // Groups whose samples are not all equally correct: the ones whose GRPO advantages are not all 0.
    m["groups/signal_frac"] = f.groups > 0 ? static_cast<double>(f.kept_groups) / f.groups : 0.0;
    if (!dynamic_sampling || f.kept_groups == f.groups) return input;
    for (size_t i = 0; i < input.size(); ++i)
        if (f.keep[i]) kept.push_back(input[i]);
    return kept;
}

// The keys of every step, at their values for a step with nothing to learn from.
void empty_step_metrics(float lr_now, StepMetrics& m) {
    for (const char* k : {"pg_loss", "vf_loss", "loss", "clip_frac/low", "clip_frac/high", "clip_frac/dual",
                          "approx_kl", "kl_ref", "entropy", "grad_norm", "masked_token_frac", "adv/mean",
                          "adv/std", "staleness/mean", "staleness/max", "logprob_mismatch/mean",
                          "logprob_mismatch/max", "response_tokens", "overlong/filtered_frac"})
        m[k] = 0.0;
    m["ess"] = 1.0;
    m["lr"] = lr_now;
    m["skipped_step"] = 0.0;
}

// Per-token advantages broadcast from one advantage per sample.
void broadcast(const std::vector<double>& seq_adv, const std::vector<size_t>& offsets,
               std::vector<float>& adv_tok) {
    for (size_t i = 0; i < seq_adv.size(); ++i)
        std::fill(adv_tok.begin() + offsets[i], adv_tok.begin() + offsets[i + 1], seq_adv[i]);
}

// Token advantages from per-token values, and each sample's mean of them (the sequence advantage).
void from_token_advantages(const std::vector<double>& adv, const std::vector<size_t>& offsets,
                           const std::vector<int>& seq_lens, std::vector<float>& adv_tok,
                           std::vector<double>& seq_adv) {
    for (size_t i = 0; i < seq_lens.size(); ++i) {
        double s = 0;
        for (size_t t = offsets[i]; t < offsets[i + 1]; ++t)
            adv_tok[t] = static_cast<float>(adv[t]), s += adv[t];
        seq_adv[i] = seq_lens[i] ? s / seq_lens[i] : 0.0;
    }
}

}  // namespace

// One step's batch laid out per sample and per response token (flat order), what the scoring
// passes read off it and the advantages: everything the updates read.
struct RlTrainer::StepState {
    StepState(const std::vector<Experience>& b, const RlStepOptions& o) : batch(b), opt(o) {}
    const std::vector<Experience>& batch;
    const RlStepOptions& opt;
    size_t B = 0, T = 0;
    std::vector<double> rewards;
    std::vector<long> groups;
    std::vector<int> seq_lens;
    std::vector<size_t> offsets;  // into the flat response-token order
    ForwardOptions fo, critic_fo;
    bool kl_enabled = false, kl_as_loss = false;
    bool use_critic = false, shared_critic = false;
    bool have_prox = false;  // the proximal log-probs are scored before the first update
    std::vector<std::vector<size_t>> mbs;
    int updates = 0;
    std::vector<float> ref_lp, old_lp, old_ent;
    std::vector<double> old_values, returns;
    std::vector<double> kl_penalty;  // beta * k(old, ref) per token, when the KL is a reward term
    std::vector<float> adv_tok;
    std::vector<double> seq_adv, adv_report;
    std::vector<unsigned char> mask;   // UloRL: mastered positive tokens
    std::vector<float> isw, g_hidden;  // scratch: IS weights of a sample, the shared critic's d hidden
};

// Sums over the step's updates (and, first pass only, over the batch's tokens) for its metrics.
struct RlTrainer::UpdateSums {
    PolicyLossSums sums;
    IsStats is_stats;
    double pg_loss_sum = 0, total_loss_sum = 0, grad_norm_sum = 0, ess_sum = 0;
    double vf_loss_sum = 0, critic_norm_sum = 0, critic_lr = 0;
    ValueLossSums vf_sums;
    double entropy_sum = 0, kl_ref_sum = 0, mismatch_sum = 0, mismatch_max = 0, staleness_sum = 0,
           staleness_max = 0;
    long mismatch_tokens = 0;
    float last_norm = 0, last_lr = 0;
    bool any_skipped = false;
};

// Sums over one mini-batch (one optimiser step).
struct RlTrainer::MiniBatchSums {
    ValueLossSums vf;
    PolicyLossSums policy;
    double kl_weighted = 0, entropy_weighted = 0;
};

StepMetrics RlTrainer::step(const std::vector<Experience>& input, const RlStepOptions& opt,
                            int64_t policy_version) {
    try {
        return run_step(input, opt, policy_version);
    } catch (...) {
        // A step that failed part way may have stepped the device's weights already: model.data
        // follows them, as it follows an in-place step on the CPU.
        policy_.weights_to_host();
        if (critic_) critic_->weights_to_host();
        throw;
    }
}

StepMetrics RlTrainer::run_step(const std::vector<Experience>& input, const RlStepOptions& opt,
                                int64_t policy_version) {
    check_step_input(input, opt);
    StepMetrics m;
    rollout_metrics(input, m);
    std::vector<Experience> kept;
    const std::vector<Experience>& batch = filter_flat_groups(input, opt.dynamic_sampling, kept, m);
    const float lr_now = schedule_.lr_at(adam_.step_count());
    empty_step_metrics(lr_now, m);
    if (batch.empty()) {  // every group filtered out: nothing to learn from this batch
        m["skipped_step"] = 1.0;
        return m;
    }
    StepState st(batch, opt);
    plan(st);
    score(st);
    compute_advantages(st);
    UpdateSums u;
    u.last_lr = lr_now;
    for (int epoch = 0; epoch < opt.ppo_epochs; ++epoch)
        for (const std::vector<size_t>& mb : st.mbs) update_mini_batch(st, mb, epoch == 0, policy_version, u);
    step_metrics(st, u, m);
    // On a device the weights were stepped there: checkpoints and publication read model.data.
    policy_.weights_to_host();
    if (critic_) critic_->weights_to_host();
    return m;
}

// Per-sample layout, forward options, which passes the step needs and its mini-batches.
void RlTrainer::plan(StepState& st) {
    const std::vector<Experience>& batch = st.batch;
    const RlStepOptions& opt = st.opt;
    st.B = batch.size();
    st.rewards.resize(st.B);
    st.groups.resize(st.B);
    st.seq_lens.resize(st.B);
    st.offsets.assign(st.B + 1, 0);
    for (size_t i = 0; i < st.B; ++i) {
        st.rewards[i] = batch[i].reward;
        st.groups[i] = batch[i].group;
        st.seq_lens[i] = static_cast<int>(batch[i].response.size());
        st.offsets[i + 1] = st.offsets[i] + st.seq_lens[i];
    }
    st.T = st.offsets[st.B];
    st.fo.temperature = opt.temperature;
    st.fo.recompute = opt.recompute;
    st.critic_fo = st.fo;
    st.critic_fo.lm_head = false;
    st.kl_enabled = opt.kl_coef > 0;
    st.kl_as_loss = st.kl_enabled && !opt.kl_in_reward;
    st.mbs = split_by_groups(batch, opt.mini_batches);
    st.updates = opt.ppo_epochs * static_cast<int>(st.mbs.size());
    // PPO: the critic's values at entry anchor GAE and the value clip. A shared critic reads them off
    // the policy's own scoring pass (which then also gives the proximal log-probs).
    st.use_critic = opt.advantage == AdvantageKind::gae;
    STRIDE_CHECK(!st.use_critic || critic_,
                 "rl step: GAE advantages (ppo) need a critic; call enable_critic");
    st.shared_critic = st.use_critic && critic_->kind() == CriticKind::shared;
    STRIDE_CHECK(!st.use_critic || !comms_.active(),
                 "rl step: a critic (ppo) does not train on several trainer ranks yet (trainer.ranks: 1)");
    // The proximal policy must be known before the first update with several updates, the KL in the
    // reward or a batch-level entropy gate. With a single update it is the policy of that very
    // forward, read there (ratio 1).
    st.have_prox = st.updates > 1 || (st.kl_enabled && opt.kl_in_reward) ||
                   (opt.mpt_mask && opt.mpt.batch_gate) || st.shared_critic;
}

// Scoring passes (no backward): the reference, the proximal policy when it must be known up front,
// and the critic's values.
void RlTrainer::score(StepState& st) {
    const int budget = st.opt.micro_batch_tokens;
    // Data parallel: each rank scores its share; the others' tokens stay 0, so the sum over the
    // ranks is exact.
    const std::vector<size_t> order = my_share(st, all_samples(st.B));
    if (st.kl_enabled) {
        if (!ref_model_) set_reference(model_);
        st.ref_lp.assign(st.T, 0.0f);
        score_responses(*ref_engine_, st.batch, order, st.offsets, st.fo, budget, &st.ref_lp, nullptr);
        if (comms_.active())
            comms_.host->all_reduce(st.ref_lp.data(), st.T, ReduceOp::sum, "reference log-probs");
    }
    st.old_lp.assign(st.T, 0.0f);
    st.old_ent.assign(st.T, 0.0f);
    if (st.use_critic) st.old_values.assign(st.T, 0.0);
    if (st.have_prox) {
        score_responses(engine_, st.batch, order, st.offsets, st.fo, budget, &st.old_lp, &st.old_ent,
                        st.shared_critic ? critic_.get() : nullptr, &st.old_values);
        if (comms_.active()) {
            comms_.host->all_reduce(st.old_lp.data(), st.T, ReduceOp::sum, "proximal log-probs");
            comms_.host->all_reduce(st.old_ent.data(), st.T, ReduceOp::sum, "proximal entropies");
        }
    }
    if (st.use_critic && !st.shared_critic)
        score_responses(*critic_->engine(), st.batch, order, st.offsets, st.critic_fo, budget, nullptr,
                        nullptr, critic_.get(), &st.old_values);
}

// Advantages per token (adv_tok), per sample (seq_adv) and as reported (adv_report), by the
// options' estimator; the UloRL mask when it can be computed up front.
void RlTrainer::compute_advantages(StepState& st) {
    const RlStepOptions& opt = st.opt;
    if (st.kl_enabled && opt.kl_in_reward) {
        st.kl_penalty.resize(st.T);
        for (size_t t = 0; t < st.T; ++t)
            st.kl_penalty[t] = opt.kl_coef * kl_estimate(st.old_lp[t], st.ref_lp[t], opt.kl_type).value;
    }
    st.adv_tok.assign(st.T, 0.0f);
    st.seq_adv.assign(st.B, 0.0);
    if (opt.advantage == AdvantageKind::grpo || opt.advantage == AdvantageKind::rloo) {
        std::vector<double> R = st.rewards;  // the KL in the reward sums into the outcome reward (§2.1)
        if (!st.kl_penalty.empty())
            for (size_t i = 0; i < st.B; ++i)
                for (size_t t = st.offsets[i]; t < st.offsets[i + 1]; ++t) R[i] -= st.kl_penalty[t];
        st.seq_adv =
            opt.advantage == AdvantageKind::grpo
                ? group_advantages(R, st.groups, {.divide_by_std = opt.divide_adv_by_std, .eps = opt.adv_eps})
                : rloo_advantages(R, st.groups);
        broadcast(st.seq_adv, st.offsets, st.adv_tok);
        st.adv_report = st.seq_adv;
    } else if (opt.advantage == AdvantageKind::gae) {
        gae_advantages(st);
    } else if (opt.advantage == AdvantageKind::opob) {
        std::vector<double> log_w;
        const std::vector<double> gsq = trajectory_grad_sq_norms(st.batch, st.fo, log_w);
        // b is invariant to a common scale of the weights: shift the logs so exp cannot overflow.
        const double top = *std::max_element(log_w.begin(), log_w.end());
        std::vector<double> w(st.B);
        for (size_t i = 0; i < st.B; ++i) w[i] = std::exp(log_w[i] - top);
        st.seq_adv = opob_advantages(st.rewards, st.groups, gsq, w, opt.opob_norm_by_std);
        broadcast(st.seq_adv, st.offsets, st.adv_tok);
        st.adv_report = st.seq_adv;
    } else {
        st.adv_report = opt.advantage == AdvantageKind::reinforce_pp
                            ? reinforce_pp_advantages(st.rewards, st.seq_lens, st.kl_penalty, opt.gamma)
                            : reinforce_pp_baseline_advantages(st.rewards, st.groups, st.seq_lens);
        from_token_advantages(st.adv_report, st.offsets, st.seq_lens, st.adv_tok, st.seq_adv);
    }
    if (opt.mpt_mask && st.have_prox)
        st.mask = mastered_positive_token_mask(st.old_lp, st.old_ent, st.seq_lens, st.seq_adv, opt.mpt);
    else if (opt.mpt_mask)
        st.mask.assign(st.T, 0);
}

// PPO: the outcome reward on the last response token (minus the KL penalty per token when it is a
// reward term), GAE backward over the critic's values, then whitened over the batch's tokens; the
// value targets use the un-whitened advantages (§1.2).
void RlTrainer::gae_advantages(StepState& st) {
    std::vector<double> raw(st.T, 0.0);
    st.returns.assign(st.T, 0.0);
    for (size_t i = 0; i < st.B; ++i) {
        const size_t off = st.offsets[i], n = st.seq_lens[i];
        if (n == 0) continue;
        std::vector<double> r(n, 0.0);
        r[n - 1] = st.rewards[i];
        if (!st.kl_penalty.empty())
            for (size_t k = 0; k < n; ++k) r[k] -= st.kl_penalty[off + k];
        const GaeResult g =
            gae(r, std::vector<double>(st.old_values.begin() + off, st.old_values.begin() + off + n), {},
                st.opt.gamma, st.opt.lam);
        std::copy(g.advantages.begin(), g.advantages.end(), raw.begin() + off);
        std::copy(g.returns.begin(), g.returns.end(), st.returns.begin() + off);
    }
    st.adv_report = whiten(raw);
    from_token_advantages(st.adv_report, st.offsets, st.seq_lens, st.adv_tok, st.seq_adv);
}

// One optimiser step: forward + loss + backward per micro-batch of `mb`, then the step.
void RlTrainer::update_mini_batch(StepState& st, const std::vector<size_t>& mb, bool first_pass,
                                  int64_t policy_version, UpdateSums& u) {
    const RlStepOptions& opt = st.opt;
    std::vector<int> mb_lens;
    std::vector<bool> mb_filtered;
    for (size_t i : mb) {
        mb_lens.push_back(st.seq_lens[i]);
        mb_filtered.push_back(opt.overlong_filter && st.batch[i].truncated);
    }
    const std::vector<float> weights =
        aggregation_weights_excluding(mb_lens, mb_filtered, opt.loss.agg, opt.loss.l_norm);
    policy_.zero_grads();
    if (st.use_critic) critic_->zero_grads();
    MiniBatchSums mb_sums;
    // Data parallel: this rank's samples of the mini-batch, with their weights of the whole one.
    const std::vector<size_t> mine = comms_.active() ? my_share(st, mb) : mb;
    std::vector<float> my_weights;
    if (comms_.active()) {
        std::vector<size_t> woffs(st.B + 1, 0);
        size_t w = 0;
        for (size_t i : mb) woffs[i] = w, w += st.seq_lens[i];
        for (size_t i : mine)
            my_weights.insert(my_weights.end(), weights.begin() + woffs[i],
                              weights.begin() + woffs[i] + st.seq_lens[i]);
    }
    size_t woff = 0;  // into `weights`
    for (auto [b, e] : micro_batches(st.batch, mine, opt.micro_batch_tokens))
        micro_batch_loss(st, mine, b, e, comms_.active() ? my_weights : weights, woff, mb_sums);
    if (comms_.active()) reduce_over_ranks(st, mb_sums);
    if (first_pass) {  // the policy at entry, over the whole mini-batch (every rank alike)
        for (size_t i : mb) entry_token_stats(st, i, policy_version, u);
        if (opt.behaviour_is.mode != IsCorrection::none)
            for (size_t i : mb) {
                st.isw.resize(st.seq_lens[i]);
                u.is_stats.add(importance_weights(st.old_lp.data() + st.offsets[i],
                                                  st.batch[i].behaviour_logprob.data(), st.seq_lens[i],
                                                  opt.behaviour_is, st.isw.data()));
            }
    }
    // VCPO: effective sample size of the sequence IS weights pi_prox / mu of this mini-batch.
    std::vector<double> log_w;
    for (size_t i : mb)
        log_w.push_back(sequence_log_ratio(st.old_lp.data() + st.offsets[i],
                                           st.batch[i].behaviour_logprob.data(), st.seq_lens[i]));
    const double ess_frac = ess_from_log_weights(log_w) / static_cast<double>(mb.size());
    if (first_pass) u.ess_sum += ess_frac;
    optimizer_step(st, mb_sums, ess_frac, u);
}

// Forward of samples [b, e) of `mb`, their loss gradients, backward (and the critic's value loss).
void RlTrainer::micro_batch_loss(StepState& st, const std::vector<size_t>& mb, size_t b, size_t e,
                                 const std::vector<float>& weights, size_t& woff, MiniBatchSums& mb_sums) {
    const RlStepOptions& opt = st.opt;
    PackedBatch packed = pack(st.batch, mb, b, e);
    TokenScores scores = engine_.forward(packed, st.fo);
    std::vector<float> g_lp(packed.num_tokens(), 0.0f), g_ent(packed.num_tokens(), 0.0f);
    std::vector<ValueSlice> value_slices;
    for (size_t k = b; k < e; ++k) {
        const size_t i = mb[k];
        const int start = packed.cu_seqlens[k - b] + static_cast<int>(st.batch[i].prompt.size());
        const int n = st.seq_lens[i];
        const size_t off = st.offsets[i];
        const float* lp = scores.logprob.data() + start;
        const float* H = scores.entropy.data() + start;
        if (!st.have_prox) {  // the only update: the proximal policy is this forward's
            std::copy_n(lp, n, st.old_lp.begin() + off);
            std::copy_n(H, n, st.old_ent.begin() + off);
            if (opt.mpt_mask) {
                auto mi =
                    mastered_positive_token_mask(std::vector<float>(lp, lp + n), std::vector<float>(H, H + n),
                                                 {n}, {st.seq_adv[i]}, opt.mpt);
                std::copy(mi.begin(), mi.end(), st.mask.begin() + off);
            }
        }
        if (st.use_critic)
            value_slices.push_back(
                {start, n, st.old_values.data() + off, st.returns.data() + off, weights.data() + woff});
        sample_loss(st, i, lp, H, weights.data() + woff, g_lp.data() + start, g_ent.data() + start, mb_sums);
        woff += n;
    }
    const float* g_final = nullptr;
    // Shared critic: the value loss (x vf_coef) joins the policy's loss on the common trunk.
    if (st.shared_critic) {
        st.g_hidden.assign(static_cast<size_t>(packed.num_tokens()) * critic_->hidden(), 0.0f);
        const ValueLossSums v = critic_->value_loss(engine_.final_hidden_host(), value_slices, opt.vf_clip,
                                                    opt.vf_coef, st.g_hidden.data());
        mb_sums.vf.loss += v.loss, mb_sums.vf.clipped += v.clipped, mb_sums.vf.tokens += v.tokens;
        g_final = st.g_hidden.data();
    }
    engine_.backward(g_lp, opt.entropy_coef != 0.0 ? g_ent : std::vector<float>{}, policy_.grads(), g_final);
    if (st.use_critic && !st.shared_critic) {
        const ValueLossSums v = critic_->train_separate(packed, st.critic_fo, value_slices, opt.vf_clip);
        mb_sums.vf.loss += v.loss, mb_sums.vf.clipped += v.clipped, mb_sums.vf.tokens += v.tokens;
    }
}

// Sample i's policy loss (importance-weighted, masked), KL-to-reference loss and entropy bonus:
// their gradients per token into g (d loss / d logprob) and g_ent (d loss / d entropy).
void RlTrainer::sample_loss(StepState& st, size_t i, const float* lp, const float* H, const float* w,
                            float* g, float* g_ent, MiniBatchSums& mb_sums) {
    const RlStepOptions& opt = st.opt;
    const int n = st.seq_lens[i];
    const size_t off = st.offsets[i];
    TokenLossSlice in;
    in.logprob = lp;
    in.old_logprob = st.old_lp.data() + off;
    in.advantage = st.adv_tok.data() + off;
    in.weight = w;
    in.mask = opt.mpt_mask ? st.mask.data() + off : nullptr;
    in.n = n;
    if (opt.behaviour_is.mode != IsCorrection::none) {
        st.isw.resize(n);
        importance_weights(st.old_lp.data() + off, st.batch[i].behaviour_logprob.data(), n, opt.behaviour_is,
                           st.isw.data());
        in.is_weight = st.isw.data();
    }
    const ClipOptions clip{opt.loss.clip_low, opt.loss.clip_high, opt.loss.dual_clip};
    mb_sums.policy.add(opt.policy_loss == PolicyLossKind::gspo ? gspo_sequence_loss(in, clip, g)
                                                               : ppo_clip_token_loss(in, clip, g));
    for (int t = 0; t < n; ++t) {
        if (st.kl_as_loss) {  // loss += beta * agg(k(logp, logp_ref))
            const KlTerm kt = kl_estimate(lp[t], st.ref_lp[off + t], opt.kl_type);
            mb_sums.kl_weighted += w[t] * kt.value;
            g[t] += static_cast<float>(opt.kl_coef * w[t] * kt.grad);
        }
        mb_sums.entropy_weighted += w[t] * H[t];
        g_ent[t] = static_cast<float>(-opt.entropy_coef * w[t]);  // loss -= coef * H
    }
}

std::vector<size_t> RlTrainer::my_share(const StepState& st, const std::vector<size_t>& among) const {
    if (!comms_.active()) return among;
    std::vector<size_t> tokens;
    for (size_t i : among) tokens.push_back(st.batch[i].prompt.size() + st.batch[i].response.size());
    // Kept whole: a range-for over an element of the temporary would read freed memory.
    const std::vector<std::vector<size_t>> parts = split_by_tokens(tokens, comms_.host->size());
    std::vector<size_t> mine;
    for (size_t k : parts[static_cast<size_t>(comms_.host->rank())]) mine.push_back(among[k]);
    return mine;
}

void RlTrainer::reduce_over_ranks(StepState& st, MiniBatchSums& s) {
    // The gradients: a sum, since every rank weighted its tokens by the whole mini-batch's weights.
    float* g = policy_.grads();
    const size_t n = policy_.numel();
    if (comms_.grads->host_memory() == policy_.backend().host_memory) {
        all_reduce_bucketed(*comms_.grads, g, n, kGradBucketElems, ReduceOp::sum, "gradients");
    } else {  // a device trainer over the CPU collective: through host memory
        std::vector<float> host = policy_.grads_to_host();
        all_reduce_bucketed(*comms_.grads, host.data(), n, kGradBucketElems, ReduceOp::sum, "gradients");
        policy_.backend().copy(g, host.data(), n * sizeof(float));
    }
    PolicyLossSums& p = s.policy;
    double v[] = {p.loss,
                  p.kl,
                  p.kl_k1,
                  static_cast<double>(p.clipped_low),
                  static_cast<double>(p.clipped_high),
                  static_cast<double>(p.dual_clipped),
                  static_cast<double>(p.masked),
                  static_cast<double>(p.tokens),
                  s.kl_weighted,
                  s.entropy_weighted};
    comms_.host->all_reduce(v, std::size(v), ReduceOp::sum, "loss sums");
    p.loss = v[0], p.kl = v[1], p.kl_k1 = v[2];
    p.clipped_low = std::lround(v[3]), p.clipped_high = std::lround(v[4]), p.dual_clipped = std::lround(v[5]);
    p.masked = std::lround(v[6]), p.tokens = std::lround(v[7]);
    s.kl_weighted = v[8], s.entropy_weighted = v[9];
    if (!st.have_prox) {  // the single update read the proximal policy in its own forwards: share them
        comms_.host->all_reduce(st.old_lp.data(), st.T, ReduceOp::sum, "proximal log-probs");
        comms_.host->all_reduce(st.old_ent.data(), st.T, ReduceOp::sum, "proximal entropies");
    }
}

// Per-token statistics of the policy at entry (first pass): entropy, KL to the reference, staleness,
// and the train-inference mismatch on tokens this very version sampled.
void RlTrainer::entry_token_stats(const StepState& st, size_t i, int64_t policy_version, UpdateSums& u) {
    const Experience& x = st.batch[i];
    const size_t off = st.offsets[i];
    for (int t = 0; t < st.seq_lens[i]; ++t) {
        u.entropy_sum += st.old_ent[off + t];
        if (st.kl_enabled)
            u.kl_ref_sum += kl_estimate(st.old_lp[off + t], st.ref_lp[off + t], st.opt.kl_type).value;
        const double lag = static_cast<double>(policy_version - x.token_version[t]);
        u.staleness_sum += lag;
        u.staleness_max = std::max(u.staleness_max, lag);
        if (x.token_version[t] == policy_version) {
            const double d = std::fabs(st.old_lp[off + t] - x.behaviour_logprob[t]);
            u.mismatch_sum += d;
            u.mismatch_max = std::max(u.mismatch_max, d);
            ++u.mismatch_tokens;
        }
    }
}

// Grad-norm clipping and AdamW at the scheduled lr (x the ESS factor), the critic's step, and the
// mini-batch's sums into the step's.
void RlTrainer::optimizer_step(const StepState& st, const MiniBatchSums& mb_sums, double ess_frac,
                               UpdateSums& u) {
    const RlStepOptions& opt = st.opt;
    const float norm = policy_.clip_grads(opt.grad_clip);
    const float lr = static_cast<float>(schedule_.lr_at(adam_.step_count()) *
                                        ess_lr_factor(ess_frac, opt.ess_lr, opt.ess_rho_base));
    const bool finite = std::isfinite(norm);
    if (st.use_critic) {  // the critic follows the policy's schedule, scaled to its own base lr
        const double scale =
            schedule_.base_lr > 0 ? schedule_.lr_at(adam_.step_count()) / schedule_.base_lr : 1.0;
        u.critic_lr = critic_->head_adam().config().lr * scale;
        u.critic_norm_sum += critic_->step(static_cast<float>(u.critic_lr), opt.grad_clip);
        u.vf_loss_sum += mb_sums.vf.loss;
        u.vf_sums.loss += mb_sums.vf.loss, u.vf_sums.clipped += mb_sums.vf.clipped,
            u.vf_sums.tokens += mb_sums.vf.tokens;
    }
    if (finite) policy_.step(lr);
    u.any_skipped |= !finite;
    u.last_norm = norm;
    u.last_lr = lr;
    u.grad_norm_sum += norm;
    u.pg_loss_sum += mb_sums.policy.loss;
    u.total_loss_sum += mb_sums.policy.loss + opt.kl_coef * mb_sums.kl_weighted * st.kl_as_loss -
                        opt.entropy_coef * mb_sums.entropy_weighted +
                        (st.shared_critic ? opt.vf_coef * mb_sums.vf.loss : 0.0);
    u.sums.add(mb_sums.policy);
}

// The step's metrics from its sums.
void RlTrainer::step_metrics(const StepState& st, const UpdateSums& u, StepMetrics& m) const {
    const RlStepOptions& opt = st.opt;
    const int updates = st.updates;
    if (opt.overlong_filter) {
        size_t filtered = 0;
        for (const Experience& x : st.batch) filtered += x.truncated;
        m["overlong/filtered_frac"] = static_cast<double>(filtered) / st.B;
    }
    const double Tn = std::max<double>(static_cast<double>(st.T), 1.0);
    const double processed = std::max<double>(static_cast<double>(u.sums.tokens), 1.0);
    m["pg_loss"] = u.pg_loss_sum / updates;
    m["loss"] = u.total_loss_sum / updates;
    m["vf_loss"] = u.vf_loss_sum / updates;  // 0 without a critic
    if (st.use_critic) {
        m["vf_clipfrac"] = u.vf_sums.tokens ? static_cast<double>(u.vf_sums.clipped) / u.vf_sums.tokens : 0.0;
        m["vf_explained_var"] = explained_variance(st.old_values, st.returns);
        m["values/mean"] = mean(st.old_values);
        m["returns/mean"] = mean(st.returns);
        m["critic/grad_norm"] = u.critic_norm_sum / updates;
        m["critic/lr"] = u.critic_lr;
    }
    m["entropy"] = u.entropy_sum / Tn;
    m["kl_ref"] = u.kl_ref_sum / Tn;
    m["clip_frac/low"] = u.sums.clipped_low / processed;
    m["clip_frac/high"] = u.sums.clipped_high / processed;
    m["clip_frac/dual"] = u.sums.dual_clipped / processed;
    m["approx_kl"] = u.sums.kl / processed;
    m["masked_token_frac"] = u.sums.masked / processed;
    m["ess"] = u.ess_sum / static_cast<double>(st.mbs.size());
    m["grad_norm"] = updates == 1 ? u.last_norm : u.grad_norm_sum / updates;
    m["lr"] = u.last_lr;
    m["skipped_step"] = u.any_skipped ? 1.0 : 0.0;
    m["updates"] = updates;
    m["staleness/mean"] = u.staleness_sum / Tn;
    m["staleness/max"] = u.staleness_max;
    m["logprob_mismatch/mean"] = u.mismatch_tokens ? u.mismatch_sum / u.mismatch_tokens : 0.0;
    m["logprob_mismatch/max"] = u.mismatch_max;
    m["adv/mean"] = mean(st.adv_report);
    m["adv/std"] = stddev(st.adv_report);
    m["response_tokens"] = static_cast<double>(st.T);
    if (opt.behaviour_is.mode != IsCorrection::none && u.is_stats.tokens) {
        m["is/weight_mean"] = u.is_stats.sum / u.is_stats.tokens;
        m["is/truncated_frac"] = static_cast<double>(u.is_stats.truncated) / u.is_stats.tokens;
        m["is/rejected_frac"] = static_cast<double>(u.is_stats.rejected) / u.is_stats.tokens;
    }
}

}  // namespace stride
