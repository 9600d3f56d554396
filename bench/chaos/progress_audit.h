// bench/chaos/progress_audit.h: reads a run's trained.jsonl (the trainer's audit trail, one line per
// step: trainer/step_log.h) and counts what "nothing lost, nothing trained twice" forbids. Used by
// bench/chaos and by the kill -9 tests.
//
// "From a discarded version", exact: every sample names the weights it was generated with
// (Sample.weights_used: per policy version, the CRC-32C of the blob the worker fetched), and each
// line names the weights its step started from and published (policy_crc32c, published_crc32c). The
// lines left after the last resume are the policy the run ended with, so version v's final weights
// are those of line v (published) and line v + 1 (started from); a group that used any version with
// other weights was made by a policy a resume threw away. This holds in async mode too, where a worker
// switches weights mid-response and resumes in-flight groups across restarts.
//
// Groups without weights_used (a trained.jsonl from before it existed) are judged as before, by time:
// version v is published by the line of step v (published_unix_ms); a group generated before the
// final publication of the newest version it holds, and before a restart whose checkpoint is older
// than that version, is counted. Exact in sync mode; in async mode an upper bound (a group that
// started before a version was published and was finished with it counts too).
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace stride::chaos {

struct ProgressAudit {
    int64_t steps = 0;                // lines
    int64_t steps_out_of_order = 0;   // a line whose step is not the previous one + 1
    int64_t groups = 0;               // trained, over all steps
    int64_t trained_twice = 0;        // group ids trained by more than one step
    int64_t from_discarded = 0;       // see above
    int64_t judged_by_weights = 0;    // groups whose from_discarded verdict is exact (weights_used)
    int64_t judged_by_time = 0;       // ... and those judged by the upper bound (no weights_used)
    int64_t quarantined = 0;          // kept aside by the trainer (its "quarantined" ids)
    std::set<std::string> group_ids;  // trained
    std::set<std::string> quarantined_ids;
    std::vector<std::string> problems;  // the first few, for a message
};

// A start of the job: when (unix ms) and the step of the checkpoint it resumed from (= its version).
struct Restart {
    int64_t unix_ms = 0, checkpoint_step = 0;
};

inline void note(ProgressAudit& a, const std::string& what) {
    if (a.problems.size() < 10) a.problems.push_back(what);
}

inline bool created_before_a_rollback(const std::vector<Restart>& restarts, int64_t created,
                                      int64_t version) {
    if (restarts.empty()) return true;  // unknown: the first condition alone
    for (const Restart& r : restarts)
        if (created < r.unix_ms && version > r.checkpoint_step) return true;
    return false;
}

// Version -> the weights (CRC-32C) the run's final policy had as it: line v published them, line v + 1
// started from them. Lines of a trained.jsonl from before the fields existed contribute nothing.
inline std::map<int64_t, uint32_t> final_weights_of(const std::vector<nlohmann::json>& lines,
                                                    ProgressAudit& a) {
    std::map<int64_t, uint32_t> out;
    auto add = [&](int64_t version, const nlohmann::json& crc) {
        if (!crc.is_number_unsigned() || crc.get<uint32_t>() == 0) return;
        auto [it, fresh] = out.emplace(version, crc.get<uint32_t>());
        if (!fresh && it->second != crc.get<uint32_t>())
            note(a, "version " + std::to_string(version) + ": published and started from different weights");
    };
    for (const auto& l : lines) {
        const int64_t step = l["step"].get<int64_t>();
        if (l.contains("published_crc32c")) add(step, l["published_crc32c"]);
        if (l.contains("policy_crc32c")) add(l["policy_version"].get<int64_t>(), l["policy_crc32c"]);
    }
    return out;
}

// "" when every [version, crc32c] of `used` is the final policy's; else the first that is not.
inline std::string discarded_weights(const nlohmann::json& used,
                                     const std::map<int64_t, uint32_t>& final_weights) {
    for (const auto& vw : used) {
        const int64_t v = vw[0].get<int64_t>();
        const uint32_t crc = vw[1].get<uint32_t>();
        auto it = final_weights.find(v);
        if (it == final_weights.end() || it->second != crc)
            return "version " + std::to_string(v) + " weights " + std::to_string(crc) + ", not the final " +
                   (it == final_weights.end() ? std::string("(none)") : std::to_string(it->second));
    }
    return "";
}

inline ProgressAudit audit_trained_log(const std::string& path, const std::vector<Restart>& restarts = {}) {
    ProgressAudit a;
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
    std::map<int64_t, int64_t> published;  // version -> when its final instance was published
    for (const auto& l : lines) published[l["step"].get<int64_t>()] = l["published_unix_ms"].get<int64_t>();
    const std::map<int64_t, uint32_t> final_weights = final_weights_of(lines, a);
    int64_t prev = 0;
    for (const auto& l : lines) {
        const int64_t step = l["step"].get<int64_t>();
        ++a.steps;
        if (step != prev + 1) {
            ++a.steps_out_of_order;
            note(a, "step " + std::to_string(step) + " after step " + std::to_string(prev));
        }
        prev = step;
        if (l.contains("quarantined"))
            for (const auto& q : l["quarantined"]) {
                ++a.quarantined;
                a.quarantined_ids.insert(q.get<std::string>());
            }
        for (const auto& g : l["groups"]) {
            const std::string id = g[0].get<std::string>();
            const int64_t newest = g[3].get<int64_t>(), created = g[4].get<int64_t>();
            ++a.groups;
            if (!a.group_ids.insert(id).second) {
                ++a.trained_twice;
                note(a, "group " + id + " trained again at step " + std::to_string(step));
            }
            if (g.size() > 5 && !g[5].empty()) {  // exact: the weights it was generated with
                ++a.judged_by_weights;
                if (const std::string bad = discarded_weights(g[5], final_weights); !bad.empty()) {
                    ++a.from_discarded;
                    note(a, "group " + id + " (step " + std::to_string(step) + ") was generated with " + bad);
                }
                continue;
            }
            ++a.judged_by_time;
            if (newest < 1) continue;  // version 0: the starting policy, the same in every run
            auto it = published.find(newest);
            if (newest >= step || it == published.end() ||
                (created < it->second && created_before_a_rollback(restarts, created, newest))) {
                ++a.from_discarded;
                note(a, "group " + id + " (step " + std::to_string(step) + ") holds version " +
                            std::to_string(newest) + " made before that version's final publication");
            }
        }
    }
    return a;
}

}  // namespace stride::chaos
