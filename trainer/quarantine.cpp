// trainer/quarantine.cpp: see quarantine.h.
#include "trainer/quarantine.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "buffer/sample_check.h"
#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

std::string check_group_for_training(const v1::Group& g, const TrainLimits& limits) {
    const uint32_t n = limits.sample.group_size;
    if (n > 0 && static_cast<uint32_t>(g.samples_size()) != n)
        return "group " + g.group_id() + " has " + std::to_string(g.samples_size()) +
               " samples, rollout.n is " + std::to_string(n);
    std::set<uint32_t> indices;
    for (const v1::Sample& s : g.samples()) {
        if (s.prompt_token_ids_size() == 0) return "sample " + s.sample_id() + ": empty prompt";
        if (!indices.insert(s.index_in_group()).second)
            return "sample " + s.sample_id() + ": a second sample at index_in_group " +
                   std::to_string(s.index_in_group());
        std::string why = check_sample(s, limits.sample, /*at_door=*/false);
        if (!why.empty()) return why;
    }
    return "";
}

void write_quarantine(const std::string& run_path, const v1::Group& g, int64_t step,
                      const std::string& error) {
    const fs::path dir = fs::path(run_path) / "quarantine";
    std::error_code ec;
    fs::create_directories(dir, ec);
    nlohmann::json samples = nlohmann::json::array();
    for (const v1::Sample& s : g.samples()) {
        std::string text;
        if (google::protobuf::util::MessageToJsonString(s, &text).ok())
            samples.push_back(nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false));
    }
    // The group id comes from a producer: keep the file name one safe path component.
    std::string name = g.group_id();
    for (char& c : name)
        if (c == '/' || c == '\0' || c == '\\') c = '_';
    if (name.empty() || name == "." || name == "..") name = "_" + name;
    const fs::path file = dir / (name + ".json");
    std::ofstream out(file, std::ios::trunc);
    out << nlohmann::json{{"group_id", g.group_id()}, {"step", step}, {"error", error}, {"samples", samples}}
               .dump()
        << "\n";
    if (!out.good())
        spdlog::error("quarantine: cannot write {} (group {}: {})", file.string(), g.group_id(), error);
    spdlog::error("step {}: group {} quarantined in {}: {}", step, g.group_id(), file.string(), error);
}

int64_t count_quarantined(const std::string& run_path) {
    std::error_code ec;
    int64_t n = 0;
    for (const auto& e : fs::directory_iterator(fs::path(run_path) / "quarantine", ec))
        if (e.path().extension() == ".json") ++n;
    return n;
}

int quarantine_bad_groups(std::vector<v1::Batch>& batches, const TrainLimits& limits,
                          const std::string& run_path, int64_t step) {
    int bad = 0;
    for (v1::Batch& batch : batches) {
        auto* groups = batch.mutable_groups();
        for (int i = groups->size() - 1; i >= 0; --i) {
            const std::string why = check_group_for_training(groups->Get(i), limits);
            if (why.empty()) continue;
            write_quarantine(run_path, groups->Get(i), step, why);
            groups->DeleteSubrange(i, 1);
            ++bad;
        }
    }
    return bad;
}

int quarantine_all(std::vector<v1::Batch>& batches, const std::string& run_path, int64_t step,
                   const std::string& error) {
    int n = 0;
    for (v1::Batch& batch : batches) {
        for (const v1::Group& g : batch.groups()) write_quarantine(run_path, g, step, error), ++n;
        batch.clear_groups();
    }
    return n;
}

}  // namespace stride
