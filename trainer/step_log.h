// trainer/step_log.h: the trainer's per-step files in the run directory, kept true to the policy a
// resume continues from.
//   metrics.jsonl  one line per step (README, "metrics.jsonl")
//   trained.jsonl  the audit trail: per step, every group trained and the versions that made it
// A resume from the checkpoint of step C rewrites both without the lines of steps > C: those steps
// are trained again, and the policy that logged them was discarded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "proto/stride.pb.h"

namespace stride {

// Rewrites the JSON-lines file at `path` keeping only the lines whose "step" is <= last_step (lines
// without an integer step are kept), through a temporary file and a rename, so a crash leaves either
// file whole. Returns how many lines were removed; a missing file is not an error.
int64_t truncate_step_log(const std::string& path, int64_t last_step);

// The weights around one step, as published: CRC-32C of the blob (WeightUpdate.crc32).
struct StepWeights {
    uint32_t policy_crc32c = 0;     // of the version the step started from
    uint32_t published_crc32c = 0;  // of the version the step published
};

// The trained.jsonl line of one step: {"step", "policy_version" (the version the step started from),
// "published_unix_ms" (when the step's new weights, policy_version + 1, were published),
// "policy_crc32c", "published_crc32c" (`weights`), "groups": [[group_id, samples, min token version,
// max token version, earliest created_unix_ms, [[version, crc32c], ...] (the distinct
// Sample.weights_used of its samples)], ...], "quarantined": [group ids of `pulled` not in `trained`]}.
std::string trained_line(int64_t step, int64_t trained_version, int64_t published_unix_ms,
                         StepWeights weights, const std::vector<v1::Batch>& trained,
                         const std::vector<v1::Batch>& pulled);

}  // namespace stride
