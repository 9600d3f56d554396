#include "trainer/rl_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "common/base/error.h"
#include "trainer/advantage.h"
#include "trainer/gae.h"

namespace stride {

RlTrainer::RlTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule)
    : model_(model),
      engine_(model),
      adam_(model.data.size(), adam),
      schedule_(schedule),
      grads_(model.data.size(), 0.0f) {}

RlTrainer::~RlTrainer() = default;

void RlTrainer::set_reference(const Model& reference) {
    STRIDE_CHECK(reference.data.size() == model_.data.size(),
                 "rl step: the reference model has another layout");
    ref_engine_.reset();  // it points into the previous reference
    ref_model_ = std::make_unique<Model>(reference);
    ref_engine_ = std::make_unique<Transformer>(*ref_model_);
}

void RlTrainer::enable_critic(const CriticOptions& opt) {
    critic_ = std::make_unique<Critic>(model_, opt);
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
void score_responses(Transformer& engine, const std::vector<Experience>& batch,
                     const std::vector<size_t>& offsets, const ForwardOptions& fo, int budget,
                     std::vector<float>* logprob, std::vector<float>* entropy, const Critic* critic = nullptr,
                     std::vector<double>* values = nullptr) {
    std::vector<size_t> all(batch.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (auto [b, e] : micro_batches(batch, all, budget)) {
        PackedBatch packed = pack(batch, all, b, e);
        TokenScores s = engine.forward(packed, fo);
        std::vector<ValueSlice> slices;
        for (size_t k = b; k < e; ++k) {
            const size_t start = packed.cu_seqlens[k - b] + batch[k].prompt.size();
            const size_t n = batch[k].response.size();
            if (logprob) std::copy_n(s.logprob.begin() + start, n, logprob->begin() + offsets[k]);
            if (entropy) std::copy_n(s.entropy.begin() + start, n, entropy->begin() + offsets[k]);
            slices.push_back({static_cast<int>(start), static_cast<int>(n)});
        }
        if (critic && values) critic->values(engine.final_hidden(), slices, values->data() + offsets[b]);
    }
}

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
        std::fill(grads_.begin(), grads_.end(), 0.0f);
        engine_.backward(g, {}, grads_.data());
        double sq = 0;
        for (float v : grads_) sq += static_cast<double>(v) * v;
        out.push_back(sq);
    }
    std::fill(grads_.begin(), grads_.end(), 0.0f);
    return out;
}

StepMetrics RlTrainer::step(const std::vector<Experience>& input, const RlStepOptions& opt,
                            int64_t policy_version) {
    STRIDE_CHECK(!input.empty(), "rl step: empty batch");
    STRIDE_CHECK(opt.ppo_epochs >= 1 && opt.mini_batches >= 1,
                 "rl step: ppo_epochs and mini_batches must be >= 1");
    for (const Experience& e : input) {
        STRIDE_CHECK(!e.prompt.empty(), "rl step: a sample has an empty prompt");
        STRIDE_CHECK(e.behaviour_logprob.size() == e.response.size(),
                     "rl step: behaviour log-probs do not match the response length");
    }
    StepMetrics m;
    {  // what the rollout produced, before any filtering
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

    // ---- DAPO dynamic sampling: groups whose correctness is all equal carry no signal -----------
    std::vector<Experience> kept;
    const std::vector<Experience>* source = &input;
    {
        std::vector<double> acc;
        std::vector<long> group_of;
        for (const Experience& x : input) acc.push_back(x.correct ? 1.0 : 0.0), group_of.push_back(x.group);
        GroupFilter f = dynamic_sampling_filter(acc, group_of);
        // Rounds: the step sees one batch; the trainer role that pulls replacement groups overwrites it.
        m["dynamic_sampling/rounds"] = 1;
        m["dynamic_sampling/groups"] = f.groups;
        if (opt.dynamic_sampling && f.kept_groups < f.groups) {
            for (size_t i = 0; i < input.size(); ++i)
                if (f.keep[i]) kept.push_back(input[i]);
            source = &kept;
        }
        m["dynamic_sampling/kept_groups"] = opt.dynamic_sampling ? f.kept_groups : f.groups;
        m["dynamic_sampling/dropped_groups"] = opt.dynamic_sampling ? f.groups - f.kept_groups : 0;
    }
    const std::vector<Experience>& batch = *source;
    const float lr_now = schedule_.lr_at(adam_.step_count());
    for (const char* k : {"pg_loss", "vf_loss", "loss", "clip_frac/low", "clip_frac/high", "clip_frac/dual",
                          "approx_kl", "kl_ref", "entropy", "grad_norm", "masked_token_frac", "adv/mean",
                          "adv/std", "staleness/mean", "staleness/max", "logprob_mismatch/mean",
                          "logprob_mismatch/max", "response_tokens", "overlong/filtered_frac"})
        m[k] = 0.0;
    m["ess"] = 1.0;
    m["lr"] = lr_now;
    m["skipped_step"] = 0.0;
    if (batch.empty()) {  // every group filtered out: nothing to learn from this batch
        m["skipped_step"] = 1.0;
        return m;
    }

    // ---- per-sample layout ----------------------------------------------------------------------
    const size_t B = batch.size();
    std::vector<double> rewards(B);
    std::vector<long> groups(B);
    std::vector<int> seq_lens(B);
    std::vector<size_t> offsets(B + 1, 0);  // into the flat response-token order
    for (size_t i = 0; i < B; ++i) {
        rewards[i] = batch[i].reward;
        groups[i] = batch[i].group;
        seq_lens[i] = static_cast<int>(batch[i].response.size());
        offsets[i + 1] = offsets[i] + seq_lens[i];
    }
    const size_t T = offsets[B];
    if (opt.overlong_filter) {
        size_t filtered = 0;
        for (const Experience& x : batch) filtered += x.truncated;
        m["overlong/filtered_frac"] = static_cast<double>(filtered) / B;
    }

    ForwardOptions fo;
    fo.temperature = opt.temperature;
    fo.recompute = opt.recompute;
    const bool kl_enabled = opt.kl_coef > 0;
    const bool kl_as_loss = kl_enabled && !opt.kl_in_reward;
    const auto mbs = split_by_groups(batch, opt.mini_batches);
    const int updates = opt.ppo_epochs * static_cast<int>(mbs.size());

    // ---- scoring passes (no backward): reference, and the proximal policy when it must be known
    // before the first update (several updates, KL in the reward, batch-level entropy gate). With a
    // single update it is the policy of that very forward, read there (ratio 1).
    std::vector<float> ref_lp;
    if (kl_enabled) {
        if (!ref_model_) set_reference(model_);
        ref_lp.assign(T, 0.0f);
        score_responses(*ref_engine_, batch, offsets, fo, opt.micro_batch_tokens, &ref_lp, nullptr);
    }
    // PPO: the critic's values at entry anchor GAE and the value clip. A shared critic reads them off
    // the policy's own scoring pass (which then also gives the proximal log-probs).
    const bool use_critic = opt.advantage == AdvantageKind::gae;
    STRIDE_CHECK(!use_critic || critic_, "rl step: GAE advantages (ppo) need a critic; call enable_critic");
    const bool shared_critic = use_critic && critic_->kind() == CriticKind::shared;
    const bool have_prox = updates > 1 || (kl_enabled && opt.kl_in_reward) ||
                           (opt.mpt_mask && opt.mpt.batch_gate) || shared_critic;
    std::vector<float> old_lp(T, 0.0f), old_ent(T, 0.0f);
    std::vector<double> old_values, returns;
    if (use_critic) old_values.assign(T, 0.0);
    if (have_prox)
        score_responses(engine_, batch, offsets, fo, opt.micro_batch_tokens, &old_lp, &old_ent,
                        shared_critic ? critic_.get() : nullptr, &old_values);
    ForwardOptions critic_fo = fo;
    critic_fo.lm_head = false;
    if (use_critic && !shared_critic)
        score_responses(*critic_->engine(), batch, offsets, critic_fo, opt.micro_batch_tokens, nullptr,
                        nullptr, critic_.get(), &old_values);

    // ---- advantages, per token ------------------------------------------------------------------
    std::vector<double> kl_penalty;  // beta * k(old, ref) per token, when the KL is a reward term
    if (kl_enabled && opt.kl_in_reward) {
        kl_penalty.resize(T);
        for (size_t t = 0; t < T; ++t)
            kl_penalty[t] = opt.kl_coef * kl_estimate(old_lp[t], ref_lp[t], opt.kl_type).value;
    }
    std::vector<float> adv_tok(T, 0.0f);
    std::vector<double> seq_adv(B, 0.0), adv_report;
    if (opt.advantage == AdvantageKind::grpo || opt.advantage == AdvantageKind::rloo) {
        std::vector<double> R = rewards;  // the KL in the reward sums into the outcome reward (§2.1)
        if (!kl_penalty.empty())
            for (size_t i = 0; i < B; ++i)
                for (size_t t = offsets[i]; t < offsets[i + 1]; ++t) R[i] -= kl_penalty[t];
        seq_adv =
            opt.advantage == AdvantageKind::grpo
                ? group_advantages(R, groups, {.divide_by_std = opt.divide_adv_by_std, .eps = opt.adv_eps})
                : rloo_advantages(R, groups);
        for (size_t i = 0; i < B; ++i)
            std::fill(adv_tok.begin() + offsets[i], adv_tok.begin() + offsets[i + 1], seq_adv[i]);
        adv_report = seq_adv;
    } else if (opt.advantage == AdvantageKind::gae) {
        // Outcome reward on the last response token (minus the KL penalty per token when it is a
        // reward term), GAE backward over the critic's values, then whitened over the batch's tokens;
        // the value targets use the un-whitened advantages (§1.2).
        std::vector<double> raw(T, 0.0);
        returns.assign(T, 0.0);
        for (size_t i = 0; i < B; ++i) {
            const size_t off = offsets[i], n = seq_lens[i];
            if (n == 0) continue;
            std::vector<double> r(n, 0.0);
            r[n - 1] = rewards[i];
            if (!kl_penalty.empty())
                for (size_t k = 0; k < n; ++k) r[k] -= kl_penalty[off + k];
            const GaeResult g =
                gae(r, std::vector<double>(old_values.begin() + off, old_values.begin() + off + n), {},
                    opt.gamma, opt.lam);
            std::copy(g.advantages.begin(), g.advantages.end(), raw.begin() + off);
            std::copy(g.returns.begin(), g.returns.end(), returns.begin() + off);
        }
        adv_report = whiten(raw);
        for (size_t i = 0; i < B; ++i) {
            double s = 0;
            for (size_t t = offsets[i]; t < offsets[i + 1]; ++t)
                adv_tok[t] = static_cast<float>(adv_report[t]), s += adv_report[t];
            seq_adv[i] = seq_lens[i] ? s / seq_lens[i] : 0.0;
        }
    } else if (opt.advantage == AdvantageKind::opob) {
        std::vector<double> log_w;
        const std::vector<double> gsq = trajectory_grad_sq_norms(batch, fo, log_w);
        // b is invariant to a common scale of the weights: shift the logs so exp cannot overflow.
        const double top = *std::max_element(log_w.begin(), log_w.end());
        std::vector<double> w(B);
        for (size_t i = 0; i < B; ++i) w[i] = std::exp(log_w[i] - top);
        seq_adv = opob_advantages(rewards, groups, gsq, w, opt.opob_norm_by_std);
        for (size_t i = 0; i < B; ++i)
            std::fill(adv_tok.begin() + offsets[i], adv_tok.begin() + offsets[i + 1], seq_adv[i]);
        adv_report = seq_adv;
    } else {
        adv_report = opt.advantage == AdvantageKind::reinforce_pp
                         ? reinforce_pp_advantages(rewards, seq_lens, kl_penalty, opt.gamma)
                         : reinforce_pp_baseline_advantages(rewards, groups, seq_lens);
        for (size_t i = 0; i < B; ++i) {
            double s = 0;
            for (size_t t = offsets[i]; t < offsets[i + 1]; ++t)
                adv_tok[t] = static_cast<float>(adv_report[t]), s += adv_report[t];
            seq_adv[i] = seq_lens[i] ? s / seq_lens[i] : 0.0;
        }
    }
    std::vector<unsigned char> mask;  // UloRL: mastered positive tokens (computed up front when it can be)
    if (opt.mpt_mask && have_prox)
        mask = mastered_positive_token_mask(old_lp, old_ent, seq_lens, seq_adv, opt.mpt);
    else if (opt.mpt_mask)
        mask.assign(T, 0);

    // ---- updates: epochs x mini-batches, each forward + loss + backward per micro-batch -----------
    PolicyLossSums sums;
    IsStats is_stats;
    double pg_loss_sum = 0, total_loss_sum = 0, grad_norm_sum = 0, ess_sum = 0;
    double vf_loss_sum = 0, critic_norm_sum = 0, critic_lr = 0;
    ValueLossSums vf_sums;
    // Shared critic: the value loss's gradient on the policy's final hidden rows.
    std::vector<float> g_hidden;
    double entropy_sum = 0, kl_ref_sum = 0, mismatch_sum = 0, mismatch_max = 0, staleness_sum = 0,
           staleness_max = 0;
    long mismatch_tokens = 0;
    float last_norm = 0, last_lr = lr_now;
    bool any_skipped = false;
    std::vector<float> isw;
    for (int epoch = 0; epoch < opt.ppo_epochs; ++epoch) {
        for (const std::vector<size_t>& mb : mbs) {
            std::vector<int> mb_lens;
            std::vector<bool> mb_filtered;
            for (size_t i : mb) {
                mb_lens.push_back(seq_lens[i]);
                mb_filtered.push_back(opt.overlong_filter && batch[i].truncated);
            }
            const std::vector<float> weights =
                aggregation_weights_excluding(mb_lens, mb_filtered, opt.loss.agg, opt.loss.l_norm);
            const bool first_pass = epoch == 0;
            std::fill(grads_.begin(), grads_.end(), 0.0f);
            if (use_critic) critic_->zero_grads();
            ValueLossSums mb_vf;
            PolicyLossSums mb_sums;
            double kl_weighted = 0, entropy_weighted = 0;
            size_t woff = 0;  // into `weights`
            for (auto [b, e] : micro_batches(batch, mb, opt.micro_batch_tokens)) {
                PackedBatch packed = pack(batch, mb, b, e);
                TokenScores scores = engine_.forward(packed, fo);
                std::vector<float> g_lp(packed.num_tokens(), 0.0f), g_ent(packed.num_tokens(), 0.0f);
                std::vector<ValueSlice> value_slices;
                for (size_t k = b; k < e; ++k) {
                    const size_t i = mb[k];
                    const Experience& x = batch[i];
                    const int start = packed.cu_seqlens[k - b] + static_cast<int>(x.prompt.size());
                    const int n = seq_lens[i];
                    const size_t off = offsets[i];
                    const float* lp = scores.logprob.data() + start;
                    const float* H = scores.entropy.data() + start;
                    if (!have_prox) {  // the only update: the proximal policy is this forward's
                        std::copy_n(lp, n, old_lp.begin() + off);
                        std::copy_n(H, n, old_ent.begin() + off);
                        if (opt.mpt_mask) {
                            auto mi = mastered_positive_token_mask(std::vector<float>(lp, lp + n),
                                                                   std::vector<float>(H, H + n), {n},
                                                                   {seq_adv[i]}, opt.mpt);
                            std::copy(mi.begin(), mi.end(), mask.begin() + off);
                        }
                    }
                    if (use_critic)
                        value_slices.push_back(
                            {start, n, old_values.data() + off, returns.data() + off, weights.data() + woff});
                    TokenLossSlice in;
                    in.logprob = lp;
                    in.old_logprob = old_lp.data() + off;
                    in.advantage = adv_tok.data() + off;
                    in.weight = weights.data() + woff;
                    in.mask = opt.mpt_mask ? mask.data() + off : nullptr;
                    in.n = n;
                    if (opt.behaviour_is.mode != IsCorrection::none) {
                        isw.resize(n);
                        IsStats st = importance_weights(old_lp.data() + off, x.behaviour_logprob.data(), n,
                                                        opt.behaviour_is, isw.data());
                        if (first_pass) is_stats.add(st);
                        in.is_weight = isw.data();
                    }
                    const ClipOptions clip{opt.loss.clip_low, opt.loss.clip_high, opt.loss.dual_clip};
                    float* g = g_lp.data() + start;
                    mb_sums.add(opt.policy_loss == PolicyLossKind::gspo ? gspo_sequence_loss(in, clip, g)
                                                                        : ppo_clip_token_loss(in, clip, g));
                    for (int t = 0; t < n; ++t) {
                        const float w = weights[woff + t];
                        if (kl_as_loss) {  // loss += beta * agg(k(logp, logp_ref))
                            const KlTerm kt = kl_estimate(lp[t], ref_lp[off + t], opt.kl_type);
                            kl_weighted += w * kt.value;
                            g[t] += static_cast<float>(opt.kl_coef * w * kt.grad);
                        }
                        entropy_weighted += w * H[t];
                        g_ent[start + t] = static_cast<float>(-opt.entropy_coef * w);  // loss -= coef * H
                    }
                    if (first_pass) {  // per-token statistics of the policy at entry
                        for (int t = 0; t < n; ++t) {
                            entropy_sum += old_ent[off + t];
                            if (kl_enabled)
                                kl_ref_sum +=
                                    kl_estimate(old_lp[off + t], ref_lp[off + t], opt.kl_type).value;
                            const double lag = static_cast<double>(policy_version - x.token_version[t]);
                            staleness_sum += lag;
                            staleness_max = std::max(staleness_max, lag);
                            if (x.token_version[t] == policy_version) {
                                const double d = std::fabs(old_lp[off + t] - x.behaviour_logprob[t]);
                                mismatch_sum += d;
                                mismatch_max = std::max(mismatch_max, d);
                                ++mismatch_tokens;
                            }
                        }
                    }
                    woff += n;
                }
                const float* g_final = nullptr;
                // Shared critic: the value loss (x vf_coef) joins the policy's loss on the common trunk.
                if (shared_critic) {
                    g_hidden.assign(static_cast<size_t>(packed.num_tokens()) * critic_->hidden(), 0.0f);
                    const ValueLossSums v = critic_->value_loss(engine_.final_hidden(), value_slices,
                                                                opt.vf_clip, opt.vf_coef, g_hidden.data());
                    mb_vf.loss += v.loss, mb_vf.clipped += v.clipped, mb_vf.tokens += v.tokens;
                    g_final = g_hidden.data();
                }
                engine_.backward(g_lp, opt.entropy_coef != 0.0 ? g_ent : std::vector<float>{}, grads_.data(),
                                 g_final);
                if (use_critic && !shared_critic) {
                    const ValueLossSums v =
                        critic_->train_separate(packed, critic_fo, value_slices, opt.vf_clip);
                    mb_vf.loss += v.loss, mb_vf.clipped += v.clipped, mb_vf.tokens += v.tokens;
                }
            }
            // VCPO: effective sample size of the sequence IS weights pi_prox / mu of this mini-batch.
            std::vector<double> log_w;
            for (size_t i : mb)
                log_w.push_back(sequence_log_ratio(old_lp.data() + offsets[i],
                                                   batch[i].behaviour_logprob.data(), seq_lens[i]));
            const double ess_frac = ess_from_log_weights(log_w) / static_cast<double>(mb.size());
            if (first_pass) ess_sum += ess_frac;

            // ---- optimiser ------------------------------------------------------------------------
            const float norm = clip_grad_norm(grads_.data(), grads_.size(), opt.grad_clip);
            const float lr = static_cast<float>(schedule_.lr_at(adam_.step_count()) *
                                                ess_lr_factor(ess_frac, opt.ess_lr, opt.ess_rho_base));
            const bool finite = std::isfinite(norm);
            if (use_critic) {  // the critic follows the policy's schedule, scaled to its own base lr
                const double scale =
                    schedule_.base_lr > 0 ? schedule_.lr_at(adam_.step_count()) / schedule_.base_lr : 1.0;
                critic_lr = critic_->head_adam().config().lr * scale;
                critic_norm_sum += critic_->step(static_cast<float>(critic_lr), opt.grad_clip);
                vf_loss_sum += mb_vf.loss;
                vf_sums.loss += mb_vf.loss, vf_sums.clipped += mb_vf.clipped, vf_sums.tokens += mb_vf.tokens;
            }
            if (finite) adam_.step(model_.data.data(), grads_.data(), lr);
            any_skipped |= !finite;
            last_norm = norm;
            last_lr = lr;
            grad_norm_sum += norm;
            pg_loss_sum += mb_sums.loss;
            total_loss_sum += mb_sums.loss + opt.kl_coef * kl_weighted * kl_as_loss -
                              opt.entropy_coef * entropy_weighted +
                              (shared_critic ? opt.vf_coef * mb_vf.loss : 0.0);
            sums.add(mb_sums);
        }
    }

    const double Tn = std::max<double>(static_cast<double>(T), 1.0);
    const double processed = std::max<double>(static_cast<double>(sums.tokens), 1.0);
    m["pg_loss"] = pg_loss_sum / updates;
    m["loss"] = total_loss_sum / updates;
    m["vf_loss"] = vf_loss_sum / updates;  // 0 without a critic
    if (use_critic) {
        m["vf_clipfrac"] = vf_sums.tokens ? static_cast<double>(vf_sums.clipped) / vf_sums.tokens : 0.0;
        m["vf_explained_var"] = explained_variance(old_values, returns);
        m["values/mean"] = mean(old_values);
        m["returns/mean"] = mean(returns);
        m["critic/grad_norm"] = critic_norm_sum / updates;
        m["critic/lr"] = critic_lr;
    }
    m["entropy"] = entropy_sum / Tn;
    m["kl_ref"] = kl_ref_sum / Tn;
    m["clip_frac/low"] = sums.clipped_low / processed;
    m["clip_frac/high"] = sums.clipped_high / processed;
    m["clip_frac/dual"] = sums.dual_clipped / processed;
    m["approx_kl"] = sums.kl / processed;
    m["masked_token_frac"] = sums.masked / processed;
    m["ess"] = ess_sum / static_cast<double>(mbs.size());
    m["grad_norm"] = updates == 1 ? last_norm : grad_norm_sum / updates;
    m["lr"] = last_lr;
    m["skipped_step"] = any_skipped ? 1.0 : 0.0;
    m["updates"] = updates;
    m["staleness/mean"] = staleness_sum / Tn;
    m["staleness/max"] = staleness_max;
    m["logprob_mismatch/mean"] = mismatch_tokens ? mismatch_sum / mismatch_tokens : 0.0;
    m["logprob_mismatch/max"] = mismatch_max;
    m["adv/mean"] = mean(adv_report);
    m["adv/std"] = stddev(adv_report);
    m["response_tokens"] = static_cast<double>(T);
    if (opt.behaviour_is.mode != IsCorrection::none && is_stats.tokens) {
        m["is/weight_mean"] = is_stats.sum / is_stats.tokens;
        m["is/truncated_frac"] = static_cast<double>(is_stats.truncated) / is_stats.tokens;
        m["is/rejected_frac"] = static_cast<double>(is_stats.rejected) / is_stats.tokens;
    }
    return m;
}

}  // namespace stride
