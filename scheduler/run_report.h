// What `stride report` and `stride plot` read from a run directory: metrics.jsonl (one JSON object per
// trainer step), sft_metrics.jsonl if present, run_summary.json and config.yaml if present.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scheduler/chart_math.h"

namespace stride {

struct RunData {
    std::string dir;                    // as given
    std::string name;                   // the directory's last component
    std::vector<nlohmann::json> steps;  // metrics.jsonl, one object per line
    std::vector<nlohmann::json> sft;    // sft_metrics.jsonl (empty when absent)
    nlohmann::json summary;             // run_summary.json (null when absent)
    std::string config_yaml;            // config.yaml as written (empty when absent)
};

// Reads a run directory. A missing or empty metrics.jsonl, or a line that is not a JSON object, is an
// Error naming the file (and the line).
RunData load_run(const std::string& dir);

// Reads a JSON-lines file of objects; a missing file gives no rows. Blank lines are skipped.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// The series of `key` against `x_key` (the row's index + 1 where x_key is absent). A row without the
// key, or with a value that is not a number (null: NaN as nlohmann writes it), adds no point.
chart::Series series_of(const std::vector<nlohmann::json>& rows, const std::string& key,
                        const std::string& x_key);

// Whether any row holds a number under `key`.
bool has_key(const std::vector<nlohmann::json>& rows, const std::string& key);

// Every key holding a number in some row, sorted.
std::vector<std::string> numeric_keys(const std::vector<nlohmann::json>& rows);

}  // namespace stride
