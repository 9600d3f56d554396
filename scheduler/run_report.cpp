#include "scheduler/run_report.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<double> number_at(const nlohmann::json& row, const std::string& key) {
    auto it = row.find(key);
    if (it == row.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
    std::vector<nlohmann::json> rows;
    std::ifstream in(path);
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        STRIDE_CHECK(row.is_object(), path + ":" + std::to_string(lineno) + ": not a JSON object");
        rows.push_back(std::move(row));
    }
    return rows;
}

RunData load_run(const std::string& dir) {
    const fs::path root(dir);
    const fs::path metrics = root / "metrics.jsonl";
    STRIDE_CHECK(fs::is_regular_file(metrics),
                 metrics.string() + ": no such file (is " + dir + " a run directory?)");
    RunData run;
    run.dir = dir;
    run.name = fs::absolute(root).lexically_normal().filename().string();
    if (run.name.empty()) run.name = fs::absolute(root).lexically_normal().parent_path().filename().string();
    run.steps = read_jsonl(metrics.string());
    STRIDE_CHECK(!run.steps.empty(), metrics.string() + ": empty (the run wrote no trainer step)");
    run.sft = read_jsonl((root / "sft_metrics.jsonl").string());
    if (fs::is_regular_file(root / "run_summary.json")) {
        run.summary = nlohmann::json::parse(read_text(root / "run_summary.json"), nullptr, false);
        STRIDE_CHECK(run.summary.is_object(), (root / "run_summary.json").string() + ": not a JSON object");
    }
    if (fs::is_regular_file(root / "config.yaml")) run.config_yaml = read_text(root / "config.yaml");
    return run;
}

chart::Series series_of(const std::vector<nlohmann::json>& rows, const std::string& key,
                        const std::string& x_key) {
    chart::Series s{key, {}, {}};
    for (size_t i = 0; i < rows.size(); ++i) {
        auto y = number_at(rows[i], key);
        if (!y) continue;
        s.x.push_back(number_at(rows[i], x_key).value_or(static_cast<double>(i + 1)));
        s.y.push_back(*y);
    }
    return chart::finite_points(s);
}

bool has_key(const std::vector<nlohmann::json>& rows, const std::string& key) {
    for (const auto& row : rows)
        if (number_at(row, key)) return true;
    return false;
}

std::vector<std::string> numeric_keys(const std::vector<nlohmann::json>& rows) {
    std::set<std::string> keys;
    for (const auto& row : rows)
        for (auto it = row.begin(); it != row.end(); ++it)
            if (it->is_number()) keys.insert(it.key());
    return {keys.begin(), keys.end()};
}

}  // namespace stride
