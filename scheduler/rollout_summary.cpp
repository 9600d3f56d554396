// Rollout counters for run_summary.json: per worker, summed, and through files for processes mode.
#include "scheduler/rollout_summary.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

nlohmann::json rollout_stats_json(const RolloutStats& st) {
    return {{"busy_s", st.busy_s.load()},
            {"idle_s", st.idle_s.load()},
            {"engine_steps", st.engine_steps.load()},
            {"batch_seqs", st.batch_seqs.load()},
            {"prompts_taken", st.prompts_taken.load()},
            {"groups_resumed", st.groups_resumed.load()},
            {"groups_put", st.groups.load()},
            {"groups_aborted", st.groups_aborted.load()},
            {"groups_refused", st.groups_refused.load()},
            {"groups_in_flight", st.groups_in_flight.load()},
            {"reward_full_waits", st.reward_full_waits.load()},
            {"reward_queue_max_depth", st.reward_queue_max_depth.load()},
            {"reward_queue_capacity", st.reward_queue_capacity.load()}};
}

nlohmann::json rollout_totals(const std::vector<nlohmann::json>& workers) {
    double busy = 0, idle = 0, engine_steps = 0, batch_seqs = 0;
    int64_t taken = 0, resumed = 0, put = 0, aborted = 0, refused = 0, in_flight = 0, full_waits = 0,
            max_depth = 0, capacity = 0;
    for (const nlohmann::json& w : workers) {
        busy += w.value("busy_s", 0.0);
        idle += w.value("idle_s", 0.0);
        engine_steps += w.value("engine_steps", 0.0);
        batch_seqs += w.value("batch_seqs", 0.0);
        taken += w.value("prompts_taken", int64_t{0});
        resumed += w.value("groups_resumed", int64_t{0});
        put += w.value("groups_put", int64_t{0});
        aborted += w.value("groups_aborted", int64_t{0});
        refused += w.value("groups_refused", int64_t{0});
        in_flight += w.value("groups_in_flight", int64_t{0});
        full_waits += w.value("reward_full_waits", int64_t{0});
        max_depth = std::max(max_depth, w.value("reward_queue_max_depth", int64_t{0}));
        capacity = std::max(capacity, w.value("reward_queue_capacity", int64_t{0}));
    }
    return {{"rollout_busy_s", busy},
            {"rollout_idle_s", idle},
            {"engine_steps", engine_steps},
            {"mean_batch_seqs", engine_steps > 0 ? batch_seqs / engine_steps : 0.0},
            {"prompts_taken", taken},
            {"groups_resumed", resumed},
            {"groups_put", put},
            {"groups_given_up", aborted + refused},  // too stale, or invalid
            {"groups_refused", refused},
            {"groups_in_flight", in_flight},
            {"reward_queue_max_depth", max_depth},
            {"reward_queue_capacity", capacity},
            {"reward_full_waits", full_waits}};
}

std::string rollout_line(const nlohmann::json& t) {
    // Whether rollout ever waited on rewards, and where every prompt a worker took ended up.
    return fmt::format(
        "rollout: {} prompts taken (+{} resumed) -> {} groups put, {} given up ({} refused by the buffer as "
        "invalid), {} in flight at exit; reward queue at most {} of {} deep, rollout waited on rewards {} "
        "times",
        t["prompts_taken"].get<int64_t>(), t["groups_resumed"].get<int64_t>(), t["groups_put"].get<int64_t>(),
        t["groups_given_up"].get<int64_t>(), t["groups_refused"].get<int64_t>(),
        t["groups_in_flight"].get<int64_t>(), t["reward_queue_max_depth"].get<int64_t>(),
        t["reward_queue_capacity"].get<int64_t>(), t["reward_full_waits"].get<int64_t>());
}

std::string rollout_stats_dir(const std::string& run) {
    return run + "/rollout_stats";
}

void write_rollout_stats(const std::string& run, const std::string& worker_id, const RolloutStats& st) {
    const fs::path dir = rollout_stats_dir(run);
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path file = dir / (worker_id + ".json"), tmp = dir / (worker_id + ".json.tmp");
    {
        std::ofstream out(tmp);
        out << rollout_stats_json(st).dump() << "\n";
        STRIDE_CHECK(out.good(), "rollout stats: cannot write " + tmp.string());
    }
    fs::rename(tmp, file, ec);
    STRIDE_CHECK(!ec, "rollout stats: cannot rename " + tmp.string() + ": " + ec.message());
}

std::vector<nlohmann::json> read_rollout_stats(const std::string& run) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(rollout_stats_dir(run), ec))
        if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<nlohmann::json> stats;
    for (const fs::path& f : files) {
        std::ifstream in(f);
        auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (j.is_object())
            stats.push_back(std::move(j));
        else
            spdlog::warn("run_summary.json: {} is not a JSON object, left out", f.string());
    }
    return stats;
}

}  // namespace stride
