// The rollout workers' counters in run_summary.json and on the last lines of `stride run`, for both
// launchers: with threads the launcher reads each RolloutWorker's stats; with processes each rollout
// role writes its own to <run>/rollout_stats/rollout-I.json when it ends (write_rollout_stats) and the
// launcher adds up the files of this run (read_rollout_stats).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rollout/rollout_worker.h"

namespace stride {

// One worker's counters: busy_s, idle_s, engine_steps, batch_seqs, prompts_taken, groups_resumed,
// groups_put, groups_aborted, groups_refused, groups_in_flight, reward_full_waits,
// reward_queue_max_depth, reward_queue_capacity.
nlohmann::json rollout_stats_json(const RolloutStats& st);

// The sums over workers (maxima for the reward queue's depth and capacity), with run_summary.json's
// names: rollout_busy_s, rollout_idle_s, engine_steps, mean_batch_seqs, prompts_taken, groups_resumed,
// groups_put, groups_given_up (too stale + refused), groups_refused, groups_in_flight,
// reward_queue_max_depth, reward_queue_capacity, reward_full_waits.
nlohmann::json rollout_totals(const std::vector<nlohmann::json>& workers);

// "rollout: 6400 prompts taken (+0 resumed) -> 6400 groups put, ..." from rollout_totals.
std::string rollout_line(const nlohmann::json& totals);

std::string rollout_stats_dir(const std::string& run);
// Writes rollout_stats_json(st) to <run>/rollout_stats/<worker_id>.json (a temporary file, then a rename).
void write_rollout_stats(const std::string& run, const std::string& worker_id, const RolloutStats& st);
// The stats files of <run>/rollout_stats/, in worker order; a file that does not parse is skipped
// with a warning naming it.
std::vector<nlohmann::json> read_rollout_stats(const std::string& run);

}  // namespace stride
