// The supervised warm start of a job (sft: section): next-token loss on the answers of the training
// prompts, greedy eval every sft.eval_every steps, stopping early once sft.stop_at_accuracy is reached
// (so RL starts from a model that is right sometimes, not always) and, with
// sft.stop_at_sampled_accuracy, once one sample per eval prompt at rollout.temperature is right that
// often too (so that RL's groups carry signal). Writes <run>/sft_metrics.jsonl.
#pragma once
#include <atomic>
#include <cstdint>

#include "model/params.h"
#include "job/job_context.h"

namespace stride {

// Returns the number of SFT steps run.
int64_t run_sft_phase(const JobContext& ctx, Model& model, const std::atomic<bool>& stop);

}  // namespace stride
