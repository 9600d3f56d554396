// JobConfig: YAML load, overrides, presets, dump round trip, and every error naming its key.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/base/error.h"
#include "common/config_schema.h"
#include "model/backend.h"
#include "model/transformer.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

// The smallest valid job: a new model needs a tokenizer, and every job needs training data.
const char* kMinimal = R"(
tokenizer: tok.json
data:
  train: gen:arith?n=1000&seed=1
)";

JobConfig parse(const std::string& extra, const std::vector<std::string>& overrides = {}) {
    return parse_job_config(std::string(kMinimal) + extra, "test.yaml", overrides);
}

// The message of the Error thrown by parse(...), or "" if it loads.
std::string error_of(const std::string& extra, const std::vector<std::string>& overrides = {}) {
    try {
        parse(extra, overrides);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_ERROR_HAS(msg, part) \
    EXPECT_NE(std::string(msg).find(part), std::string::npos) << "message: " << (msg)

// model.device and the per-role overrides: unknown values name their key; cuda is refused at load
// with the reason when this binary or machine cannot run it (always here without a GPU); a trainer on
// cuda also needs every training kernel there.
TEST(Config, DevicesAreCheckedAtLoad) {
    EXPECT_EQ(parse("").model.device, "cpu");
    EXPECT_EQ(rollout_device(parse("rollout:\n  device: cpu\n")), "cpu");
    EXPECT_ERROR_HAS(error_of("model:\n  device: tpu\n"), "model.device");
    EXPECT_ERROR_HAS(error_of("rollout:\n  device: gpu\n"), "rollout.device: 'gpu' is not a device");
    EXPECT_ERROR_HAS(error_of("trainer:\n  device: metal\n"), "trainer.device");
    const std::string why = device_unavailable_reason("cuda");
    if (!why.empty()) {
        const std::string e = error_of("", {"model.device=cuda"});
        EXPECT_ERROR_HAS(e, "model.device: cuda requested, but ");
        EXPECT_ERROR_HAS(e, why);
        EXPECT_ERROR_HAS(error_of("", {"rollout.device=cuda"}), "rollout.device: cuda requested");
    } else {
        EXPECT_EQ(rollout_device(parse("", {"rollout.device=cuda"})), "cuda");
    }
    // The trainer inherits model.device: accepted only where cuda is usable and has every backward and
    // optimizer kernel (Transformer::can_train), else refused naming the key.
    if (why.empty() && Transformer::can_train(backend_for_device("cuda"))) {
        EXPECT_EQ(error_of("", {"trainer.device=cuda"}), "");
        EXPECT_EQ(error_of("", {"model.device=cuda"}), "");
    } else {
        EXPECT_ERROR_HAS(error_of("", {"model.device=cuda"}), "model.device");
        EXPECT_ERROR_HAS(error_of("", {"trainer.device=cuda"}), "trainer.device");
    }
    if (why.empty()) {
        EXPECT_EQ(error_of("", {"model.device=cuda", "trainer.device=cpu"}), "");
    }
}

// rollout.dtype: auto is bf16 on cuda and fp32 on the CPU; bf16 on the CPU is refused (its kernels are
// slow references). rollout.kv_memory_fraction is a share of the GPU in (0, 1].
TEST(Config, RolloutDtypeAndKvMemoryFraction) {
    JobConfig c = parse("");
    EXPECT_EQ(c.rollout.dtype, "auto");
    EXPECT_EQ(rollout_dtype(c), "fp32");
    c.rollout.device = "cuda";
    EXPECT_EQ(rollout_dtype(c), "bf16");
    c.rollout.dtype = "fp32";
    EXPECT_EQ(rollout_dtype(c), "fp32");
    EXPECT_EQ(rollout_dtype(parse("", {"rollout.dtype=fp32"})), "fp32");
    EXPECT_ERROR_HAS(error_of("", {"rollout.dtype=bf16"}),
                     "rollout.dtype: bf16 weights need rollout.device: cuda");
    EXPECT_ERROR_HAS(error_of("", {"rollout.dtype=fp16"}), "rollout.dtype");
    EXPECT_DOUBLE_EQ(c.rollout.kv_memory_fraction, 0.9);
    EXPECT_EQ(error_of("", {"rollout.kv_memory_fraction=1"}), "");
    EXPECT_ERROR_HAS(error_of("", {"rollout.kv_memory_fraction=0"}), "rollout.kv_memory_fraction");
    EXPECT_ERROR_HAS(error_of("", {"rollout.kv_memory_fraction=1.5"}), "rollout.kv_memory_fraction");
}

TEST(Config, DefaultsFollowTheReferenceSystems) {
    JobConfig c = parse("");
    EXPECT_EQ(c.trainer.algorithm, "grpo");
    EXPECT_DOUBLE_EQ(c.trainer.clip_low, 0.2);
    EXPECT_DOUBLE_EQ(c.trainer.clip_high, 0.2);
    EXPECT_EQ(c.trainer.loss_agg, "token_mean");
    EXPECT_EQ(c.run_dir, "runs");
    EXPECT_EQ(c.data.prompt_key, "prompt");
    EXPECT_EQ(c.data.answer_key, "answer");
    EXPECT_EQ(c.rollout.mode, "sync");
    EXPECT_EQ(c.metrics.bind, "127.0.0.1");
    EXPECT_EQ(c.trainer.betas, (std::vector<double>{0.9, 0.999}));
    // trainer.temperature 0 means "the rollout's", resolved at load so the dump shows it.
    EXPECT_DOUBLE_EQ(c.trainer.temperature, c.rollout.temperature);
}

TEST(Config, LoadsNestedAndDottedKeys) {
    JobConfig c = parse(R"(
name: exp1
trainer:
  lr: 1e-4
  betas: [0.9, 0.95]
rollout.n: 4
rollout:
  mode: async
log: {level: debug, json: true}
)");
    EXPECT_EQ(c.name, "exp1");
    EXPECT_DOUBLE_EQ(c.trainer.lr, 1e-4);
    EXPECT_EQ(c.trainer.betas, (std::vector<double>{0.9, 0.95}));
    EXPECT_EQ(c.rollout.n, 4);
    EXPECT_EQ(c.rollout.mode, "async");
    EXPECT_EQ(c.log.level, "debug");
    EXPECT_TRUE(c.log.json);
    EXPECT_EQ(c.run_path(), "runs/exp1");
}

TEST(Config, OverridesAreTypedByTheSchemaAndWinOverTheFile) {
    JobConfig c =
        parse("trainer: {lr: 0.5}\n", {"trainer.lr=1e-4", "name=foo", "rollout.mode=async",
                                       "trainer.betas=[0.8, 0.9]", "sft.enabled=true", "rollout.n=16"});
    EXPECT_DOUBLE_EQ(c.trainer.lr, 1e-4);
    EXPECT_EQ(c.name, "foo");
    EXPECT_EQ(c.rollout.mode, "async");
    EXPECT_EQ(c.trainer.betas, (std::vector<double>{0.8, 0.9}));
    EXPECT_TRUE(c.sft.enabled);
    EXPECT_EQ(c.rollout.n, 16);
    // The later override wins.
    EXPECT_EQ(parse("", {"seed=3", "seed=4"}).seed, 4);
}

TEST(Config, DumpRoundTripsEveryKey) {
    JobConfig c = parse(R"(
name: "round trip: with colon"
model: {init: {hidden: 64, heads: 2, kv_heads: 1, intermediate: 176}}
trainer: {lr: 3e-5, betas: [0.5, 0.75], algorithm: dapo, steps: 7}
reward: {fn: math, incorrect: -1, overlong_buffer: 16}
buffer: {endpoint: "tcp://127.0.0.1:5555"}
metrics: {port: 9400}
)");
    std::string yaml = dump_job_config(c);
    JobConfig back = parse_job_config(yaml, "dump.yaml");
    EXPECT_EQ(back, c) << yaml;
    EXPECT_EQ(dump_job_config(back), yaml);
    // Every schema key appears in the dump (model.path is empty here).
    for (const auto& k : config_schema()) {
        std::string last = k.key.substr(k.key.rfind('.') + 1);
        EXPECT_NE(yaml.find(last + ":"), std::string::npos) << k.key;
    }
}

TEST(Config, DumpOfACheckpointJobLeavesOutTheInitBlock) {
    JobConfig c = parse_job_config("model: {path: ckpt}\ndata: {train: d.jsonl}\n", "x.yaml");
    std::string yaml = dump_job_config(c);
    EXPECT_EQ(yaml.find("init:"), std::string::npos) << yaml;
    EXPECT_EQ(parse_job_config(yaml, "dump.yaml"), c);
}

TEST(Config, DefaultConfigDumpsAndReloads) {
    JobConfig c = parse("");
    EXPECT_EQ(parse_job_config(dump_job_config(c), "dump.yaml"), c);
}

TEST(Config, AlgorithmPresetsFillOnlyUnsetKeys) {
    JobConfig dapo = parse("trainer: {algorithm: dapo}\n");
    EXPECT_DOUBLE_EQ(dapo.trainer.clip_high, 0.28);
    EXPECT_TRUE(dapo.trainer.dynamic_sampling);
    EXPECT_DOUBLE_EQ(parse("trainer: {algorithm: dapo, clip_high: 0.3}\n").trainer.clip_high, 0.3);
    EXPECT_DOUBLE_EQ(parse("", {"trainer.algorithm=dapo", "trainer.clip_high=0.25"}).trainer.clip_high, 0.25);

    JobConfig dr = parse("trainer: {algorithm: dr_grpo}\n");
    EXPECT_FALSE(dr.trainer.norm_adv_by_std);
    EXPECT_EQ(dr.trainer.loss_agg, "seq_mean_token_sum_norm");

    JobConfig gspo = parse("", {"trainer.algorithm=gspo"});
    EXPECT_DOUBLE_EQ(gspo.trainer.clip_low, 3e-4);
    EXPECT_DOUBLE_EQ(gspo.trainer.clip_high, 4e-4);
    EXPECT_EQ(gspo.trainer.loss_agg, "seq_mean_token_mean");

    // vcpo: GRPO advantages with the §7.4 reference settings our keys express.
    JobConfig vcpo = parse("", {"trainer.algorithm=vcpo"});
    EXPECT_TRUE(vcpo.trainer.opob);
    EXPECT_EQ(vcpo.trainer.ess_lr, "sqrt");
    EXPECT_EQ(vcpo.trainer.loss_agg, "seq_mean_token_mean");
    EXPECT_EQ(vcpo.trainer.is_correction, "truncate");
    EXPECT_EQ(vcpo.trainer.is_level, "sequence");
    EXPECT_DOUBLE_EQ(vcpo.trainer.is_cap, 8.0);
    EXPECT_TRUE(vcpo.trainer.norm_adv_by_std);
    EXPECT_EQ(parse("").trainer.is_level, "token");
    // Every user value wins over the preset.
    JobConfig own =
        parse("trainer: {algorithm: vcpo, opob: false, ess_lr: linear, is_cap: 3}\n",
              {"trainer.loss_agg=token_mean", "trainer.is_correction=mask", "trainer.is_level=token"});
    EXPECT_FALSE(own.trainer.opob);
    EXPECT_EQ(own.trainer.ess_lr, "linear");
    EXPECT_DOUBLE_EQ(own.trainer.is_cap, 3.0);
    EXPECT_EQ(own.trainer.loss_agg, "token_mean");
    EXPECT_EQ(own.trainer.is_correction, "mask");
    EXPECT_EQ(own.trainer.is_level, "token");
    // Turning the correction off also leaves the level at token (a sequence level would be inert).
    JobConfig no_is = parse("", {"trainer.algorithm=vcpo", "trainer.is_correction=none"});
    EXPECT_EQ(no_is.trainer.is_level, "token");
    EXPECT_TRUE(no_is.trainer.opob);
    // The dump of a vcpo job reloads to the same config.
    EXPECT_EQ(parse_job_config(dump_job_config(vcpo), "dump.yaml"), vcpo);
}

TEST(Config, WrongTypesNameTheKeyAndTheValue) {
    std::string m = error_of("", {"trainer.lr=abc"});
    EXPECT_ERROR_HAS(m, "trainer.lr: expected a number, got \"abc\"");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: abc}\n"), "trainer.lr: expected a number, got \"abc\"");
    EXPECT_ERROR_HAS(error_of("rollout: {n: 2.5}\n"), "rollout.n: expected an integer, got \"2.5\"");
    EXPECT_ERROR_HAS(error_of("sft: {enabled: maybe}\n"),
                     "sft.enabled: expected true or false, got \"maybe\"");
    EXPECT_ERROR_HAS(error_of("rollout: {mode: fast}\n"),
                     "rollout.mode: expected one of sync, async, got \"fast\"");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: [1, 2]}\n"), "trainer.lr: expected a single value, got a list");
    EXPECT_ERROR_HAS(error_of("trainer: {betas: 0.9}\n"),
                     "trainer.betas: expected a list of 2 numbers, got 1");
    EXPECT_ERROR_HAS(error_of("trainer: {betas: [0.9, x]}\n"), "trainer.betas: expected a number, got \"x\"");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: {a: 1}}\n"), "trainer.lr: expected a value, got a mapping");
    EXPECT_ERROR_HAS(error_of("trainer: 5\n"), "trainer: expected a mapping of keys, got \"5\"");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: }\n"), "trainer.lr: expected a value, got nothing");
    EXPECT_ERROR_HAS(error_of("seed: 99999999999\n"), "seed: 99999999999 is out of the integer range");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: .nan}\n"), "trainer.lr: expected a number");
}

TEST(Config, ErrorsFromTheFileSayWhere) {
    std::string m = error_of("trainer:\n  lr: abc\n");
    EXPECT_ERROR_HAS(m, "test.yaml:6: trainer.lr");  // kMinimal is 4 lines + leading newline
    EXPECT_ERROR_HAS(error_of("trainer: {lr: 1\n"), "test.yaml:");
    EXPECT_ERROR_HAS(error_of("trainer: {lr: 1\n"), "YAML syntax error");
}

TEST(Config, UnknownKeysAreErrorsWithASuggestion) {
    EXPECT_ERROR_HAS(error_of("trainer: {lrr: 1}\n"),
                     "unknown key 'trainer.lrr' (did you mean 'trainer.lr'?)");
    EXPECT_ERROR_HAS(error_of("", {"trainer.lrr=1"}),
                     "unknown key 'trainer.lrr' (did you mean 'trainer.lr'?)");
    EXPECT_ERROR_HAS(error_of("rolout: {n: 2}\n"), "unknown key 'rolout'");
    EXPECT_ERROR_HAS(error_of("", {"lr=1"}), ".lr'?)");  // sft.lr or trainer.lr, both fit
    EXPECT_ERROR_HAS(error_of("", {"trainer.lr"}), "override 'trainer.lr': expected key.sub=value");
    EXPECT_ERROR_HAS(error_of("zzz_completely_unrelated: 1\n"), "unknown key 'zzz_completely_unrelated'");
}

TEST(Config, OutOfRangeValuesNameTheKeyAndTheRange) {
    EXPECT_ERROR_HAS(error_of("", {"trainer.clip_low=-0.1"}),
                     "trainer.clip_low: -0.1 is out of range (expected in [0, 1))");
    EXPECT_ERROR_HAS(error_of("", {"rollout.n=0"}), "rollout.n: 0 is out of range (expected >= 1)");
    EXPECT_ERROR_HAS(error_of("", {"trainer.lr=0"}), "trainer.lr: 0.0 is out of range (expected > 0)");
    EXPECT_ERROR_HAS(error_of("", {"rollout.top_p=1.5"}),
                     "rollout.top_p: 1.5 is out of range (expected in (0, 1])");
    EXPECT_ERROR_HAS(error_of("", {"trainer.betas=[0.9, 1.0]"}), "trainer.betas: 1.0 is out of range");
    EXPECT_ERROR_HAS(error_of("", {"metrics.port=70000"}), "metrics.port: 70000 is out of range");
    EXPECT_ERROR_HAS(error_of("", {"sft.stop_at_accuracy=2"}), "sft.stop_at_accuracy");
    EXPECT_ERROR_HAS(error_of("", {"sft.stop_at_sampled_accuracy=-0.1"}), "sft.stop_at_sampled_accuracy");
}

// Every blocking call between roles has a deadline from the config (issue #15): positive, at most a day.
TEST(Config, DeadlinesArePositiveAndAtMostADay) {
    EXPECT_EQ(parse("").deadlines.buffer_s, 60.0);
    EXPECT_EQ(parse("deadlines: {buffer_s: 2.5, dispatcher_s: 7, weights_s: 0.5}\n").deadlines.dispatcher_s,
              7.0);
    EXPECT_ERROR_HAS(error_of("", {"deadlines.buffer_s=0"}),
                     "deadlines.buffer_s: 0.0 is out of range (expected in (0, 86400])");
    EXPECT_ERROR_HAS(error_of("", {"deadlines.dispatcher_s=-1"}),
                     "deadlines.dispatcher_s: -1.0 is out of range");
    EXPECT_ERROR_HAS(error_of("", {"deadlines.weights_s=1e9"}), "deadlines.weights_s");
    EXPECT_ERROR_HAS(error_of("deadlines: {buffer_s: soon}\n"), "deadlines.buffer_s");
    EXPECT_EQ(deadline_ms(2.5), 2500);
    EXPECT_EQ(deadline_ms(1e-9), 1);  // never 0: a call always makes its one attempt
}

TEST(Config, InvalidCombinationsAreRejected) {
    struct Case {
        std::vector<std::string> overrides;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {{"rollout.n=1"}, "rollout.n: grpo compares the samples of each prompt"},
        {{"rollout.max_tokens=64", "rollout.segment_tokens=128"},
         "rollout.segment_tokens: 128 is larger than rollout.max_tokens = 64"},
        {{"rollout.max_tokens=200000"}, "rollout.max_tokens: 200000 is above the supported 131072 tokens"},
        {{"rollout.top_k=0"}, "rollout.top_k: 0 is not a valid k"},
        {{"trainer.is_correction=mask", "trainer.is_low=3", "trainer.is_cap=2"},
         "trainer.is_low: 3 is above trainer.is_cap = 2"},
        {{"trainer.is_correction=bogus"}, "trainer.is_correction"},
        {{"rollout.n=16", "rollout.max_batch_seqs=8"}, "rollout.n: a group of 16 samples must fit"},
        {{"rollout.workers=4", "trainer.prompts_per_step=2"},
         "trainer.prompts_per_step: 2 prompts leave some of rollout.workers = 4 idle"},
        {{"trainer.dual_clip=0.5"}, "trainer.dual_clip: must be 0 (off) or > 1"},
        {{"trainer.steps=10", "trainer.warmup_steps=20"},
         "trainer.warmup_steps: 20 is more than trainer.steps = 10"},
        {{"trainer.prompts_per_step=32", "trainer.mini_batches=5"},
         "trainer.mini_batches: 5 does not divide"},
        {{"trainer.micro_batch_tokens=100", "rollout.max_tokens=200"},
         "trainer.micro_batch_tokens: 100 cannot hold"},
        {{"trainer.temperature=0.7"}, "trainer.temperature: 0.7 differs from rollout.temperature = 1"},
        {{"reward.overlong_buffer=2000"},
         "reward.overlong_buffer: 2000 must be smaller than rollout.max_tokens"},
        {{"data.eval_size=0", "trainer.eval_every=5"}, "trainer.eval_every: evals need an eval set"},
        {{"sft.enabled=true", "sft.eval_every=0", "sft.stop_at_accuracy=0.3"},
         "sft.stop_at_accuracy: needs sft.eval_every > 0"},
        {{"sft.enabled=true", "sft.eval_every=0", "sft.stop_at_sampled_accuracy=0.1"},
         "sft.stop_at_sampled_accuracy: needs sft.eval_every > 0"},
        {{"trainer.algorithm=ppo", "trainer.dynamic_sampling=true"},
         "trainer.dynamic_sampling: needs a group algorithm"},
        {{"model.init.heads=3"}, "model.init.heads: 3 does not divide model.init.hidden = 128"},
        {{"model.init.kv_heads=3"}, "model.init.kv_heads: 3 does not divide model.init.heads = 4"},
        {{"data.train=gen:arith?n=5&seed=1&digits=1&op=pow"},
         "data.train: gen:arith?n=5&seed=1&digits=1&op=pow: op must be add or mul"},
        {{"data.eval=gen:sort?n=5"}, "data.eval: gen:sort?n=5: unknown task 'sort'"},
        {{"data.train=gen:arith?n=101&digits=1"}, "n = 101 exceeds the 100 distinct arith problems"},
        {{"launcher=processes", "buffer.endpoint=inproc://buf"},
         "buffer.endpoint: inproc:// endpoints cannot cross processes"},
        {{"rollout.kv_blocks=2", "rollout.block_size=16", "rollout.max_tokens=64"},
         "rollout.kv_blocks: 2 blocks of 16 tokens"},
    };
    for (const auto& c : cases) EXPECT_ERROR_HAS(error_of("", c.overrides), c.expect);
    // Algorithms that do not compare the samples of a prompt accept n = 1.
    EXPECT_EQ(error_of("", {"trainer.algorithm=reinforce_pp", "rollout.n=1"}), "");
    // Segment rollout up to 128k-token responses.
    EXPECT_EQ(error_of("", {"rollout.max_tokens=131072", "rollout.segment_tokens=8192",
                            "trainer.micro_batch_tokens=0"}),
              "");
}

TEST(Config, AlgorithmKeyContradictionsAreRejected) {
    struct Case {
        std::vector<std::string> overrides;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {{"trainer.critic=shared"}, "trainer.critic: only ppo has a critic (trainer.algorithm = grpo)"},
        {{"trainer.algorithm=dapo", "trainer.lam=0.95"}, "trainer.lam: only ppo has a critic"},
        {{"trainer.algorithm=ppo", "trainer.vf_coef=0.1"},
         "trainer.vf_coef: weights the value loss on a trunk shared with the policy"},
        {{"trainer.gamma=0.9"}, "trainer.gamma: discounts token returns of reinforce_pp and ppo only"},
        {{"trainer.algorithm=rloo", "trainer.opob=true"}, "trainer.opob: replaces the group-mean baseline"},
        {{"trainer.ref_model=/tmp/ref"}, "trainer.ref_model: set, but trainer.kl_coef = 0"},
        {{"trainer.kl_in_reward=true"}, "trainer.kl_in_reward: set, but trainer.kl_coef = 0"},
        {{"trainer.kl_in_reward=true", "trainer.kl_coef=0.01", "trainer.opob=true"},
         "trainer.kl_in_reward: the OPOB baseline"},
        {{"trainer.algorithm=gspo", "trainer.loss_agg=token_mean"},
         "trainer.loss_agg: gspo averages its sequence-level ratio over sequences (seq_mean_token_mean), got "
         "token_mean"},
        {{"trainer.algorithm=gspo", "trainer.dual_clip=3"}, "trainer.dual_clip: gspo has no dual clip"},
        {{"trainer.algorithm=dr_grpo", "trainer.norm_adv_by_std=true"},
         "trainer.norm_adv_by_std: dr_grpo's advantage is not divided by the group std"},
        {{"trainer.algorithm=rloo", "rollout.n=1"}, "rollout.n: rloo compares the samples of each prompt"},
        {{"trainer.algorithm=reinforce_pp", "trainer.dynamic_sampling=true"},
         "trainer.dynamic_sampling: needs a group algorithm"},
        {{"trainer.is_level=sequence"},
         "trainer.is_level: sequence weights need trainer.is_correction = truncate or mask"},
        {{"trainer.algorithm=vcpo", "trainer.is_correction=none", "trainer.is_level=sequence"},
         "trainer.is_level: sequence weights need trainer.is_correction"},
        {{"trainer.algorithm=vcpo", "rollout.n=1"}, "rollout.n: vcpo compares the samples of each prompt"},
        {{"trainer.algorithm=reinforce_pp_baseline", "rollout.n=1"},
         "rollout.n: reinforce_pp_baseline compares the samples of each prompt"},
        {{"trainer.is_level=sentence"}, "trainer.is_level"},
    };
    for (const auto& c : cases) EXPECT_ERROR_HAS(error_of("", c.overrides), c.expect);
    EXPECT_EQ(error_of("", {"trainer.kl_in_reward=true", "trainer.kl_coef=0.01"}), "");
    EXPECT_EQ(error_of("", {"trainer.algorithm=ppo", "trainer.kl_in_reward=true", "trainer.kl_coef=0.01"}),
              "");
    // What each algorithm's presets give loads as is.
    for (const char* algo :
         {"grpo", "dr_grpo", "dapo", "gspo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "ppo", "vcpo"})
        EXPECT_EQ(error_of("", {std::string("trainer.algorithm=") + algo}), "") << algo;
    EXPECT_EQ(error_of("", {"trainer.algorithm=ppo", "trainer.critic=shared", "trainer.vf_coef=0.1",
                            "trainer.lam=0.95", "trainer.gamma=0.99", "trainer.critic_lr=1e-5"}),
              "");
    EXPECT_EQ(error_of("", {"trainer.algorithm=gspo", "trainer.opob=true", "trainer.kl_coef=0.01",
                            "trainer.ref_model=/tmp/ref"}),
              "");
    EXPECT_EQ(error_of("", {"trainer.algorithm=vcpo", "trainer.dynamic_sampling=true", "trainer.kl_coef=0.01",
                            "trainer.is_correction=mask", "trainer.is_low=0.125"}),
              "");
    EXPECT_EQ(error_of("", {"trainer.is_correction=truncate", "trainer.is_level=sequence"}), "");
    EXPECT_EQ(error_of("", {"trainer.algorithm=dapo", "trainer.dual_clip=10", "trainer.ppo_epochs=2",
                            "trainer.mini_batches=4", "trainer.kl_coef=0.001"}),
              "");
}

TEST(Config, RequiredKeysAndModelSource) {
    EXPECT_ERROR_HAS(
        [] {
            try {
                parse_job_config("tokenizer: t.json\n", "x.yaml");
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        }(),
        "data.train: required");
    try {
        parse_job_config("data: {train: d.jsonl}\n", "x.yaml");
        ADD_FAILURE() << "a new model without a tokenizer must be rejected";
    } catch (const Error& e) {
        EXPECT_ERROR_HAS(e.what(), "tokenizer: required when the model is built from model.init");
    }
    // With model.path the tokenizer may come from the checkpoint.
    EXPECT_NO_THROW(parse_job_config("model: {path: ckpt}\ndata: {train: d.jsonl}\n", "x.yaml"));
    EXPECT_ERROR_HAS(error_of("model: {path: ckpt, init: {hidden: 64}}\n"),
                     "model.init.hidden: model.path is set, so model.init.* would be ignored");
}

TEST(Config, EmptySectionsAndNullStringsAreAllowed) {
    JobConfig c = parse("sft:\nbuffer:\n  dir:\n");
    EXPECT_EQ(c.buffer.dir, "");
}

TEST(Config, ValidateCatchesProgrammaticMistakes) {
    JobConfig c = parse("");
    c.rollout.n = 0;
    try {
        validate_job_config(c);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_ERROR_HAS(e.what(), "rollout.n");
    }
}

TEST(Config, LoadsFromAFileAndNamesAMissingOne) {
    try {
        load_job_config("/nonexistent/job.yaml");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_ERROR_HAS(e.what(), "/nonexistent/job.yaml: cannot open config file");
    }
}

// Every config the repository ships (the quickstart, the benchmark workloads) loads and validates.
TEST(Config, EveryShippedConfigLoads) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::string(STRIDE_SOURCE_DIR) + "/configs")) {
        if (e.path().extension() != ".yaml") continue;
        EXPECT_NO_THROW(load_job_config(e.path().string())) << e.path();
        ++n;
    }
    EXPECT_GE(n, 3);
}

TEST(Config, QuickstartConfigIsValidAndMatchesTheSpec) {
    JobConfig c = load_job_config(std::string(STRIDE_SOURCE_DIR) + "/configs/quickstart.yaml");
    EXPECT_EQ(c.name, "quickstart");
    EXPECT_EQ(c.model.init.arch, "qwen2");
    EXPECT_EQ(c.model.init.hidden, 128);
    EXPECT_EQ(c.model.init.layers, 4);
    EXPECT_EQ(c.model.init.heads, 4);
    EXPECT_EQ(c.tokenizer, "configs/tokenizers/arith/tokenizer.json");
    EXPECT_TRUE(c.sft.enabled);
    EXPECT_DOUBLE_EQ(c.sft.lr, 1e-3);
    EXPECT_EQ(c.sft.batch, 64);
    EXPECT_EQ(c.trainer.algorithm, "grpo");
    EXPECT_EQ(c.trainer.prompts_per_step, 32);
    EXPECT_EQ(c.rollout.n, 8);
    // The prototype sampled at 1.0; at 0.7, with SFT going on until 15% of single samples are right,
    // RL has signal from its first step on every seed (issue 19,
    // bench/results/2026-12-07-quickstart-seeds.md).
    EXPECT_DOUBLE_EQ(c.rollout.temperature, 0.7);
    EXPECT_DOUBLE_EQ(c.sft.stop_at_accuracy, 0.3);
    EXPECT_DOUBLE_EQ(c.sft.stop_at_sampled_accuracy, 0.15);
    EXPECT_DOUBLE_EQ(c.trainer.lr, 1e-4);
    EXPECT_DOUBLE_EQ(c.trainer.grad_clip, 1.0);
    EXPECT_DOUBLE_EQ(c.trainer.clip_low, 0.2);
    EXPECT_DOUBLE_EQ(c.trainer.clip_high, 0.2);
    EXPECT_EQ(c.trainer.loss_agg, "token_mean");
    EXPECT_DOUBLE_EQ(c.trainer.kl_coef, 0.0);
    EXPECT_EQ(c.reward.fn, "arith");
    EXPECT_EQ(c.data.eval_size, 500);
    EXPECT_EQ(c.rollout.max_tokens, 5);
}

TEST(ConfigSchema, KeysAreUniqueDocumentedAndTableSafe) {
    std::set<std::string> seen;
    for (const auto& k : config_schema()) {
        EXPECT_TRUE(seen.insert(k.key).second) << "duplicate key " << k.key;
        EXPECT_FALSE(k.doc.empty()) << k.key;
        EXPECT_EQ(k.doc.find('|'), std::string::npos) << k.key << ": '|' would break the Markdown table";
        EXPECT_EQ(k.doc.find('<'), std::string::npos)
            << k.key << ": <...> renders as an HTML tag in Markdown";
        EXPECT_EQ(config_key_type(k).find('|'), std::string::npos) << k.key;
    }
    // Every default passes its own range check.
    const JobConfig defaults;
    for (const auto& k : config_schema()) EXPECT_NO_THROW(check_config_value(k, defaults)) << k.key;
}

TEST(ConfigSchema, MarkdownTableListsEveryKeyWithItsDefault) {
    std::string md = config_keys_markdown();
    EXPECT_EQ(md.rfind("| key | type | default | meaning |", 0), 0u);
    EXPECT_NE(md.find("| `trainer.lr` | number > 0 | `1e-06` |"), std::string::npos) << md;
    EXPECT_NE(md.find("| `rollout.mode` | enum: sync, async | `sync` |"), std::string::npos);
    EXPECT_NE(md.find("| `data.eval` | string | `\"\"` |"), std::string::npos);
    EXPECT_NE(md.find("| `trainer.betas` | list of 2 numbers in [0, 1) | `[0.9, 0.999]` |"),
              std::string::npos);
    for (const auto& k : config_schema())
        EXPECT_NE(md.find("| `" + k.key + "` |"), std::string::npos) << k.key;
}

TEST(ConfigSchema, SuggestsNearbyKeysOnly) {
    EXPECT_EQ(suggest_config_key("trainer.lrr"), "trainer.lr");
    EXPECT_EQ(suggest_config_key("rollout.temprature"), "rollout.temperature");
    EXPECT_EQ(suggest_config_key("qqqqqqqqqqqqqqqqqqqqq"), "");
}

}  // namespace
}  // namespace stride
