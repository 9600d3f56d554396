// The rules of `stride config from-verl`: verl ppo_trainer keys -> Stride keys. Each rule reads the
// verl keys of one concern; a key the user did not give takes verl's documented default (kDefaults,
// from verl/trainer/config/ppo_trainer.yaml), so a job given as a few overrides converts to what
// verl would run. What a rule cannot follow is reported with the reason; keys no rule reads are
// reported by convert_verl_config, as engine settings (ignored) or as not mapped.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "common/base/error.h"
#include "common/verl_config.h"
#include "common/verl_rules.h"

namespace stride::verl {

namespace {

const std::map<std::string, std::string> kDefaults = {
    {"data.prompt_key", "prompt"},
    {"data.max_prompt_length", "512"},
    {"data.max_response_length", "512"},
    {"data.train_batch_size", "1024"},
    {"data.filter_overlong_prompts", "false"},
    {"data.truncation", "error"},
    {"data.shuffle", "true"},
    {"data.reward_fn_key", "data_source"},
    {"actor_rollout_ref.actor.optim.lr", "1e-6"},
    {"actor_rollout_ref.actor.optim.lr_warmup_steps", "-1"},
    {"actor_rollout_ref.actor.optim.lr_warmup_steps_ratio", "0.0"},
    {"actor_rollout_ref.actor.optim.warmup_style", "constant"},
    {"actor_rollout_ref.actor.optim.min_lr_ratio", "0.0"},
    {"actor_rollout_ref.actor.optim.weight_decay", "0.01"},
    {"actor_rollout_ref.actor.grad_clip", "1.0"},
    {"actor_rollout_ref.actor.ppo_mini_batch_size", "256"},
    {"actor_rollout_ref.actor.ppo_epochs", "1"},
    {"actor_rollout_ref.actor.use_dynamic_bsz", "false"},
    {"actor_rollout_ref.actor.ppo_max_token_len_per_gpu", "16384"},
    {"actor_rollout_ref.actor.clip_ratio", "0.2"},
    {"actor_rollout_ref.actor.clip_ratio_low", "0.2"},
    {"actor_rollout_ref.actor.clip_ratio_high", "0.2"},
    {"actor_rollout_ref.actor.clip_ratio_c", "3.0"},
    {"actor_rollout_ref.actor.loss_agg_mode", "token-mean"},
    {"actor_rollout_ref.actor.entropy_coeff", "0.0"},
    {"actor_rollout_ref.actor.use_kl_loss", "false"},
    {"actor_rollout_ref.actor.kl_loss_coef", "0.001"},
    {"actor_rollout_ref.actor.kl_loss_type", "low_var_kl"},
    {"actor_rollout_ref.actor.policy_loss.loss_mode", "vanilla"},
    {"actor_rollout_ref.actor.tis_imp_ratio_cap", "-1"},
    {"actor_rollout_ref.rollout.n", "1"},
    {"actor_rollout_ref.rollout.temperature", "1.0"},
    {"actor_rollout_ref.rollout.top_p", "1.0"},
    {"actor_rollout_ref.rollout.top_k", "-1"},
    {"actor_rollout_ref.rollout.val_kwargs.temperature", "0"},
    {"actor_rollout_ref.rollout.val_kwargs.do_sample", "false"},
    {"actor_rollout_ref.rollout.val_kwargs.n", "1"},
    {"critic.optim.lr", "1e-5"},
    {"critic.cliprange_value", "0.5"},
    {"algorithm.adv_estimator", "gae"},
    {"algorithm.gamma", "1.0"},
    {"algorithm.lam", "1.0"},
    {"algorithm.norm_adv_by_std_in_grpo", "true"},
    {"algorithm.use_kl_in_reward", "false"},
    {"algorithm.kl_penalty", "kl"},
    {"algorithm.kl_ctrl.type", "fixed"},
    {"algorithm.kl_ctrl.kl_coef", "0.001"},
    {"algorithm.filter_groups.enable", "false"},
    {"algorithm.filter_groups.metric", "acc"},
    {"algorithm.filter_groups.max_num_gen_batches", "0"},
    {"custom_reward_function.name", "compute_score"},
    {"reward_model.enable", "false"},
    {"reward_model.reward_manager", "naive"},
    {"trainer.total_epochs", "30"},
    {"trainer.save_freq", "-1"},
    {"trainer.test_freq", "-1"},
    {"trainer.resume_mode", "auto"},
    {"trainer.experiment_name", "gsm8k"},
};

bool truthy(const std::string& t) {
    return t == "true" || t == "True" || t == "TRUE" || t == "1" || t == "yes";
}

double number(const std::string& key, const std::string& t) {
    char* end = nullptr;
    const double x = std::strtod(t.c_str(), &end);
    STRIDE_CHECK(!t.empty() && end && *end == '\0', key + ": expected a number, got \"" + t + "\"");
    return x;
}

// "~/x" -> "$HOME/x", as verl's os.path.expanduser does.
std::string expand_home(const std::string& p) {
    const char* home = std::getenv("HOME");
    if (p.rfind("~/", 0) == 0 && home) return std::string(home) + p.substr(1);
    return p;
}

}  // namespace

const VerlValue* Rules::get(const std::string& key) {
    read_.insert(key);
    if (auto it = given_.find(key); it != given_.end()) return &it->second;
    if (auto it = kDefaults.find(key); it != kDefaults.end()) {
        defaults_[key].text = it->second;
        return &defaults_[key];
    }
    return nullptr;
}

bool Rules::given(const std::string& key) const {
    return given_.count(key) > 0;
}

std::string Rules::text(const std::string& key) {
    const VerlValue* v = get(key);
    if (!v || v->is_null) return "";
    if (v->is_list) return fmt::format("{}", fmt::join(v->items, ","));
    return v->text;
}

bool Rules::flag(const std::string& key) {
    return truthy(text(key));
}

// A null (`min_lr_ratio: null` in older verl configs) means verl's default, or 0 without one.
double Rules::num(const std::string& key) {
    const std::string t = text(key);
    if (!t.empty()) return number(key, t);
    auto it = kDefaults.find(key);
    return it != kDefaults.end() ? number(key, it->second) : 0.0;
}

void Rules::set(const std::string& stride_key, const std::string& value) {
    for (auto& kv : out_.keys)
        if (kv.first == stride_key) {
            kv.second = value;
            return;
        }
    out_.keys.emplace_back(stride_key, value);
}

void Rules::copy(const std::string& verl_key, const std::string& stride_key) {
    const std::string t = text(verl_key);
    if (!t.empty()) set(stride_key, t);
}

void Rules::unmapped(const std::string& verl_key, const std::string& why) {
    out_.unmapped.push_back(verl_key + ": " + why);
}

bool Rules::was_read(const std::string& key) const {
    return read_.count(key) > 0;
}

// ---- the rules ------------------------------------------------------------------------------------

void data_rules(Rules& r) {
    for (const auto& [verl_key, stride_key] :
         {std::pair{"data.train_files", "data.train"}, std::pair{"data.val_files", "data.eval"}}) {
        const VerlValue* v = r.get(verl_key);
        if (!v || v->is_null) continue;
        std::vector<std::string> files = v->is_list ? v->items : std::vector<std::string>{v->text};
        std::string joined;
        for (const std::string& f : files) joined += (joined.empty() ? "" : ",") + expand_home(f);
        r.set(stride_key, joined);
    }
    // verl evaluates on val_files only; Stride would otherwise hold out data.eval_size training prompts.
    if (r.text("data.val_files").empty()) r.set("data.eval_size", "0");
    r.copy("data.prompt_key", "data.prompt_key");
    r.set("rollout.max_tokens", r.text("data.max_response_length"));
    if (r.given("actor_rollout_ref.rollout.response_length"))
        r.set("rollout.max_tokens", r.text("actor_rollout_ref.rollout.response_length"));
    r.set("trainer.prompts_per_step", r.text("data.train_batch_size"));
    if (r.flag("data.filter_overlong_prompts")) {
        r.set("data.max_prompt_tokens", r.text("data.max_prompt_length"));
    } else {
        r.get("data.max_prompt_length");
        r.unmapped("data.max_prompt_length",
                   "without filter_overlong_prompts verl refuses (truncation: " + r.text("data.truncation") +
                       ") a longer prompt; Stride keeps every prompt unless data.max_prompt_tokens is set");
    }
    r.get("data.truncation");
    if (!r.flag("data.shuffle"))
        r.unmapped("data.shuffle", "false: Stride always shuffles, in an order fixed by seed");
    if (r.text("data.reward_fn_key") != "data_source")
        r.unmapped("data.reward_fn_key", "Stride passes the data_source column to the reward");
    r.copy("data.seed", "seed");
}

void model_rules(Rules& r) {
    const std::string path = r.text("actor_rollout_ref.model.path");
    if (!path.empty()) r.set("model.path", expand_home(path));
    if (!r.text("actor_rollout_ref.model.custom_chat_template").empty())
        r.unmapped("actor_rollout_ref.model.custom_chat_template",
                   "Stride renders the model's own chat_template (data.chat_template: auto)");
    const std::string tok = r.text("data.tokenizer");
    if (!tok.empty()) r.set("tokenizer", expand_home(tok) + "/tokenizer.json");
}

void optim_rules(Rules& r) {
    const std::string o = "actor_rollout_ref.actor.optim.";
    r.set("trainer.lr", r.text(o + "lr"));
    r.set("trainer.weight_decay", r.text(o + "weight_decay"));
    if (const VerlValue* b = r.get(o + "betas"); b && b->is_list)
        r.set("trainer.betas", fmt::format("[{}]", fmt::join(b->items, ", ")));
    // Newer verl names the clip optim.clip_grad; the actor's grad_clip is the older spelling.
    r.set("trainer.grad_clip",
          r.given(o + "clip_grad") ? r.text(o + "clip_grad") : r.text("actor_rollout_ref.actor.grad_clip"));
    const std::string style =
        r.given(o + "lr_scheduler_type") ? r.text(o + "lr_scheduler_type") : r.text(o + "warmup_style");
    r.get(o + "warmup_style");
    if (style == "constant" || style == "cosine")
        r.set("trainer.lr_schedule", style);
    else
        r.unmapped(o + "warmup_style", "\"" + style + "\": Stride has constant, linear and cosine");
    if (r.num(o + "min_lr_ratio") != 0.0) r.unmapped(o + "min_lr_ratio", "Stride's cosine decays to 0");
    r.get(o + "num_cycles");
    const double warmup = r.num(o + "lr_warmup_steps");
    const double ratio = r.num(o + "lr_warmup_steps_ratio");
    if (warmup > 0) {
        r.set("trainer.warmup_steps", fmt::format("{}", static_cast<int>(warmup)));
    } else if (ratio > 0) {
        const std::string steps = r.text("trainer.total_training_steps");
        if (!steps.empty())
            r.set("trainer.warmup_steps",
                  fmt::format("{}", static_cast<int>(ratio * number("trainer.total_training_steps", steps))));
        else
            r.unmapped(o + "lr_warmup_steps_ratio",
                       "a share of the total steps: set trainer.warmup_steps = ratio x trainer.steps");
    }
}

void loss_rules(Rules& r) {
    const std::string a = "actor_rollout_ref.actor.";
    r.set("trainer.clip_low", r.text(a + "clip_ratio_low"));
    r.set("trainer.clip_high", r.text(a + "clip_ratio_high"));
    if (r.given(a + "clip_ratio") && !r.given(a + "clip_ratio_low") && !r.given(a + "clip_ratio_high"))
        r.unmapped(a + "clip_ratio",
                   "verl's clip_ratio_low/high (0.2 by default) take precedence over it; set those");
    r.get(a + "clip_ratio");
    r.set("trainer.dual_clip", r.text(a + "clip_ratio_c"));
    std::string agg = r.text(a + "loss_agg_mode");
    for (char& c : agg)
        if (c == '-') c = '_';
    r.set("trainer.loss_agg", agg);
    r.set("trainer.entropy_coef", r.text(a + "entropy_coeff"));
    r.set("trainer.ppo_epochs", r.text(a + "ppo_epochs"));
    const double batch = r.num("data.train_batch_size");
    const double mini = r.num(a + "ppo_mini_batch_size");
    if (mini > 0 && std::fmod(batch, mini) == 0.0)
        r.set("trainer.mini_batches", fmt::format("{}", static_cast<int>(batch / mini)));
    else
        r.unmapped(a + "ppo_mini_batch_size", "does not divide data.train_batch_size");
    // Truncated importance sampling against the rollout engine's log-probs (verl's TIS).
    if (r.num(a + "tis_imp_ratio_cap") > 0) {
        r.set("trainer.is_correction", "truncate");
        r.set("trainer.is_cap", r.text(a + "tis_imp_ratio_cap"));
    }
    if (r.flag(a + "use_dynamic_bsz"))
        r.set("trainer.micro_batch_tokens", r.text(a + "ppo_max_token_len_per_gpu"));
    else
        r.get(a + "ppo_max_token_len_per_gpu");
}

void kl_rules(Rules& r) {
    const std::string a = "actor_rollout_ref.actor.";
    const bool in_loss = r.flag(a + "use_kl_loss");
    const bool in_reward = r.flag("algorithm.use_kl_in_reward");
    const std::string loss_type = r.text(a + "kl_loss_type"), penalty = r.text("algorithm.kl_penalty");
    const std::string coef_loss = r.text(a + "kl_loss_coef"),
                      coef_reward = r.text("algorithm.kl_ctrl.kl_coef");
    const std::set<std::string> ours = {"kl", "k1", "mse", "k2", "low_var_kl", "k3"};
    auto kind = [&](const std::string& verl_key, const std::string& t) {
        if (ours.count(t)) {
            r.set("trainer.kl_type", t == "kl" ? "k1" : t == "mse" ? "k2" : t == "low_var_kl" ? "k3" : t);
            return;
        }
        r.unmapped(verl_key, "\"" + t + "\": Stride has k1 (kl), k2 (mse) and k3 (low_var_kl)");
    };
    if (in_loss && in_reward)
        r.unmapped("algorithm.use_kl_in_reward",
                   "with use_kl_loss too: Stride has one KL term; kept the loss term");
    if (in_loss) {
        r.set("trainer.kl_coef", coef_loss);
        kind(a + "kl_loss_type", loss_type);
    } else if (in_reward) {
        r.set("trainer.kl_in_reward", "true");
        r.set("trainer.kl_coef", coef_reward);
        kind("algorithm.kl_penalty", penalty);
        if (r.text("algorithm.kl_ctrl.type") != "fixed")
            r.unmapped("algorithm.kl_ctrl.type", "Stride's KL coefficient is fixed");
    } else {
        r.set("trainer.kl_coef", "0.0");
    }
    for (const char* k :
         {"algorithm.kl_ctrl.type", "algorithm.kl_ctrl.horizon", "algorithm.kl_ctrl.target_kl"})
        r.get(k);
}

// verl's adv_estimator names are aliases of trainer.algorithm (the loader maps them).
void algorithm_rules(Rules& r) {
    const std::string est = r.text("algorithm.adv_estimator");
    const std::set<std::string> known = {"gae", "grpo", "reinforce_plus_plus", "reinforce_plus_plus_baseline",
                                         "rloo"};
    const std::string mode = r.text("actor_rollout_ref.actor.policy_loss.loss_mode");
    if (!known.count(est)) {
        r.unmapped(
            "algorithm.adv_estimator",
            "\"" + est + "\" is not implemented (Stride: gae, grpo, rloo, reinforce_plus_plus[_baseline])");
    } else if (mode == "gspo" && est == "grpo") {
        r.set("trainer.algorithm", "gspo");
    } else {
        r.set("trainer.algorithm", est);
    }
    if (mode != "vanilla" && !(mode == "gspo" && est == "grpo"))
        r.unmapped("actor_rollout_ref.actor.policy_loss.loss_mode",
                   "\"" + mode + "\": Stride has vanilla (PPO clip) and gspo (with grpo)");
    const bool discounts = est == "gae" || est == "reinforce_plus_plus";
    if (discounts)
        r.set("trainer.gamma", r.text("algorithm.gamma"));
    else if (r.num("algorithm.gamma") != 1.0)
        r.unmapped("algorithm.gamma", est + " does not discount");
    if (est == "gae") {
        r.set("trainer.lam", r.text("algorithm.lam"));
        r.set("trainer.critic_lr", r.text("critic.optim.lr"));
        r.set("trainer.vf_clip", r.text("critic.cliprange_value"));
        if (!r.text("critic.model.path").empty() &&
            r.text("critic.model.path") != r.text("actor_rollout_ref.model.path"))
            r.unmapped("critic.model.path", "Stride's critic starts from the policy's weights");
    } else {
        for (const char* k : {"algorithm.lam", "critic.optim.lr", "critic.cliprange_value"}) r.get(k);
    }
    if (est == "grpo")
        r.set("trainer.norm_adv_by_std", r.flag("algorithm.norm_adv_by_std_in_grpo") ? "true" : "false");
    r.get("algorithm.norm_adv_by_std_in_grpo");
    if (r.flag("algorithm.filter_groups.enable")) {
        r.set("trainer.dynamic_sampling", "true");
        r.set("trainer.max_gen_batches",
              fmt::format(
                  "{}", std::max(0, static_cast<int>(r.num("algorithm.filter_groups.max_num_gen_batches")))));
        const std::string metric = r.text("algorithm.filter_groups.metric");
        if (metric != "acc")
            r.unmapped("algorithm.filter_groups.metric",
                       "\"" + metric + "\": Stride filters groups on correctness (acc)");
    }
    r.get("algorithm.filter_groups.max_num_gen_batches");
    r.get("algorithm.filter_groups.metric");
}

void rollout_rules(Rules& r) {
    const std::string ro = "actor_rollout_ref.rollout.";
    r.set("rollout.n", r.text(ro + "n"));
    r.set("rollout.temperature", r.text(ro + "temperature"));
    r.set("rollout.top_p", r.text(ro + "top_p"));
    const double top_k = r.num(ro + "top_k");
    r.set("rollout.top_k", top_k <= 0 ? "-1" : r.text(ro + "top_k"));  // verl: 0 (hf) and -1 are off
    const bool greedy = r.num(ro + "val_kwargs.temperature") == 0.0 || !r.flag(ro + "val_kwargs.do_sample");
    if (!greedy || r.num(ro + "val_kwargs.n") != 1)
        r.unmapped(ro + "val_kwargs", "Stride's eval is greedy, one sample per prompt");
    for (const char* k : {"val_kwargs.top_k", "val_kwargs.top_p"}) r.get(ro + k);
}

void reward_rules(Rules& r) {
    const std::string path = r.text("custom_reward_function.path");
    const std::string name = r.text("custom_reward_function.name");
    if (!path.empty())
        r.set("reward.fn", "python:" + expand_home(path) + ":" + name);
    else
        r.out().reward_from_data_source = true;
    if (r.flag("reward_model.enable"))
        r.unmapped("reward_model.enable", "true: Stride has no model-based reward");
    const std::string manager = r.text("reward_model.reward_manager");
    if (manager != "naive" && manager != "dapo")
        r.unmapped("reward_model.reward_manager", "\"" + manager + "\": Stride scores one sample per call");
    // DAPO's soft overlong punishment: reward_model.overlong_buffer (recipe/dapo) or its newer
    // reward_model.reward_kwargs.overlong_buffer_cfg.
    for (const std::string p :
         {"reward_model.overlong_buffer.", "reward_model.reward_kwargs.overlong_buffer_cfg."}) {
        if (!r.flag(p + "enable")) continue;
        r.set("reward.overlong_buffer", r.text(p + "len"));
        r.set("reward.overlong_penalty", r.text(p + "penalty_factor"));
        r.get(p + "log");
    }
}

void trainer_rules(Rules& r) {
    const std::string steps = r.text("trainer.total_training_steps");
    if (!steps.empty()) {
        r.set("trainer.steps", steps);
        r.get("trainer.total_epochs");
    } else {
        r.out().total_epochs = static_cast<int>(r.num("trainer.total_epochs"));
        r.out().train_batch_size = static_cast<int>(r.num("data.train_batch_size"));
    }
    const double save = r.num("trainer.save_freq"), test = r.num("trainer.test_freq");
    r.set("trainer.checkpoint_every", fmt::format("{}", save > 0 ? static_cast<int>(save) : 0));
    r.set("trainer.eval_every", fmt::format("{}", test > 0 ? static_cast<int>(test) : 0));
    std::string name = r.text("trainer.experiment_name");
    for (char& c : name)
        if (c == '/') c = '_';
    if (!name.empty()) r.set("name", name);
    const std::string resume = r.text("trainer.resume_mode");
    if (resume == "auto" || resume == "disable")
        r.set("resume", resume == "auto" ? "auto" : "off");
    else
        r.unmapped("trainer.resume_mode",
                   "\"" + resume + "\": Stride resumes from its own run directory (resume: auto)");
    const std::string keep = r.text("trainer.max_actor_ckpt_to_keep");
    if (!keep.empty()) r.set("trainer.keep_checkpoints", keep);
    r.copy("trainer.seed", "seed");
}

}  // namespace stride::verl
