// Job checkpoints: everything a resumed job needs to continue exactly where it stopped.
//   <run>/checkpoints/step_000010/model/       HF checkpoint (config.json + model.safetensors, F32)
//   <run>/checkpoints/step_000010/optimizer.safetensors   AdamW m and v (flat, F32) + step count
//   <run>/checkpoints/step_000010/job_state.json          step, policy version, data cursor, ...
//   <run>/checkpoints/step_000010/critic/                 PPO only: value head (+ a separate critic's
//                                                         trunk), with their AdamW moments (trainer/critic.h)
// A checkpoint is written under step_N.tmp-<pid>, every file and directory in it fsynced, then renamed
// to step_N (and the checkpoints directory fsynced), so a crash mid-write never leaves a directory that
// looks finished; an existing step_N stays whole until the new one has replaced it. A failure (ENOSPC,
// EROFS, ...) throws stride::Error naming the path and removes the unfinished directory.
// Retention: once a new checkpoint is in place, all but the newest keep_checkpoints complete ones are
// deleted (trainer.keep_checkpoints; 0 keeps all), and so are step_*.tmp-<pid> directories whose
// writer is no longer running.
#pragma once
#include <algorithm>
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
    int64_t optimizer_step = 0;  // AdamW's step count (read from job_state.json; written from the AdamW)
    // The lowest prompt number the steps up to `step` did not train (trainer/trained_prompts.h); -1:
    // unknown (a checkpoint from before it was recorded).
    int64_t first_untrained_prompt = -1;
    // Where a resumed dispatcher starts handing out prompts: the first one not trained (those trained
    // above it are refused by the buffer as done), or prompts_dispatched when that is unknown.
    int64_t resume_prompt() const {
        return first_untrained_prompt >= 0 ? std::min(first_untrained_prompt, prompts_dispatched)
                                           : prompts_dispatched;
    }
    std::string loaded_from;  // the checkpoint directory this state was read from (empty: fresh); not saved
};

// Writes checkpoints/step_<step>; returns its path. `extra` writes further files into the directory
// (the PPO critic) before it is renamed into place, so they are part of the same atomic checkpoint.
// keep_checkpoints > 0: then deletes all but the newest keep_checkpoints complete checkpoints.
std::string save_job_checkpoint(const std::string& run_path, const Model& model, AdamW& adam,
                                const JobState& st,
                                const std::function<void(const std::string& dir)>& extra = {},
                                int keep_checkpoints = 0);

// AdamW moments and step count in one safetensors file (adamw.m, adamw.v, metadata "step"), for any
// flat parameter buffer: the policy's, and the critic's.
void save_optimizer(const std::string& path, AdamW& adam);
void load_optimizer(const std::string& path, AdamW& adam);

// The newest complete checkpoint directory of a run (highest step), if any. Every other step_* entry
// (a .tmp-<pid> or other suffix, not a directory, no job_state.json, a job_state.json that is not a
// JSON object) is skipped with a warning naming it and why.
std::optional<std::string> latest_job_checkpoint(const std::string& run_path);

// Reads and checks dir/job_state.json: every count an integer >= 0, rl_seconds a finite number >= 0,
// extra_prompts <= prompts_dispatched, step equal to the directory's step_N. Throws stride::Error
// naming the file and the field. First, dir and every symbolic link under it must resolve inside
// dir's parent (the run's checkpoints/): loaded_from, and all a resume loads from it, stays there.
JobState read_job_state(const std::string& dir);

// How far prompts_dispatched may exceed steps x prompts_per_step (+ extra_prompts) before it is
// taken for garbage rather than a changed trainer.prompts_per_step.
constexpr int64_t kPromptsDispatchedSlack = 16;
// Checks a job state against the job it resumes: prompts_dispatched at most
// (max(total_steps, step) + 1) x prompts_per_step x kPromptsDispatchedSlack + extra_prompts.
void check_job_state(const JobState& st, const std::string& dir, int64_t total_steps,
                     int64_t prompts_per_step);

// Restores weights, optimizer moments and step count; returns the job state (read_job_state first,
// so a bad state fails before anything is loaded).
JobState load_job_checkpoint(const std::string& dir, Model& model, AdamW& adam);

}  // namespace stride
