// Side files of a saved model directory: which ones the job's source has, and the copy.
#include "job/model_files.h"

#include <filesystem>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> model_side_files(const JobConfig& cfg) {
    std::vector<std::pair<std::string, std::string>> files;
    std::error_code ec;
    auto add_if_file = [&](const std::string& src, const std::string& name) {
        if (!src.empty() && fs::is_regular_file(src, ec)) files.emplace_back(src, name);
    };
    const std::string model_dir = cfg.model.path;
    add_if_file(
        !cfg.tokenizer.empty() ? cfg.tokenizer : (model_dir.empty() ? "" : model_dir + "/tokenizer.json"),
        "tokenizer.json");
    if (!model_dir.empty()) {
        add_if_file(model_dir + "/tokenizer_config.json", "tokenizer_config.json");
        add_if_file(model_dir + "/generation_config.json", "generation_config.json");
    }
    return files;
}

void copy_model_side_files(const JobConfig& cfg, const std::string& dir) {
    for (const auto& [src, name] : model_side_files(cfg)) {
        std::error_code ec;
        fs::copy_file(src, fs::path(dir) / name, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error("copying " + src + " into " + dir + ": " + ec.message());
    }
}

}  // namespace stride
