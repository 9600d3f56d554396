// trainer/step_log.cpp: see step_log.h.
#include "trainer/step_log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

bool past(const std::string& line, int64_t last_step) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
           j["step"].get<int64_t>() > last_step;
}

}  // namespace

int64_t truncate_step_log(const std::string& path, int64_t last_step) {
    std::ifstream in(path);
    if (!in) return 0;
    std::vector<std::string> kept;
    int64_t removed = 0;
    for (std::string line; std::getline(in, line);) {
        if (past(line, last_step))
            ++removed;
        else
            kept.push_back(line);
    }
    if (removed == 0) return 0;
    const std::string tmp = path + ".tmp-" + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        for (const std::string& line : kept) out << line << "\n";
        out.flush();
        STRIDE_CHECK(out.good(), "cannot rewrite " + path + " (writing " + tmp + ")");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    STRIDE_CHECK(!ec, "cannot rewrite " + path + ": " + ec.message());
    return removed;
}

std::string trained_line(int64_t step, int64_t trained_version, int64_t published_unix_ms,
                         StepWeights weights, const std::vector<v1::Batch>& trained,
                         const std::vector<v1::Batch>& pulled) {
    nlohmann::json groups = nlohmann::json::array();
    std::set<std::string> ids;
    for (const v1::Batch& batch : trained)
        for (const v1::Group& g : batch.groups()) {
            int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
            int64_t created = std::numeric_limits<int64_t>::max();
            std::set<std::pair<int64_t, uint32_t>> used;
            for (const v1::Sample& s : g.samples()) {
                lo = std::min(lo, s.policy_version());
                hi = std::max(hi, s.policy_version());
                for (int64_t v : s.token_version()) lo = std::min(lo, v), hi = std::max(hi, v);
                created = std::min(created, s.timing().created_unix_ms());
                for (const v1::WeightsUsed& w : s.weights_used()) used.emplace(w.version(), w.crc32c());
            }
            nlohmann::json weights_used = nlohmann::json::array();
            for (const auto& [v, crc] : used) weights_used.push_back({v, crc});
            groups.push_back({g.group_id(), g.samples_size(), lo, hi, created, weights_used});
            ids.insert(g.group_id());
        }
    nlohmann::json quarantined = nlohmann::json::array();
    for (const v1::Batch& batch : pulled)
        for (const v1::Group& g : batch.groups())
            if (!ids.count(g.group_id())) quarantined.push_back(g.group_id());
    return nlohmann::json{{"step", step},
                          {"policy_version", trained_version},
                          {"published_unix_ms", published_unix_ms},
                          {"policy_crc32c", weights.policy_crc32c},
                          {"published_crc32c", weights.published_crc32c},
                          {"groups", groups},
                          {"quarantined", quarantined}}
        .dump();
}

}  // namespace stride
