#include "reward/registry.h"

#include <algorithm>
#include <map>

#include "common/base/error.h"
#include "reward/builtins.h"
#include "reward/code_exec/code_exec.h"
#include "reward/composite_reward.h"
#include "reward/guard.h"
#include "reward/plugin/plugin_reward.h"
#include "reward/plugin/python_reward.h"

namespace stride {

namespace {

using Factory = std::unique_ptr<RewardFn> (*)();

const std::map<std::string, Factory> kBuiltins = {
    {"exact_match", make_exact_match_reward},
    {"arith", make_arith_reward},
    {"math", make_math_reward},
    {"gsm8k", make_gsm8k_reward},
    {"collatz", make_collatz_reward},
};

class ShapedReward : public RewardFn {
   public:
    // plugin (C ABI or python:): the pool enforces the time limit itself (it must kill the worker), so no
    // guard thread here, and the plug-in's score is partial credit rather than a correct flag.
    ShapedReward(std::shared_ptr<const RewardFn> base, RewardSpec spec, bool plugin)
        : base_(std::move(base)), spec_(std::move(spec)), plugin_(plugin) {}

    RewardResult score(const RewardInput& in) const override {
        RewardResult r = score_with_limit(base_, in, plugin_ ? 0.0 : spec_.timeout_s);
        shape(in, r);
        return r;
    }
    // Plug-ins score the whole batch in their worker pool; built-ins one by one, each under its limit.
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        if (!plugin_) return RewardFn::score_batch(in);
        std::vector<RewardResult> out = base_->score_batch(in);
        for (size_t i = 0; i < in.size(); ++i) shape(in[i], out[i]);
        return out;
    }
    void cancel() const override { base_->cancel(); }
    std::string name() const override { return base_->name(); }

   private:
    void shape(const RewardInput& in, RewardResult& r) const {
        if (plugin_ && r.status == RewardStatus::ok)
            r.score = spec_.incorrect + r.score * (spec_.correct - spec_.incorrect);
        else
            r.score = r.correct ? spec_.correct : spec_.incorrect;
        if (r.status == RewardStatus::unparseable) r.score -= spec_.format_weight;
        r.score += overlong_penalty(in.response_tokens, spec_.max_tokens, spec_.overlong_buffer,
                                    spec_.overlong_penalty);
    }

    std::shared_ptr<const RewardFn> base_;
    RewardSpec spec_;
    bool plugin_;
};

PluginOptions plugin_options(const RewardSpec& spec) {
    PluginOptions opt;
    opt.workers = spec.plugin_workers;
    opt.timeout_s = spec.timeout_s;
    opt.memory_mb = spec.plugin_memory_mb;
    opt.worker_exe = spec.plugin_worker_exe;
    opt.config_json = spec.plugin_config;
    opt.bind = spec.bridge_bind;
    opt.curve = spec.curve;
    opt.keys_dir = spec.keys_dir;
    opt.admit_remote = spec.admit_remote;
    return opt;
}

CodeExecOptions code_exec_options(const RewardSpec& spec) {
    STRIDE_CHECK(spec.code_exec_isolation == "namespaces" || spec.code_exec_isolation == "none",
                 "reward.code_exec_isolation: '" + spec.code_exec_isolation + "' is not namespaces or none");
    STRIDE_CHECK(spec.code_exec_score == "fraction" || spec.code_exec_score == "all",
                 "reward.code_exec_score: '" + spec.code_exec_score + "' is not fraction or all");
    CodeExecOptions opt;
    opt.isolation =
        spec.code_exec_isolation == "none" ? SandboxIsolation::none : SandboxIsolation::namespaces;
    opt.all_or_nothing = spec.code_exec_score == "all";
    opt.timeout_s = spec.timeout_s > 0 ? spec.timeout_s : opt.timeout_s;  // a sandbox always has a limit
    opt.memory_mb = spec.code_exec_memory_mb;
    opt.workers = spec.plugin_workers;
    return opt;
}

}  // namespace

RewardSpec reward_spec_from_config(const JobConfig& cfg, std::shared_ptr<const CurveKeys> curve) {
    RewardSpec s;
    s.fn = cfg.reward.fn;
    s.correct = cfg.reward.correct;
    s.incorrect = cfg.reward.incorrect;
    s.format_weight = cfg.reward.format_weight;
    s.overlong_buffer = cfg.reward.overlong_buffer;
    s.overlong_penalty = cfg.reward.overlong_penalty;
    s.max_tokens = cfg.rollout.max_tokens;
    s.timeout_s = cfg.reward.timeout_s;
    s.plugin_workers = cfg.reward.workers;
    s.plugin_memory_mb = cfg.reward.worker_memory_mb;
    s.plugin_config = cfg.reward.plugin_config;
    s.bridge_bind = cfg.reward.bind;
    if (curve) {
        s.keys_dir = cfg.network.keys_dir;
        s.admit_remote = !cfg.reward.bind.empty();
    }
    s.curve = std::move(curve);
    s.code_exec_isolation = cfg.reward.code_exec_isolation;
    s.code_exec_score = cfg.reward.code_exec_score;
    s.code_exec_memory_mb = cfg.reward.code_exec_memory_mb;
    return s;
}

std::vector<std::string> builtin_reward_names() {
    std::vector<std::string> names;
    for (const auto& [name, factory] : kBuiltins) names.push_back(name);
    return names;  // std::map keeps them sorted
}

std::unique_ptr<RewardFn> make_base_reward(const std::string& name) {
    if (is_plugin_spec(name)) return make_plugin_reward(name, PluginOptions{});
    if (is_python_spec(name)) return make_python_reward(name, PluginOptions{});
    if (name == "code_exec") return make_code_exec_reward(CodeExecOptions{});
    auto it = kBuiltins.find(name);
    if (it == kBuiltins.end()) {
        std::string known;
        for (const auto& n : builtin_reward_names()) known += (known.empty() ? "" : ", ") + n;
        throw Error("reward.fn: unknown reward '" + name + "' (built-ins: " + known + ")");
    }
    return it->second();
}

namespace {

// The unshaped reward of one spec. `pool`: a plug-in, Python function or code_exec, which gives partial
// credit, enforces the time limit itself (it must kill its worker or sandbox) and scores batches in one
// call; otherwise a built-in (1 or 0, run under the limit by the caller).
std::shared_ptr<const RewardFn> make_unshaped(const std::string& fn, const RewardSpec& spec, bool& pool) {
    pool = true;
    if (is_plugin_spec(fn)) return make_plugin_reward(fn, plugin_options(spec));
    // A Python function is a plug-in in another language: same pool options, same shaping.
    if (is_python_spec(fn)) return make_python_reward(fn, plugin_options(spec));
    // Sandboxed programs: partial credit like a plug-in, and the sandbox kills at the time limit itself.
    if (fn == "code_exec") return make_code_exec_reward(code_exec_options(spec));
    pool = false;
    return make_base_reward(fn);
}

}  // namespace

std::shared_ptr<const RewardFn> make_reward(const RewardSpec& spec) {
    STRIDE_CHECK(spec.overlong_buffer == 0 || spec.overlong_buffer < spec.max_tokens,
                 "reward.overlong_buffer: must be smaller than rollout.max_tokens");
    bool pool = false;
    if (!is_composite_spec(spec.fn)) {
        auto base = make_unshaped(spec.fn, spec, pool);
        return std::make_shared<ShapedReward>(std::move(base), spec, pool);
    }
    // A weighted sum of terms: each term unshaped (pools batched, built-ins under the time limit), the
    // sum shaped once, as partial credit.
    std::vector<CompositeTerm> terms;
    for (const RewardTerm& t : parse_reward_terms(spec.fn)) {
        CompositeTerm c;
        c.weight = t.weight;
        c.fn = make_unshaped(t.fn, spec, pool);
        c.batched = pool;
        c.timeout_s = pool ? 0.0 : spec.timeout_s;
        terms.push_back(std::move(c));
    }
    return std::make_shared<ShapedReward>(make_composite_reward(std::move(terms), spec.fn), spec, true);
}

double overlong_penalty(int length, int max_tokens, int buffer, double factor) {
    if (buffer <= 0 || max_tokens <= 0) return 0.0;
    double over = static_cast<double>(length - (max_tokens - buffer)) / buffer;
    return -std::clamp(over, 0.0, 1.0) * factor;
}

}  // namespace stride
