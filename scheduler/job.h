// `stride run`: one RL job on one machine. Builds the context, restores or initialises the policy
// (optionally warm-started by SFT), then starts the roles — experience buffer, prompt dispatcher,
// rollout workers, trainer — as threads that talk only through ZeroMQ messages, and waits for the
// trainer to finish. SIGINT stops it cleanly: the trainer finishes its step and checkpoints,
// nothing acknowledged is lost (the buffer is durable).
#pragma once
#include <atomic>
#include <string>

#include "common/config.h"

namespace stride {

// Runs the job to completion (or until *stop). Returns the process exit code.
int run_job(const JobConfig& cfg, const std::atomic<bool>& stop);

}  // namespace stride
