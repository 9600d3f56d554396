#include "trainer/job_checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

std::string step_dir_name(int64_t step) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "step_%06lld", static_cast<long long>(step));
    return buf;
}

}  // namespace

void save_optimizer(const std::string& path, AdamW& adam) {
    const int64_t n = static_cast<int64_t>(adam.numel());
    safetensors_write(path,
                      {{"adamw.m", "F32", {n}, adam.m().data(), nullptr},
                       {"adamw.v", "F32", {n}, adam.v().data(), nullptr}},
                      {{"format", "pt"}, {"step", std::to_string(adam.step_count())}});
}

void load_optimizer(const std::string& path, AdamW& adam) {
    SafetensorsFile opt(path);
    const SafetensorsTensor* m = opt.find("adamw.m");
    const SafetensorsTensor* v = opt.find("adamw.v");
    STRIDE_CHECK(m && v && m->numel == adam.numel() && v->numel == adam.numel(),
                 path + ": moments missing or of the wrong size");
    opt.read_f32(*m, adam.m().data());
    opt.read_f32(*v, adam.v().data());
    auto step = opt.metadata().find("step");
    if (step != opt.metadata().end()) adam.set_step_count(std::stoll(step->second));
}

std::string save_job_checkpoint(const std::string& run_path, const Model& model, AdamW& adam,
                                const JobState& st,
                                const std::function<void(const std::string& dir)>& extra) {
    const fs::path root = fs::path(run_path) / "checkpoints";
    const fs::path final_dir = root / step_dir_name(st.step);
    const fs::path tmp = root / (step_dir_name(st.step) + ".tmp");
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    checkpoint_save(model, (tmp / "model").string(), DiskDtype::f32);
    save_optimizer((tmp / "optimizer.safetensors").string(), adam);
    if (extra) extra(tmp.string());
    nlohmann::json j = {{"step", st.step},
                        {"policy_version", st.policy_version},
                        {"prompts_dispatched", st.prompts_dispatched},
                        {"extra_prompts", st.extra_prompts},
                        {"sft_steps", st.sft_steps},
                        {"rl_seconds", st.rl_seconds},
                        {"optimizer_step", adam.step_count()}};
    {
        std::ofstream out(tmp / "job_state.json");
        out << j.dump(2) << "\n";
        STRIDE_CHECK(out.good(), "checkpoint: cannot write " + (tmp / "job_state.json").string());
    }
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);
    return final_dir.string();
}

std::optional<std::string> latest_job_checkpoint(const std::string& run_path) {
    const fs::path root = fs::path(run_path) / "checkpoints";
    if (!fs::exists(root)) return std::nullopt;
    std::optional<std::string> best;
    for (const auto& e : fs::directory_iterator(root)) {
        const std::string name = e.path().filename().string();
        if (!e.is_directory() || name.rfind("step_", 0) != 0 || name.find(".tmp") != std::string::npos)
            continue;
        if (!fs::exists(e.path() / "job_state.json")) continue;
        if (!best || name > fs::path(*best).filename().string()) best = e.path().string();
    }
    return best;
}

JobState load_job_checkpoint(const std::string& dir, Model& model, AdamW& adam) {
    checkpoint_load_weights(model, dir + "/model");
    load_optimizer(dir + "/optimizer.safetensors", adam);
    std::ifstream in(dir + "/job_state.json");
    STRIDE_CHECK(in.good(), dir + "/job_state.json: cannot open");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const std::exception& e) {
        throw Error(dir + "/job_state.json: " + e.what());
    }
    JobState st;
    st.step = j.at("step").get<int64_t>();
    st.policy_version = j.at("policy_version").get<int64_t>();
    st.prompts_dispatched = j.at("prompts_dispatched").get<int64_t>();
    st.sft_steps = j.value("sft_steps", int64_t{0});
    st.rl_seconds = j.value("rl_seconds", 0.0);
    st.extra_prompts = j.value("extra_prompts", int64_t{0});
    st.loaded_from = dir;
    adam.set_step_count(j.at("optimizer_step").get<int64_t>());
    return st;
}

}  // namespace stride
