// trainer/quarantine.h: groups the trainer cannot train are kept aside, not fatal. A group that slipped
// past the buffer's checks (a buffer without the job's limits, a stored group from an older build) or
// whose step threw is written with its error to <run>/quarantine/<group_id>.json, counted in
// metrics.jsonl (`quarantined_groups`) and run_summary.json (`groups_quarantined`), and committed with
// its step like the groups trained with it: once the step's checkpoint lands it is done for good and
// never served again (buffer/README.md, "Progress truth").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "buffer/buffer_config.h"
#include "proto/stride.pb.h"

namespace stride {

// What a group must satisfy to be trained: the model's vocabulary and positions, rollout.n members
// with distinct indices, non-empty prompts, and what the buffer checks of stored samples.
struct TrainLimits {
    BufferServerConfig sample;  // vocab_size, max_position, group_size (buffer/sample_check.h)
};

// "" if the group can be trained, else why not (naming the sample and the field).
std::string check_group_for_training(const v1::Group& g, const TrainLimits& limits);

// Writes <run>/quarantine/<group_id>.json: {"group_id", "step", "error", "samples": [the samples as
// protobuf JSON]}; replaces an earlier file of the same group (a step trained again after a resume).
void write_quarantine(const std::string& run_path, const v1::Group& g, int64_t step,
                      const std::string& error);

// Files in <run>/quarantine (0 when there is none).
int64_t count_quarantined(const std::string& run_path);

// Removes from `batches` every group check_group_for_training refuses, quarantining it for `step`;
// returns how many.
int quarantine_bad_groups(std::vector<v1::Batch>& batches, const TrainLimits& limits,
                          const std::string& run_path, int64_t step);

// Quarantines every group left in `batches` with `error` (the step threw) and empties them.
int quarantine_all(std::vector<v1::Batch>& batches, const std::string& run_path, int64_t step,
                   const std::string& error);

}  // namespace stride
