// Runs commands as a user would, for the CLI tests: shell command lines, and `stride ARGS` with INPUT
// on stdin, stdout and stderr captured through files under the build tree (STRIDE_BIN,
// STRIDE_BINARY_DIR).
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace stride::test {

struct CliResult {
    int exit_code;
    std::string out, err;
};

inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The stdout of a shell command line; *rc gets its wait status (pclose) when given.
inline std::string run_capture(const std::string& cmd, int* rc = nullptr) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        if (rc) *rc = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    if (rc) *rc = status;
    return out;
}
inline std::string run_capture(const std::string& cmd, int& rc) {
    return run_capture(cmd, &rc);
}

// `scratch` names the folder of this test binary's capture files (one set per process).
inline CliResult run_stride_cli(const std::string& args, const std::string& input,
                                const std::string& scratch) {
    const auto dir = std::filesystem::path(STRIDE_BINARY_DIR) / "tests" / scratch;
    std::filesystem::create_directories(dir);
    const std::string stem = (dir / ("pid" + std::to_string(getpid()))).string();
    std::ofstream(stem + ".in") << input;
    const std::string cmd = std::string("'") + STRIDE_BIN + "' " + args + " < '" + stem + ".in' > '" + stem +
                            ".out' 2> '" + stem + ".err'";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
}

}  // namespace stride::test
