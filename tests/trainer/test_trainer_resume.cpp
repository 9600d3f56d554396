// What a resumed RL job must carry over besides the policy: PPO's critic (value head and separate
// trunk, with their optimizer state) from the checkpoint, and the KL reference, which is the policy
// the job started from, not the resumed weights. `stride run` as a subprocess, as a user runs it: an
// interrupted run (2 steps, then resume to 4) must report the same values and KL as an
// uninterrupted one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string make_dir(const std::string& name) {
    fs::path p = fs::temp_directory_path() / ("stride-resume-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// One rollout worker and a fixed seed: two runs of this config see the same samples in the same order.
std::string write_config(const std::string& dir, const std::string& trainer_extra) {
    const std::string path = dir + "/job.yaml";
    std::ofstream out(path);
    out << "name: r\nseed: 3\nrun_dir: " << dir << "/runs\n"
        << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
        << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n"
        << "data: {train: 'gen:arith?n=300&seed=2', eval_size: 0}\n"
        << "rollout: {n: 4, max_tokens: 5, workers: 1}\n"
        << "reward: {fn: arith, format_weight: 0.5}\n"  // rewards vary: well-formed or not
        << "trainer: {steps: 4, prompts_per_step: 4, lr: 0.003, eval_every: 0, checkpoint_every: 2"
        << trainer_extra << "}\n"
        << "threads: 1\nlog: {level: warn}\n";
    return path;
}

int run_stride(const std::vector<std::string>& args, std::string* output) {
    std::string cmd = std::string(STRIDE_BIN);
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    const int status = pclose(p);
    *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

// Runs `extra` for 4 steps straight and as 2 + resume 2; returns both metrics logs.
std::pair<std::vector<nlohmann::json>, std::vector<nlohmann::json>> straight_and_resumed(
    const std::string& name, const std::string& extra) {
    std::string out;
    const std::string a = make_dir(name + "-straight"), b = make_dir(name + "-resumed");
    EXPECT_EQ(run_stride({"run", write_config(a, extra)}, &out), 0) << out;
    const std::string cfg_b = write_config(b, extra);
    EXPECT_EQ(run_stride({"run", cfg_b, "trainer.steps=2"}, &out), 0) << out;
    EXPECT_EQ(run_stride({"run", cfg_b, "resume=require"}, &out), 0) << out;
    auto ma = read_metrics(a + "/runs/r/metrics.jsonl"), mb = read_metrics(b + "/runs/r/metrics.jsonl");
    EXPECT_TRUE(fs::exists(b + "/runs/r/checkpoints/step_000002/critic/value_head.safetensors") ||
                extra.find("ppo") == std::string::npos);
    fs::remove_all(a);
    fs::remove_all(b);
    return {ma, mb};
}

void expect_close(const nlohmann::json& a, const nlohmann::json& b, const char* key) {
    const double x = a[key].get<double>(), y = b[key].get<double>();
    EXPECT_NEAR(x, y, 1e-3 + 0.02 * std::fabs(x)) << key << " at step " << a["step"];
}

}  // namespace

TEST(TrainerResume, PpoCriticAndKlReferenceSurviveAResume) {
    auto [straight, resumed] = straight_and_resumed("ppo", ", algorithm: ppo, kl_coef: 0.1, critic_lr: 0.01");
    ASSERT_EQ(straight.size(), 4u);
    ASSERT_EQ(resumed.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(resumed[i]["step"], i + 1);
        for (const char* key : {"vf_loss", "values/mean", "returns/mean", "kl_ref", "pg_loss"})
            expect_close(straight[i], resumed[i], key);
    }
    // The resumed trainer starts from moved weights: against a reference copied from them the KL
    // would be 0, and a fresh value head would value everything at 0.
    EXPECT_GT(resumed[2]["kl_ref"].get<double>(), 1e-6);
    EXPECT_NE(resumed[2]["values/mean"].get<double>(), 0.0);
    EXPECT_GT(straight[3]["critic/grad_norm"].get<double>(), 0.0);
}

TEST(TrainerResume, PpoWithASharedCriticRuns) {
    const std::string dir = make_dir("shared");
    std::string out;
    ASSERT_EQ(run_stride({"run", write_config(dir, ", algorithm: ppo, critic: shared, vf_coef: 0.2"),
                          "trainer.steps=2"},
                         &out),
              0)
        << out;
    auto m = read_metrics(dir + "/runs/r/metrics.jsonl");
    ASSERT_EQ(m.size(), 2u);
    for (const auto& line : m) {
        EXPECT_GT(line["vf_loss"].get<double>(), 0.0) << line.dump();
        EXPECT_TRUE(line.contains("vf_explained_var")) << line.dump();
    }
    EXPECT_TRUE(fs::exists(dir + "/runs/r/checkpoints/step_000002/critic/value_head.safetensors"));
    EXPECT_FALSE(fs::exists(dir + "/runs/r/checkpoints/step_000002/critic/model"));  // no second trunk
    fs::remove_all(dir);
}
