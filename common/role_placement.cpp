#include "common/role_placement.h"

#include <omp.h>

#include "common/base/error.h"
#include "common/base/placement.h"

namespace stride {

namespace {

const char* placement_key(const std::string& role) {
    if (role == "trainer") return "placement.trainer_cpus";
    if (role == "rollout") return "placement.rollout_cpus";
    if (role == "buffer") return "placement.buffer_cpus";
    return nullptr;
}

}  // namespace

std::vector<int> role_cpus(const JobConfig& cfg, const std::string& role, int worker) {
    const PlacementConfig& p = cfg.placement;
    if (role == "trainer") return parse_cpu_list(p.trainer_cpus);
    if (role == "buffer") return parse_cpu_list(p.buffer_cpus);
    if (role != "rollout") return {};
    std::vector<int> all = parse_cpu_list(p.rollout_cpus);
    const int n = p.rollout_cpus_per_worker;
    if (n <= 0 || all.empty()) return all;
    const size_t begin = static_cast<size_t>(worker) * n;
    STRIDE_CHECK(begin + n <= all.size(), "placement.rollout_cpus_per_worker: rollout worker " +
                                              std::to_string(worker) +
                                              " has no CPUs left in placement.rollout_cpus");
    return std::vector<int>(all.begin() + begin, all.begin() + begin + n);
}

std::string apply_role_placement(const JobConfig& cfg, const std::string& role, int worker) {
    const std::vector<int> cpus = role_cpus(cfg, role, worker);
    const std::string name = role == "rollout" ? "rollout-" + std::to_string(worker) : role;
    if (cpus.empty()) {
        if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
        return name + ": not pinned (" + std::to_string(omp_get_max_threads()) + " compute threads)";
    }
    try {
        pin_current_thread(cpus);
    } catch (const Error& e) {
        throw Error(std::string(placement_key(role)) + ": " + e.what());
    }
    return name + ": CPUs " + format_cpu_list(cpus) + " (" + std::to_string(cpus.size()) +
           " compute threads)";
}

}  // namespace stride
