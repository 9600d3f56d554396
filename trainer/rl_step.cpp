#include "trainer/rl_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/base/error.h"
#include "trainer/advantage.h"

namespace stride {

RlTrainer::RlTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule)
    : model_(model), engine_(model), adam_(model.data.size(), adam), schedule_(schedule),
      grads_(model.data.size(), 0.0f) {}

namespace {

// Consecutive samples whose prompt+response tokens fit one micro-batch (at least one sample each).
std::vector<std::pair<size_t, size_t>> micro_batches(const std::vector<Experience>& batch, int budget) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t begin = 0, tokens = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        const size_t n = batch[i].prompt.size() + batch[i].response.size();
        if (budget > 0 && i > begin && tokens + n > static_cast<size_t>(budget)) {
            out.push_back({begin, i});
            begin = i;
            tokens = 0;
        }
        tokens += n;
    }
    if (begin < batch.size()) out.push_back({begin, batch.size()});
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

StepMetrics RlTrainer::step(const std::vector<Experience>& batch, const RlStepOptions& opt,
                            int64_t policy_version) {
    STRIDE_CHECK(!batch.empty(), "rl step: empty batch");
    // ---- advantages: one scalar per response, broadcast to its tokens --------------------------
    std::vector<double> rewards;
    std::vector<long> groups;
    std::vector<int> seq_lens;
    for (const Experience& e : batch) {
        STRIDE_CHECK(!e.prompt.empty(), "rl step: a sample has an empty prompt");
        STRIDE_CHECK(e.behaviour_logprob.size() == e.response.size(),
                     "rl step: behaviour log-probs do not match the response length");
        rewards.push_back(e.reward);
        groups.push_back(e.group);
        seq_lens.push_back(static_cast<int>(e.response.size()));
    }
    const std::vector<double> adv =
        group_advantages(rewards, groups, {.divide_by_std = opt.divide_adv_by_std, .eps = opt.adv_eps});
    const std::vector<float> weights = aggregation_weights(seq_lens, opt.loss.agg, opt.loss.l_norm);

    // ---- forward + loss + backward per micro-batch ----------------------------------------------
    std::fill(grads_.begin(), grads_.end(), 0.0f);
    PolicyLossSums sums;
    double entropy_sum = 0, entropy_weighted = 0, mismatch_sum = 0, mismatch_max = 0, staleness_sum = 0;
    double staleness_max = 0;
    long mismatch_tokens = 0, response_tokens = 0;
    size_t token_offset = 0;  // into `weights`, over response tokens of the whole batch
    ForwardOptions fo;
    fo.temperature = opt.temperature;
    fo.recompute = opt.recompute;
    for (auto [b, e] : micro_batches(batch, opt.micro_batch_tokens)) {
        PackedBatch packed;
        for (size_t i = b; i < e; ++i) {
            std::vector<int> seq = batch[i].prompt;
            seq.insert(seq.end(), batch[i].response.begin(), batch[i].response.end());
            packed.add_sequence(seq);
        }
        TokenScores scores = engine_.forward(packed, fo);
        std::vector<float> g_lp(packed.num_tokens(), 0.0f), g_ent(packed.num_tokens(), 0.0f);
        for (size_t i = b; i < e; ++i) {
            const Experience& x = batch[i];
            const int start = packed.cu_seqlens[i - b] + static_cast<int>(x.prompt.size());
            const int n = static_cast<int>(x.response.size());
            const float* lp = scores.logprob.data() + start;
            // One optimiser step per batch: the proximal policy is the current one (ratio 1 at the
            // only step); its log-probs are the ones just computed, without gradient.
            std::vector<float> old(lp, lp + n), a(n, static_cast<float>(adv[i]));
            sums.add(ppo_clip_loss_slice(lp, old.data(), a.data(), weights.data() + token_offset, n,
                                         opt.loss.clip_low, opt.loss.clip_high, g_lp.data() + start));
            for (int t = 0; t < n; ++t) {
                const float w = weights[token_offset + t];
                const float H = scores.entropy[start + t];
                entropy_sum += H;
                entropy_weighted += w * H;
                g_ent[start + t] = static_cast<float>(-opt.entropy_coef * w);  // loss -= coef * H
                const double lag = static_cast<double>(policy_version - x.token_version[t]);
                staleness_sum += lag;
                staleness_max = std::max(staleness_max, lag);
                if (x.token_version[t] == policy_version) {
                    const double d = std::fabs(lp[t] - x.behaviour_logprob[t]);
                    mismatch_sum += d;
                    mismatch_max = std::max(mismatch_max, d);
                    ++mismatch_tokens;
                }
            }
            token_offset += n;
            response_tokens += n;
        }
        engine_.backward(g_lp, opt.entropy_coef != 0.0 ? g_ent : std::vector<float>{}, grads_.data());
    }

    // ---- optimiser ------------------------------------------------------------------------------
    const float norm = clip_grad_norm(grads_.data(), grads_.size(), opt.grad_clip);
    const float lr = schedule_.lr_at(adam_.step_count());
    const bool finite = std::isfinite(norm);
    if (finite) adam_.step(model_.data.data(), grads_.data(), lr);

    StepMetrics m;
    std::vector<double> lengths, correct;
    for (const Experience& x : batch) {
        lengths.push_back(static_cast<double>(x.response.size()));
        correct.push_back(x.correct ? 1.0 : 0.0);
    }
    const double T = std::max<long>(response_tokens, 1);
    m["reward/mean"] = mean(rewards);
    m["reward/std"] = stddev(rewards);
    m["accuracy"] = mean(correct);
    m["response_length/mean"] = mean(lengths);
    m["response_length/max"] = *std::max_element(lengths.begin(), lengths.end());
    m["pg_loss"] = sums.loss;
    m["loss"] = sums.loss - opt.entropy_coef * entropy_weighted;
    m["entropy"] = entropy_sum / T;
    m["clip_frac/low"] = sums.clipped_low / T;
    m["clip_frac/high"] = sums.clipped_high / T;
    m["approx_kl"] = sums.kl / T;
    m["grad_norm"] = norm;
    m["lr"] = lr;
    m["skipped_step"] = finite ? 0.0 : 1.0;
    m["staleness/mean"] = staleness_sum / T;
    m["staleness/max"] = staleness_max;
    m["logprob_mismatch/mean"] = mismatch_tokens ? mismatch_sum / mismatch_tokens : 0.0;
    m["logprob_mismatch/max"] = mismatch_max;
    m["adv/mean"] = mean(adv);
    m["adv/std"] = stddev(adv);
    m["response_tokens"] = static_cast<double>(response_tokens);
    return m;
}

}  // namespace stride
