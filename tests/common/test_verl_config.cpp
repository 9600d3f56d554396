// verl's spellings in Stride configs, and `stride config from-verl` on verl-shaped configs written
// from verl's documented ppo_trainer.yaml defaults and its GSM8K GRPO example.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/base/error.h"
#include "common/config_schema.h"
#include "common/verl_config.h"
#include "scheduler/job_config.h"
#include "tests/cli_test_util.h"

namespace stride {
namespace {

const std::string kMinimal = "data: {train: 'gen:arith?n=64&seed=1'}\ntokenizer: t.json\n";

std::string load_error(const std::vector<std::string>& overrides) {
    try {
        parse_job_config(kMinimal, "test.yaml", overrides);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string key_of(const VerlConversion& c, const std::string& key) {
    for (const auto& [k, v] : c.keys)
        if (k == key) return v;
    return "<unset>";
}

bool lists(const std::vector<std::string>& v, const std::string& prefix) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
}

TEST(VerlSpellings, EnumValuesTakeVerlsNamesAndStoreOurs) {
    JobConfig c = parse_job_config(
        kMinimal, "test.yaml", {"trainer.loss_agg=seq-mean-token-sum-norm", "trainer.kl_type=low_var_kl"});
    EXPECT_EQ(c.trainer.loss_agg, "seq_mean_token_sum_norm");
    EXPECT_EQ(c.trainer.kl_type, "k3");
    EXPECT_EQ(parse_job_config(kMinimal, "t", {"trainer.kl_type=kl"}).trainer.kl_type, "k1");
    EXPECT_EQ(parse_job_config(kMinimal, "t", {"trainer.kl_type=mse"}).trainer.kl_type, "k2");
    EXPECT_EQ(parse_job_config(kMinimal, "t", {"trainer.algorithm=gae"}).trainer.algorithm, "ppo");
    EXPECT_EQ(parse_job_config(kMinimal, "t", {"trainer.algorithm=reinforce_plus_plus"}).trainer.algorithm,
              "reinforce_pp");
    EXPECT_EQ(
        parse_job_config(kMinimal, "t", {"trainer.algorithm=reinforce_plus_plus_baseline"}).trainer.algorithm,
        "reinforce_pp_baseline");
    // A dump holds our spelling only, and reads back equal.
    const std::string dumped = dump_job_config(c);
    EXPECT_EQ(dumped.find("seq-mean"), std::string::npos);
    EXPECT_EQ(parse_job_config(dumped, "dump"), c);
    // Still refused: what is neither a choice nor an alias.
    EXPECT_NE(load_error({"trainer.kl_type=full"}).find("trainer.kl_type: expected one of k1, k2, k3"),
              std::string::npos);
    EXPECT_NE(load_error({"trainer.algorithm=remax"}).find("trainer.algorithm: expected one of"),
              std::string::npos);
}

TEST(VerlSpellings, KeysTableShowsTheAliases) {
    EXPECT_EQ(config_key_type(*find_config_key("trainer.kl_type")),
              "enum: k1, k2, k3 (also kl, mse, low_var_kl)");
}

TEST(VerlSpellings, SuggestionsNeverCrossSections) {
    EXPECT_EQ(suggest_config_key("actor_rollout_ref.actor.optim.lr"), "");  // not sft.lr
    EXPECT_EQ(suggest_config_key("rollout.lr"), "");                        // not trainer.lr
    EXPECT_EQ(suggest_config_key("trainer.n"), "");                         // not rollout.n
    EXPECT_EQ(suggest_config_key("rollout.nn"), "rollout.n");
    EXPECT_EQ(suggest_config_key("trainr.lr"), "trainer.lr");  // a misspelt section
    EXPECT_EQ(suggest_config_key("model.init.hiden"), "model.init.hidden");
    EXPECT_EQ(suggest_config_key("rolout"), "rollout");
    EXPECT_EQ(suggest_config_key("trainer.lrr"), "trainer.lr");
}

TEST(VerlSpellings, AVerlKeyInAStrideConfigSaysWhatItIsHere) {
    const std::string e = load_error({"actor_rollout_ref.actor.optim.lr=1e-6"});
    EXPECT_NE(e.find("verl's actor_rollout_ref.actor.optim.lr is trainer.lr here"), std::string::npos) << e;
    EXPECT_EQ(e.find("sft.lr"), std::string::npos) << e;
    EXPECT_NE(load_error({"trainer.total_training_steps=5"}).find("is trainer.steps here"),
              std::string::npos);
    try {
        parse_job_config(kMinimal + "algorithm: {adv_estimator: grpo}\n", "test.yaml");
        FAIL() << "a verl section loaded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("algorithm is a verl section; `stride config from-verl`"),
                  std::string::npos)
            << e.what();
    }
}

// verl's GSM8K GRPO example (examples/grpo_trainer/run_qwen2-7b.sh), as overrides over its defaults.
const std::vector<std::string> kGsm8kGrpo = {
    "algorithm.adv_estimator=grpo",
    "data.train_files=/data/gsm8k/train.parquet",
    "data.val_files=/data/gsm8k/test.parquet",
    "data.train_batch_size=1024",
    "data.max_prompt_length=512",
    "data.max_response_length=1024",
    "data.filter_overlong_prompts=True",
    "data.truncation='error'",
    "actor_rollout_ref.model.path=/models/Qwen2-7B-Instruct",
    "actor_rollout_ref.actor.optim.lr=1e-6",
    "actor_rollout_ref.model.use_remove_padding=True",
    "actor_rollout_ref.actor.ppo_mini_batch_size=256",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=40",
    "actor_rollout_ref.actor.use_kl_loss=True",
    "actor_rollout_ref.actor.kl_loss_coef=0.001",
    "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
    "actor_rollout_ref.actor.entropy_coeff=0",
    "actor_rollout_ref.actor.fsdp_config.param_offload=False",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=2",
    "actor_rollout_ref.rollout.name=vllm",
    "actor_rollout_ref.rollout.gpu_memory_utilization=0.6",
    "actor_rollout_ref.rollout.n=5",
    "actor_rollout_ref.ref.fsdp_config.param_offload=True",
    "algorithm.use_kl_in_reward=False",
    "trainer.critic_warmup=0",
    "trainer.logger=['console','wandb']",
    "trainer.project_name='verl_grpo_example_gsm8k'",
    "trainer.experiment_name='qwen2_7b_function_rm'",
    "trainer.n_gpus_per_node=8",
    "trainer.nnodes=1",
    "trainer.save_freq=20",
    "trainer.test_freq=5",
    "trainer.total_epochs=15",
};

TEST(FromVerl, TheGsm8kGrpoExampleMapsKeyByKey) {
    const VerlConversion c = convert_verl_config(read_verl_config("", "overrides", kGsm8kGrpo));
    EXPECT_EQ(key_of(c, "trainer.algorithm"), "grpo");
    EXPECT_EQ(key_of(c, "data.train"), "/data/gsm8k/train.parquet");
    EXPECT_EQ(key_of(c, "data.eval"), "/data/gsm8k/test.parquet");
    EXPECT_EQ(key_of(c, "trainer.prompts_per_step"), "1024");
    EXPECT_EQ(key_of(c, "data.max_prompt_tokens"), "512");
    EXPECT_EQ(key_of(c, "rollout.max_tokens"), "1024");
    EXPECT_EQ(key_of(c, "model.path"), "/models/Qwen2-7B-Instruct");
    EXPECT_EQ(key_of(c, "trainer.lr"), "1e-6");
    EXPECT_EQ(key_of(c, "trainer.mini_batches"), "4");  // 1024 prompts / 256 per mini-batch
    EXPECT_EQ(key_of(c, "trainer.kl_coef"), "0.001");
    EXPECT_EQ(key_of(c, "trainer.kl_type"), "k3");
    EXPECT_EQ(key_of(c, "rollout.n"), "5");
    EXPECT_EQ(key_of(c, "name"), "qwen2_7b_function_rm");
    EXPECT_EQ(key_of(c, "trainer.checkpoint_every"), "20");
    EXPECT_EQ(key_of(c, "trainer.eval_every"), "5");
    // verl's defaults for what the example leaves out.
    EXPECT_EQ(key_of(c, "trainer.dual_clip"), "3.0");
    EXPECT_EQ(key_of(c, "trainer.loss_agg"), "token_mean");
    EXPECT_EQ(key_of(c, "trainer.weight_decay"), "0.01");
    EXPECT_EQ(key_of(c, "rollout.temperature"), "1.0");
    EXPECT_EQ(key_of(c, "trainer.norm_adv_by_std"), "true");
    EXPECT_EQ(key_of(c, "trainer.lam"), "<unset>");  // grpo has no critic
    // Epochs and the reward need the data (the CLI reads it); engine settings are only ignored.
    EXPECT_EQ(c.total_epochs, 15);
    EXPECT_TRUE(c.reward_from_data_source);
    EXPECT_TRUE(c.unmapped.empty()) << c.unmapped.front();
    for (const char* k :
         {"actor_rollout_ref.rollout.name", "actor_rollout_ref.ref.fsdp_config.param_offload",
          "trainer.logger", "trainer.n_gpus_per_node", "actor_rollout_ref.model.use_remove_padding"})
        EXPECT_TRUE(lists(c.ignored, k)) << k;
}

// An excerpt of verl's ppo_trainer.yaml (defaults as documented), with its interpolations.
const char* kPpoTrainerYaml = R"(
data:
  tokenizer: null
  train_files: ~/data/rlhf/gsm8k/train.parquet
  val_files: ~/data/rlhf/gsm8k/test.parquet
  prompt_key: prompt
  max_prompt_length: 512
  max_response_length: 512
  train_batch_size: 1024
  shuffle: True
  filter_overlong_prompts: False
  truncation: error
actor_rollout_ref:
  hybrid_engine: True
  model:
    path: ~/models/deepseek-llm-7b-chat
    override_config: { }
  actor:
    strategy: fsdp
    ppo_mini_batch_size: 256
    grad_clip: 1.0
    clip_ratio: 0.2
    clip_ratio_low: 0.2
    clip_ratio_high: 0.28
    clip_ratio_c: 3.0
    loss_agg_mode: "seq-mean-token-mean"
    entropy_coeff: 0
    use_kl_loss: False
    kl_loss_coef: 0.001
    kl_loss_type: low_var_kl
    ppo_epochs: 2
    optim:
      lr: 1e-6
      min_lr_ratio: null
      lr_warmup_steps_ratio: 0.1
      warmup_style: cosine
      weight_decay: 0.01
      betas: [0.9, 0.95]
    fsdp_config:
      param_offload: False
  rollout:
    name: vllm
    temperature: 0.7
    top_k: -1
    top_p: 1
    response_length: ${data.max_response_length}
    prompt_length: ${oc.select:data.max_prompt_length,512}
    n: 1
    multi_turn:
      enable: True
critic:
  optim:
    lr: 1e-5
  ppo_epochs: ${actor_rollout_ref.actor.ppo_epochs}
  cliprange_value: 0.5
custom_reward_function:
  path: /work/reward.py
  name: my_score
algorithm:
  gamma: 1.0
  lam: 0.95
  adv_estimator: gae
  use_kl_in_reward: True
  kl_penalty: mse
  kl_ctrl:
    type: adaptive
    kl_coef: 0.002
trainer:
  total_epochs: 30
  total_training_steps: 200
  project_name: verl_examples
  experiment_name: gsm8k
  save_freq: -1
  resume_mode: disable
  some_new_verl_key: 1
)";

TEST(FromVerl, APpoTrainerYamlWithInterpolationsAndWhatItCannotMap) {
    const VerlConversion c = convert_verl_config(read_verl_config(kPpoTrainerYaml, "ppo.yaml", {}));
    const std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
    EXPECT_EQ(key_of(c, "data.train"), home + "/data/rlhf/gsm8k/train.parquet");
    EXPECT_EQ(key_of(c, "trainer.algorithm"), "gae");
    EXPECT_EQ(key_of(c, "trainer.lam"), "0.95");
    EXPECT_EQ(key_of(c, "trainer.critic_lr"), "1e-5");
    EXPECT_EQ(key_of(c, "trainer.vf_clip"), "0.5");
    EXPECT_EQ(key_of(c, "trainer.clip_high"), "0.28");
    EXPECT_EQ(key_of(c, "trainer.loss_agg"), "seq_mean_token_mean");
    EXPECT_EQ(key_of(c, "trainer.ppo_epochs"), "2");
    EXPECT_EQ(key_of(c, "trainer.lr_schedule"), "cosine");
    EXPECT_EQ(key_of(c, "trainer.betas"), "[0.9, 0.95]");
    EXPECT_EQ(key_of(c, "trainer.steps"), "200");
    EXPECT_EQ(key_of(c, "trainer.warmup_steps"), "20");  // 0.1 x 200 steps
    EXPECT_EQ(key_of(c, "rollout.max_tokens"), "512");   // ${data.max_response_length}
    EXPECT_EQ(key_of(c, "trainer.kl_in_reward"), "true");
    EXPECT_EQ(key_of(c, "trainer.kl_coef"), "0.002");
    EXPECT_EQ(key_of(c, "trainer.kl_type"), "k2");
    EXPECT_EQ(key_of(c, "reward.fn"), "python:/work/reward.py:my_score");
    EXPECT_EQ(key_of(c, "resume"), "off");
    EXPECT_EQ(key_of(c, "data.max_prompt_tokens"), "<unset>");
    EXPECT_EQ(c.total_epochs, 0);  // total_training_steps decides
    // Every verl key Stride does not follow is named, with why.
    EXPECT_TRUE(lists(c.unmapped, "algorithm.kl_ctrl.type: Stride's KL coefficient is fixed"));
    EXPECT_TRUE(lists(c.unmapped, "data.max_prompt_length: without filter_overlong_prompts"));
    EXPECT_TRUE(
        lists(c.unmapped, "actor_rollout_ref.rollout.multi_turn.enable: True: Stride has no such feature"));
    EXPECT_EQ(c.unmapped.size(), 4u) << "each key once";
    EXPECT_TRUE(lists(c.unmapped, "trainer.some_new_verl_key: no Stride equivalent"));
    EXPECT_TRUE(lists(c.ignored, "actor_rollout_ref.actor.fsdp_config.param_offload"));
    EXPECT_FALSE(lists(c.unmapped, "critic.ppo_epochs"));  // resolved and ignored, not unmapped
}

TEST(FromVerl, HydraOverridesAddReplaceAndDelete) {
    const VerlLeaves l = read_verl_config(
        "algorithm: {adv_estimator: gae, gamma: 0.9}\ndata: {val_files: v.parquet}\n", "base.yaml",
        {"algorithm.adv_estimator=rloo", "+algorithm.filter_groups.enable=True", "~data.val_files",
         "data.train_files=[a.parquet,b.jsonl]"});
    const VerlConversion c = convert_verl_config(l);
    EXPECT_EQ(key_of(c, "trainer.algorithm"), "rloo");
    EXPECT_EQ(key_of(c, "trainer.dynamic_sampling"), "true");
    EXPECT_EQ(key_of(c, "data.eval"), "<unset>");
    EXPECT_EQ(key_of(c, "data.train"), "a.parquet,b.jsonl");
    EXPECT_TRUE(lists(c.unmapped, "algorithm.gamma: rloo does not discount"));
    EXPECT_THROW(read_verl_config("", "x", {"novalue"}), Error);
}

TEST(FromVerl, AnEstimatorStrideLacksIsReported) {
    const VerlConversion c =
        convert_verl_config(read_verl_config("", "x", {"algorithm.adv_estimator=remax"}));
    EXPECT_EQ(key_of(c, "trainer.algorithm"), "<unset>");
    EXPECT_TRUE(lists(c.unmapped, "algorithm.adv_estimator: \"remax\" is not implemented"));
}

// The binary: overrides + a readable training file -> steps from epochs, reward from data_source,
// and a YAML that loads as a job config.
TEST(FromVerlCli, WritesAConfigThatLoads) {
    if (!std::filesystem::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
    const auto dir = std::filesystem::temp_directory_path() / ("from_verl_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream f(dir / "train.jsonl");
        for (int i = 0; i < 10; ++i)
            f << "{\"data_source\": \"openai/gsm8k\", \"prompt\": [{\"role\": \"user\", \"content\": \"q" << i
              << "\"}], \"reward_model\": {\"ground_truth\": \"" << i << "\", \"style\": \"rule\"}}\n";
    }
    const std::string out = (dir / "stride.yaml").string();
    int rc = 0;
    const std::string err = stride::test::run_capture(
        std::string(STRIDE_BIN) + " config from-verl algorithm.adv_estimator=grpo data.train_files=" +
            (dir / "train.jsonl").string() +
            " data.filter_overlong_prompts=True data.train_batch_size=4 actor_rollout_ref.rollout.n=4 "
            "actor_rollout_ref.actor.ppo_mini_batch_size=2 "
            "actor_rollout_ref.model.path=/models/q" +
            " trainer.total_epochs=3 trainer.nnodes=1 -o " + out + " 2>&1",
        rc);
    ASSERT_EQ(rc, 0) << err;
    EXPECT_NE(err.find("0 verl keys not mapped"), std::string::npos) << err;
    const JobConfig cfg = load_job_config(out);
    EXPECT_EQ(cfg.trainer.steps, 6);  // 3 epochs x floor(10 rows / 4)
    EXPECT_EQ(cfg.reward.fn, "gsm8k");
    EXPECT_EQ(cfg.trainer.prompts_per_step, 4);
    EXPECT_EQ(cfg.rollout.n, 4);
    EXPECT_EQ(cfg.trainer.mini_batches, 2);
    EXPECT_EQ(cfg.data.train, (dir / "train.jsonl").string());
    // A verl key Stride does not follow shows up in the file and on stderr.
    const std::string err2 = stride::test::run_capture(
        std::string(STRIDE_BIN) + " config from-verl algorithm.adv_estimator=grpo data.train_files=" +
            (dir / "train.jsonl").string() +
            " data.filter_overlong_prompts=True data.train_batch_size=4 actor_rollout_ref.rollout.n=2 "
            "trainer.total_epochs=1 actor_rollout_ref.actor.ppo_mini_batch_size=4"
            " actor_rollout_ref.model.path=/models/q"
            " actor_rollout_ref.actor.optim.min_lr_ratio=0.1 -o " +
            out + " 2>&1",
        rc);
    ASSERT_EQ(rc, 0) << err2;
    EXPECT_NE(err2.find("not mapped: actor_rollout_ref.actor.optim.min_lr_ratio"), std::string::npos) << err2;
    std::ifstream f(out);
    const std::string yaml((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_NE(yaml.find("#   actor_rollout_ref.actor.optim.min_lr_ratio"), std::string::npos) << yaml;
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stride
