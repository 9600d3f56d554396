// libFuzzer target: the checkpoint index a resume reads (trainer/job_checkpoint.h): which entries of
// {run}/checkpoints/ are complete checkpoints (latest_job_checkpoint) and each one's job_state.json
// (read_job_state, check_job_state). The input is a directory listing and a file:
//   line 1: entries, separated by spaces: NAME (a directory holding job_state.json), NAME= (a plain
//           file), NAME>TARGET (a symbolic link to TARGET), NAME/ (an empty directory)
//   the rest: the text of every job_state.json
// Each input gets a fresh checkpoints/ directory in a scratch run directory. A resume must pick a
// checkpoint or say why not with stride::Error; it never crashes, and never picks a checkpoint that
// resolves outside checkpoints/. Seeds: tests/fuzz/corpus/checkpoint_index/ (job states as the
// trainer writes them, tests/fuzz/make_seeds.cpp). Run by tests/fuzz/test_fuzz.cpp in `make test`.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "common/base/error.h"
#include "tests/fuzz/fuzz_peer.h"
#include "trainer/job_checkpoint.h"

namespace {

namespace fs = std::filesystem;

// A name the file system can hold as one entry of checkpoints/ (no '/', NUL, "." or "..").
bool one_entry(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.size() < 200 &&
           name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

void make_entry(const fs::path& root, std::string token, const std::string& state) {
    std::error_code ec;
    if (const auto arrow = token.find('>'); arrow != std::string::npos) {
        const std::string target = token.substr(arrow + 1);
        token.resize(arrow);
        if (one_entry(token) && !target.empty() && target.find('\0') == std::string::npos)
            fs::create_symlink(target, root / token, ec);
        return;
    }
    const char kind = token.empty() ? ' ' : token.back();
    if (kind == '=' || kind == '/') token.pop_back();
    if (!one_entry(token)) return;
    if (kind == '=') {
        std::ofstream(root / token) << state;
        return;
    }
    if (!fs::create_directory(root / token, ec) || kind == '/') return;
    std::ofstream(root / token / "job_state.json") << state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static stride::fuzz::ScratchDir run("checkpoint");
    static const bool quiet = [] {
        spdlog::set_level(spdlog::level::err);  // every stray entry is a warning; thousands say nothing
        return true;
    }();
    (void)quiet;
    const std::string input(reinterpret_cast<const char*>(data), size);
    const size_t eol = input.find('\n');
    const std::string listing = input.substr(0, eol);
    const std::string state = eol == std::string::npos ? "" : input.substr(eol + 1);

    const fs::path root = fs::path(run.path()) / "checkpoints";
    fs::remove_all(root);
    fs::create_directory(root);
    std::istringstream tokens(listing);
    for (std::string token; tokens >> token;) make_entry(root, token, state);

    try {
        const auto latest = stride::latest_job_checkpoint(run.path());
        if (!latest) return 0;
        const stride::JobState st = stride::read_job_state(*latest);
        const fs::path real = fs::weakly_canonical(st.loaded_from);
        const fs::path rel = real.lexically_relative(fs::weakly_canonical(root));
        if (rel.empty() || *rel.begin() == "..")
            throw std::runtime_error("fuzz: a resume would read " + real.string() + ", outside checkpoints/");
        stride::check_job_state(st, *latest, /*total_steps=*/100, /*prompts_per_step=*/32);
    } catch (const stride::Error&) {  // refused, with a reason: what a resume must do with bad input
    }
    return 0;
}
