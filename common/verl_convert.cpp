// `stride config from-verl`: runs the rules (verl_rules.cpp) and sorts every verl key no rule read
// into engine settings (ignored) and the rest (not mapped); hints for verl keys in Stride configs.
#include <algorithm>
#include <set>

#include "common/verl_config.h"
#include "common/verl_rules.h"

namespace stride {

namespace {

// Parts of a key that mark settings of verl's engines (FSDP/Megatron, vLLM/SGLang, Ray, profilers,
// loggers, micro-batching for memory): they change speed or memory, never what Stride computes.
// `defaults` and `hydra`: Hydra's composition and run settings (the rules carry verl's defaults).
const std::set<std::string> kEngineParts = {"defaults",
                                            "hydra",
                                            "fsdp_config",
                                            "megatron",
                                            "profiler",
                                            "global_profiler",
                                            "checkpoint",
                                            "engine_kwargs",
                                            "agent",
                                            "trace",
                                            "ref",
                                            "ray_init",
                                            "ray_kwargs",
                                            "fused_kernel_options",
                                            "wrap_policy",
                                            "custom_cls",
                                            "sampler",
                                            "datagen",
                                            "override_config",
                                            "_target_",
                                            "strategy",
                                            "ulysses_sequence_parallel_size",
                                            "use_torch_compile",
                                            "ppo_micro_batch_size",
                                            "ppo_micro_batch_size_per_gpu",
                                            "log_prob_micro_batch_size",
                                            "log_prob_micro_batch_size_per_gpu",
                                            "log_prob_use_dynamic_bsz",
                                            "log_prob_max_token_len_per_gpu",
                                            "forward_micro_batch_size",
                                            "forward_micro_batch_size_per_gpu",
                                            "forward_max_token_len_per_gpu",
                                            "micro_batch_size",
                                            "micro_batch_size_per_gpu",
                                            "enable_gradient_checkpointing",
                                            "enable_activation_offload",
                                            "use_remove_padding",
                                            "use_liger",
                                            "use_fused_kernels",
                                            "use_shm",
                                            "trust_remote_code",
                                            "external_lib",
                                            "entropy_from_logits_with_chunking",
                                            "entropy_checkpointing",
                                            "gpu_memory_utilization",
                                            "tensor_model_parallel_size",
                                            "data_parallel_size",
                                            "expert_parallel_size",
                                            "dtype",
                                            "enforce_eager",
                                            "free_cache_engine",
                                            "load_format",
                                            "max_num_batched_tokens",
                                            "max_model_len",
                                            "max_num_seqs",
                                            "enable_chunked_prefill",
                                            "enable_prefix_caching",
                                            "disable_log_stats",
                                            "cudagraph_capture_sizes",
                                            "layered_summon",
                                            "update_weights_bucket_megabytes",
                                            "skip_rollout",
                                            "skip_dump_dir",
                                            "skip_tokenizer_init",
                                            "multi_stage_wake_up",
                                            "calculate_log_probs",
                                            "hybrid_engine",
                                            "nccl_timeout",
                                            "dataloader_num_workers",
                                            "filter_overlong_prompts_workers",
                                            "return_raw_input_ids",
                                            "return_raw_chat",
                                            "return_full_prompt",
                                            "return_multi_modal_inputs",
                                            "image_key",
                                            "video_key",
                                            "validation_shuffle",
                                            "val_batch_size",
                                            "logger",
                                            "project_name",
                                            "nnodes",
                                            "n_gpus_per_node",
                                            "device",
                                            "balance_batch",
                                            "log_val_generations",
                                            "rollout_data_dir",
                                            "validation_data_dir",
                                            "esi_redundant_time",
                                            "val_before_train",
                                            "val_only",
                                            "critic_warmup",
                                            "default_hdfs_dir",
                                            "del_local_ckpt_after_load",
                                            "default_local_dir",
                                            "max_critic_ckpt_to_keep",
                                            "ray_wait_register_center_timeout",
                                            "use_legacy_worker_impl",
                                            "launch_reward_fn_async",
                                            "total_training_steps",
                                            "rollout_n",
                                            "prompt_length",
                                            "hf_config_path",
                                            "tokenizer_path",
                                            "input_tokenizer",
                                            "num_workers",
                                            "mode",
                                            "name",
                                            "do_sample",
                                            "shuffle",
                                            "apply_chat_template_kwargs",
                                            "enable_resource_pool",
                                            "over_sample_rate",
                                            "ppo_epochs",
                                            "loss_agg_mode",
                                            "grad_clip",
                                            "use_dynamic_bsz",
                                            "ppo_max_token_len_per_gpu",
                                            "ppo_mini_batch_size",
                                            "multi_turn",
                                            "lora_alpha",
                                            "target_modules",
                                            "exclude_modules"};

// Verl sections whose whole subtree means nothing when the feature is off.
bool in_unused_section(const std::string& key, bool has_critic, bool model_reward) {
    if (!has_critic && key.rfind("critic.", 0) == 0) return true;
    if (!model_reward && key.rfind("reward_model.", 0) == 0 && key.find("overlong") == std::string::npos)
        return true;
    return false;
}

bool is_engine_setting(const std::string& key) {
    size_t start = 0;
    while (start <= key.size()) {
        size_t dot = key.find('.', start);
        if (dot == std::string::npos) dot = key.size();
        if (kEngineParts.count(key.substr(start, dot - start))) return true;
        start = dot + 1;
    }
    return false;
}

// Engine settings whose non-default value would change the run.
bool changes_the_run(const std::string& key, const VerlValue& v) {
    const bool on = v.text == "true" || v.text == "True";
    const std::string multi_turn = ".multi_turn.enable";
    if (key.size() > multi_turn.size() &&
        key.compare(key.size() - multi_turn.size(), std::string::npos, multi_turn) == 0)
        return on;
    if (key.find("lora_rank") != std::string::npos) return !v.text.empty() && v.text != "0";
    return false;
}

// verl key -> the Stride key that holds the same setting (for hints in Stride's own errors).
const std::vector<std::pair<const char*, const char*>> kSameSetting = {
    {"data.train_files", "data.train"},
    {"data.val_files", "data.eval"},
    {"data.max_prompt_length", "data.max_prompt_tokens (with filter_overlong_prompts)"},
    {"data.max_response_length", "rollout.max_tokens"},
    {"data.train_batch_size", "trainer.prompts_per_step"},
    {"actor_rollout_ref.model.path", "model.path"},
    {"actor_rollout_ref.actor.optim.lr", "trainer.lr"},
    {"actor_rollout_ref.actor.optim.weight_decay", "trainer.weight_decay"},
    {"actor_rollout_ref.actor.optim.betas", "trainer.betas"},
    {"actor_rollout_ref.actor.optim.lr_warmup_steps", "trainer.warmup_steps"},
    {"actor_rollout_ref.actor.optim.warmup_style", "trainer.lr_schedule"},
    {"actor_rollout_ref.actor.grad_clip", "trainer.grad_clip"},
    {"actor_rollout_ref.actor.clip_ratio_low", "trainer.clip_low"},
    {"actor_rollout_ref.actor.clip_ratio_high", "trainer.clip_high"},
    {"actor_rollout_ref.actor.clip_ratio_c", "trainer.dual_clip"},
    {"actor_rollout_ref.actor.loss_agg_mode", "trainer.loss_agg"},
    {"actor_rollout_ref.actor.entropy_coeff", "trainer.entropy_coef"},
    {"actor_rollout_ref.actor.kl_loss_coef", "trainer.kl_coef"},
    {"actor_rollout_ref.actor.kl_loss_type", "trainer.kl_type"},
    {"actor_rollout_ref.actor.ppo_epochs", "trainer.ppo_epochs"},
    {"actor_rollout_ref.rollout.n", "rollout.n"},
    {"actor_rollout_ref.rollout.temperature", "rollout.temperature"},
    {"actor_rollout_ref.rollout.top_p", "rollout.top_p"},
    {"actor_rollout_ref.rollout.top_k", "rollout.top_k"},
    {"actor_rollout_ref.rollout.response_length", "rollout.max_tokens"},
    {"critic.optim.lr", "trainer.critic_lr"},
    {"critic.cliprange_value", "trainer.vf_clip"},
    {"algorithm.adv_estimator", "trainer.algorithm"},
    {"algorithm.gamma", "trainer.gamma"},
    {"algorithm.lam", "trainer.lam"},
    {"algorithm.norm_adv_by_std_in_grpo", "trainer.norm_adv_by_std"},
    {"algorithm.use_kl_in_reward", "trainer.kl_in_reward"},
    {"algorithm.kl_penalty", "trainer.kl_type"},
    {"algorithm.kl_ctrl.kl_coef", "trainer.kl_coef"},
    {"algorithm.filter_groups.enable", "trainer.dynamic_sampling"},
    {"algorithm.filter_groups.max_num_gen_batches", "trainer.max_gen_batches"},
    {"custom_reward_function.path", "reward.fn (python:FILE.py:NAME)"},
    {"trainer.total_training_steps", "trainer.steps"},
    {"trainer.save_freq", "trainer.checkpoint_every"},
    {"trainer.test_freq", "trainer.eval_every"},
    {"trainer.experiment_name", "name"},
    {"trainer.resume_mode", "resume"},
    {"trainer.max_actor_ckpt_to_keep", "trainer.keep_checkpoints"},
};

const std::set<std::string> kVerlSections = {
    "actor_rollout_ref",      "algorithm", "critic",         "reward_model",
    "custom_reward_function", "ray_init",  "global_profiler"};

}  // namespace

VerlConversion convert_verl_config(const VerlLeaves& given) {
    VerlConversion out;
    verl::Rules r(given, out);
    for (auto rule :
         {verl::data_rules, verl::model_rules, verl::optim_rules, verl::loss_rules, verl::kl_rules,
          verl::algorithm_rules, verl::rollout_rules, verl::reward_rules, verl::trainer_rules})
        rule(r);
    const bool has_critic = r.text("algorithm.adv_estimator") == "gae";
    const bool model_reward = r.flag("reward_model.enable");
    for (const auto& [key, v] : given) {
        if (r.was_read(key)) continue;
        if (changes_the_run(key, v)) {
            out.unmapped.push_back(key + ": " + (v.text.empty() ? "set" : v.text) +
                                   ": Stride has no such feature");
        } else if (is_engine_setting(key) || in_unused_section(key, has_critic, model_reward)) {
            out.ignored.push_back(key);
        } else {
            out.unmapped.push_back(key + ": no Stride equivalent");
        }
    }
    return out;
}

std::string verl_key_hint(const std::string& key) {
    for (const auto& [verl_key, ours] : kSameSetting)
        if (key == verl_key) return "verl's " + key + " is " + ours + " here";
    const std::string first = key.substr(0, key.find('.'));
    if (kVerlSections.count(first))
        return first + " is a verl section; `stride config from-verl` converts a verl config";
    return "";
}

}  // namespace stride
