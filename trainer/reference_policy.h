// The KL reference pi_ref of a job, rebuilt from the config rather than copied from the weights in
// memory, so that a resumed job compares against the same reference as the uninterrupted one (the
// resumed weights have moved away from it): trainer.ref_model when set; else the policy RL started
// from: <run>/sft_model when sft.enabled (written by the SFT phase, kept across resumes), else
// model.path, else model.init with its seed (deterministic). Costs one load per trainer start, and
// nothing in the checkpoints.
#pragma once
#include "model/params.h"
#include "job/job_context.h"

namespace stride {

// Loads the reference weights into `out` (a model of the policy's architecture). Throws Error naming
// the key whose directory is missing or incompatible.
void load_reference_policy(const JobContext& ctx, Model& out);

}  // namespace stride
