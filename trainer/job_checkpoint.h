// Job checkpoints: everything a resumed job needs to continue exactly where it stopped.
//   <run>/checkpoints/step_000010/model/       HF checkpoint (config.json + model.safetensors, F32)
//   <run>/checkpoints/step_000010/optimizer.safetensors   AdamW m and v (flat, F32) + step count
//   <run>/checkpoints/step_000010/job_state.json          step, policy version, data cursor, ...
// A checkpoint is written under step_N.tmp and renamed when complete, so a crash mid-write never
// leaves a directory that looks finished.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "model/optim.h"
#include "model/params.h"

namespace stride {

struct JobState {
    int64_t step = 0;               // RL optimiser steps done
    int64_t policy_version = 0;     // version of the saved weights
    int64_t prompts_dispatched = 0; // data cursor: prompts of steps < step were consumed
    int64_t sft_steps = 0;
    double rl_seconds = 0;          // wall time spent in RL so far (for throughput metrics)
};

// Writes checkpoints/step_<step>; returns its path.
std::string save_job_checkpoint(const std::string& run_path, const Model& model, AdamW& adam, const JobState& st);

// The newest complete checkpoint directory of a run, if any.
std::optional<std::string> latest_job_checkpoint(const std::string& run_path);

// Restores weights, optimizer moments and step count; returns the job state.
JobState load_job_checkpoint(const std::string& dir, Model& model, AdamW& adam);

}  // namespace stride
