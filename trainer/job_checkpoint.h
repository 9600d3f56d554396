// Job checkpoints: everything a resumed job needs to continue exactly where it stopped.
//   <run>/checkpoints/step_000010/model/       HF checkpoint (config.json + model.safetensors, F32)
//   <run>/checkpoints/step_000010/optimizer.safetensors   AdamW m and v (flat, F32) + step count
//   <run>/checkpoints/step_000010/job_state.json          step, policy version, data cursor, ...
//   <run>/checkpoints/step_000010/critic/                 PPO only: value head (+ a separate critic's
//                                                         trunk), with their AdamW moments (trainer/critic.h)
// A checkpoint is written under step_N.tmp and renamed when complete, so a crash mid-write never
// leaves a directory that looks finished.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "model/optim.h"
#include "model/params.h"

namespace stride {

struct JobState {
    int64_t step = 0;                // RL optimiser steps done
    int64_t policy_version = 0;      // version of the saved weights
    int64_t prompts_dispatched = 0;  // data cursor: prompts of steps < step were consumed
    int64_t sft_steps = 0;
    double rl_seconds = 0;  // wall time spent in RL so far (for throughput metrics)
    // DAPO dynamic sampling: prompts the trainer pulled beyond prompts_per_step per step (the groups
    // it dropped and replaced), over the whole run. The data cursor is step * prompts_per_step + this.
    int64_t extra_prompts = 0;
    std::string loaded_from;  // the checkpoint directory this state was read from (empty: fresh); not saved
};

// Writes checkpoints/step_<step>; returns its path. `extra` writes further files into the directory
// (the PPO critic) before it is renamed into place, so they are part of the same atomic checkpoint.
std::string save_job_checkpoint(const std::string& run_path, const Model& model, AdamW& adam,
                                const JobState& st,
                                const std::function<void(const std::string& dir)>& extra = {});

// AdamW moments and step count in one safetensors file (adamw.m, adamw.v, metadata "step"), for any
// flat parameter buffer: the policy's, and the critic's.
void save_optimizer(const std::string& path, AdamW& adam);
void load_optimizer(const std::string& path, AdamW& adam);

// The newest complete checkpoint directory of a run, if any.
std::optional<std::string> latest_job_checkpoint(const std::string& run_path);

// Restores weights, optimizer moments and step count; returns the job state.
JobState load_job_checkpoint(const std::string& dir, Model& model, AdamW& adam);

}  // namespace stride
