// trainer/job_checkpoint.cpp: see job_checkpoint.h.
#include "trainer/job_checkpoint.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <signal.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

std::string step_dir_name(int64_t step) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "step_%06lld", static_cast<long long>(step));
    return buf;
}

// "step_<digits>" -> the step; anything else (a .tmp-<pid> suffix, other names) -> -1.
int64_t parse_step_dir_name(const std::string& name) {
    if (name.rfind("step_", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
    int64_t step = 0;
    for (size_t i = 5; i < name.size(); ++i) {
        if (name[i] < '0' || name[i] > '9') return -1;
        step = step * 10 + (name[i] - '0');
    }
    return step;
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int err) {
    throw Error("checkpoint: " + path + ": " + what + ": " + std::strerror(err));
}

// fsync of one file or directory; an error (EIO, ENOSPC on a delayed write) is the caller's error.
void fsync_or_throw(const fs::path& p, bool directory) {
    const int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) fail(p.string(), "cannot open to sync", errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL) fail(p.string(), "fsync failed", err);  // EINVAL: cannot sync (special fs)
}

// Every file and directory under root, then root itself: what the checkpoint holds reaches the disk
// before it is renamed into place.
void fsync_tree(const fs::path& root) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_directory())
            dirs.push_back(e.path());
        else if (e.is_regular_file())
            fsync_or_throw(e.path(), false);
    }
    for (const auto& d : dirs) fsync_or_throw(d, true);
    fsync_or_throw(root, true);
}

// rename(2), or an atomic exchange of two existing directories (renameat2 RENAME_EXCHANGE) where
// the file system supports it. Returns false (errno set) on failure.
bool exchange_dirs(const fs::path& a, const fs::path& b) {
#ifdef SYS_renameat2
    constexpr unsigned kRenameExchange = 1u << 1;  // RENAME_EXCHANGE
    return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), kRenameExchange) == 0;
#else
    errno = ENOSYS;
    return false;
#endif
}

bool pid_alive(long pid) {
    return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// The checkpoints of a run that look complete, by step; every other step_* entry is reported in
// `skipped` with the reason.
std::map<int64_t, fs::path> complete_checkpoints(const fs::path& root,
                                                 std::vector<std::pair<fs::path, std::string>>* skipped) {
    std::map<int64_t, fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return found;
    for (const auto& e : fs::directory_iterator(root, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("step_", 0) != 0) continue;
        auto skip = [&](const std::string& why) {
            if (skipped) skipped->push_back({e.path(), why});
        };
        const int64_t step = parse_step_dir_name(name);
        if (step < 0) {
            skip(name.find(".tmp") != std::string::npos ? "an unfinished checkpoint (still being written, or "
                                                          "its writer died)"
                                                        : "not a checkpoint name (step_<number>)");
            continue;
        }
        if (e.is_symlink(ec)) {
            skip("a symbolic link: a checkpoint must be a directory inside checkpoints/");
            continue;
        }
        if (!e.is_directory(ec)) {
            skip("not a directory");
            continue;
        }
        const fs::path state = e.path() / "job_state.json";
        if (!fs::exists(state, ec)) {
            skip("no job_state.json (half-written)");
            continue;
        }
        std::ifstream in(state);
        nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) {
            skip("job_state.json is not a JSON object (half-written?)");
            continue;
        }
        found[step] = e.path();
    }
    return found;
}

// Keeps the newest `keep` complete checkpoints (0: all) and removes the rest, and removes unfinished
// step_*.tmp-<pid> directories whose writer is gone. Failures are warnings: the new checkpoint is in
// place already.
void prune(const fs::path& root, int keep) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec)) {
        const std::string name = e.path().filename().string();
        const auto at = name.find(".tmp-");
        if (name.rfind("step_", 0) != 0 || at == std::string::npos) continue;
        const long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
        if (pid == ::getpid() || pid_alive(pid)) continue;
        spdlog::warn("checkpoint: removing {}, left unfinished by process {}", e.path().string(), pid);
        fs::remove_all(e.path(), ec);
    }
    if (keep <= 0) return;
    auto all = complete_checkpoints(root, nullptr);
    int excess = static_cast<int>(all.size()) - keep;
    for (auto it = all.begin(); excess > 0 && it != all.end(); ++it, --excess) {
        std::error_code rm;
        fs::remove_all(it->second, rm);
        if (rm)
            spdlog::warn("checkpoint: cannot remove old checkpoint {}: {}", it->second.string(),
                         rm.message());
    }
}

int64_t get_int(const nlohmann::json& j, const std::string& file, const char* field, bool required,
                int64_t fallback = 0) {
    auto it = j.find(field);
    if (it == j.end()) {
        if (required) throw Error(file + ": field '" + field + "' is missing");
        return fallback;
    }
    if (!it->is_number_integer())
        throw Error(file + ": field '" + field + "' must be an integer, not " + it->dump());
    const int64_t v = it->get<int64_t>();
    if (v < 0) throw Error(file + ": field '" + field + "' is " + std::to_string(v) + ", must be >= 0");
    return v;
}

}  // namespace

void save_optimizer(const std::string& path, AdamW& adam) {
    const int64_t n = static_cast<int64_t>(adam.numel());
    safetensors_write(path,
                      {{"adamw.m", "F32", {n}, adam.m().data(), nullptr},
                       {"adamw.v", "F32", {n}, adam.v().data(), nullptr}},
                      {{"format", "pt"}, {"step", std::to_string(adam.step_count())}});
}

void load_optimizer(const std::string& path, AdamW& adam) {
    SafetensorsFile opt(path);
    const SafetensorsTensor* m = opt.find("adamw.m");
    const SafetensorsTensor* v = opt.find("adamw.v");
    STRIDE_CHECK(m && v && m->numel == adam.numel() && v->numel == adam.numel(),
                 path + ": moments missing or of the wrong size");
    std::vector<float> mh(adam.numel()), vh(adam.numel());
    opt.read_f32(*m, mh.data());
    opt.read_f32(*v, vh.data());
    adam.set_moments(mh.data(), vh.data());
    auto step = opt.metadata().find("step");
    if (step != opt.metadata().end()) adam.set_step_count(std::stoll(step->second));
}

std::string save_job_checkpoint(const std::string& run_path, const Model& model, AdamW& adam,
                                const JobState& st, const std::function<void(const std::string& dir)>& extra,
                                int keep_checkpoints) {
    const fs::path root = fs::path(run_path) / "checkpoints";
    const fs::path final_dir = root / step_dir_name(st.step);
    const fs::path tmp = root / (step_dir_name(st.step) + ".tmp-" + std::to_string(::getpid()));
    try {
        std::error_code ec;
        fs::create_directories(root, ec);
        if (ec) fail(root.string(), "cannot create the checkpoints directory", ec.value());
        fs::remove_all(tmp, ec);
        if (!fs::create_directory(tmp, ec) || ec)
            fail(tmp.string(), "cannot create the checkpoint directory", ec ? ec.value() : EEXIST);
        checkpoint_save(model, (tmp / "model").string(), DiskDtype::f32);
        save_optimizer((tmp / "optimizer.safetensors").string(), adam);
        if (extra) extra(tmp.string());
        nlohmann::json j = {{"step", st.step},
                            {"policy_version", st.policy_version},
                            {"prompts_dispatched", st.prompts_dispatched},
                            {"extra_prompts", st.extra_prompts},
                            {"sft_steps", st.sft_steps},
                            {"rl_seconds", st.rl_seconds},
                            {"optimizer_step", adam.step_count()}};
        if (st.first_untrained_prompt >= 0) j["first_untrained_prompt"] = st.first_untrained_prompt;
        {
            const fs::path state = tmp / "job_state.json";
            std::ofstream out(state);
            if (!out) fail(state.string(), "cannot create", errno);
            out << j.dump(2) << "\n";
            out.flush();
            if (!out.good()) fail(state.string(), "write failed", errno ? errno : EIO);
        }
        // Everything on disk before the directory gets its final name.
        fsync_tree(tmp);
        if (fs::exists(final_dir, ec)) {
            // Replacing a checkpoint of the same step: the old one stays whole until the new one is in
            // place (an atomic exchange where the file system has one), then goes.
            if (!exchange_dirs(tmp, final_dir)) {
                const fs::path old = root / (step_dir_name(st.step) + ".old-" + std::to_string(::getpid()));
                fs::remove_all(old, ec);
                if (::rename(final_dir.c_str(), old.c_str()) != 0)
                    fail(final_dir.string(), "cannot move the previous checkpoint aside", errno);
                if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
                    const int err = errno;
                    ::rename(old.c_str(), final_dir.c_str());  // put the previous one back
                    fail(final_dir.string(), "cannot move the new checkpoint into place", err);
                }
                fs::remove_all(old, ec);
            } else {
                fs::remove_all(tmp, ec);  // now holds the previous checkpoint
            }
        } else if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
            fail(final_dir.string(), "cannot move the new checkpoint into place", errno);
        }
        fsync_or_throw(root, true);
    } catch (const fs::filesystem_error& e) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw Error("checkpoint: " + (e.path1().empty() ? tmp.string() : e.path1().string()) + ": " +
                    e.code().message());
    } catch (const Error& e) {
        std::error_code ec;
        fs::remove_all(tmp, ec);  // a full disk is not made fuller by a half checkpoint
        const std::string what = e.what();
        if (what.rfind("checkpoint", 0) == 0) throw;
        throw Error("checkpoint " + final_dir.string() + " (written under " + tmp.string() + "): " + what);
    }
    prune(root, keep_checkpoints);
    return final_dir.string();
}

std::optional<std::string> latest_job_checkpoint(const std::string& run_path) {
    const fs::path root = fs::path(run_path) / "checkpoints";
    std::vector<std::pair<fs::path, std::string>> skipped;
    auto all = complete_checkpoints(root, &skipped);
    for (const auto& [path, why] : skipped) {
        // Only what is newer than the checkpoint chosen changes the outcome, but every stray entry is
        // worth a word: resuming from something older than the user expects must never be silent.
        spdlog::warn("resume: ignoring {}: {}", path.string(), why);
    }
    if (all.empty()) return std::nullopt;
    return all.rbegin()->second.string();
}

namespace {

bool is_inside(const fs::path& path, const fs::path& root) {
    const fs::path rel = path.lexically_relative(root);
    return !rel.empty() && *rel.begin() != "..";
}

// Everything a checkpoint refers to stays inside the checkpoints directory that holds it: the
// directory itself and every symbolic link under it (none of ours makes any) resolve there, so a
// planted link cannot make a resume read files from elsewhere.
void check_checkpoint_contained(const std::string& dir) {
    std::error_code ec;
    const fs::path root =
        fs::weakly_canonical(fs::absolute(fs::path(dir)).lexically_normal().parent_path(), ec);
    if (ec) return;  // missing: read_job_state names the file it cannot open
    auto check = [&](const fs::path& p) {
        std::error_code e2;
        const fs::path real = fs::weakly_canonical(p, e2);
        if (e2 || !is_inside(real, root))
            throw Error("checkpoint: " + p.string() + " leads to " +
                        (e2 ? std::string("nowhere") : real.string()) + ", outside " + root.string() +
                        "; a checkpoint may only refer to files inside it");
    };
    check(dir);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_symlink(ec)) check(it->path());
}

}  // namespace

JobState read_job_state(const std::string& dir) {
    check_checkpoint_contained(dir);
    const std::string file = dir + "/job_state.json";
    std::ifstream in(file);
    STRIDE_CHECK(in.good(), file + ": cannot open");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const std::exception& e) {
        throw Error(file + ": not valid JSON: " + e.what());
    }
    STRIDE_CHECK(j.is_object(), file + ": not a JSON object");
    JobState st;
    st.step = get_int(j, file, "step", true);
    st.policy_version = get_int(j, file, "policy_version", true);
    st.prompts_dispatched = get_int(j, file, "prompts_dispatched", true);
    st.sft_steps = get_int(j, file, "sft_steps", false);
    st.extra_prompts = get_int(j, file, "extra_prompts", false);
    st.optimizer_step = get_int(j, file, "optimizer_step", true);
    if (j.contains("first_untrained_prompt"))
        st.first_untrained_prompt = get_int(j, file, "first_untrained_prompt", true);
    if (auto it = j.find("rl_seconds"); it != j.end()) {
        if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0)
            throw Error(file + ": field 'rl_seconds' must be a number >= 0, not " + it->dump());
        st.rl_seconds = it->get<double>();
    }
    if (st.first_untrained_prompt > st.prompts_dispatched)
        throw Error(file + ": field 'first_untrained_prompt' is " +
                    std::to_string(st.first_untrained_prompt) + ", more than prompts_dispatched " +
                    std::to_string(st.prompts_dispatched));
    if (st.extra_prompts > st.prompts_dispatched)
        throw Error(file + ": field 'extra_prompts' is " + std::to_string(st.extra_prompts) +
                    ", more than prompts_dispatched " + std::to_string(st.prompts_dispatched));
    const int64_t dir_step = parse_step_dir_name(fs::path(dir).filename().string());
    if (dir_step >= 0 && dir_step != st.step)
        throw Error(file + ": field 'step' is " + std::to_string(st.step) + " but the directory is " +
                    fs::path(dir).filename().string());
    st.loaded_from = dir;
    return st;
}

void check_job_state(const JobState& st, const std::string& dir, int64_t total_steps,
                     int64_t prompts_per_step) {
    const std::string file = dir + "/job_state.json";
    // The trainer writes prompts_dispatched = step * prompts_per_step + extra_prompts. Allow for a
    // prompts_per_step changed between runs, but not for garbage.
    // Saturating: a step near 2^63 read from a damaged file must not overflow into a small bound.
    const int64_t steps = std::max(total_steps, st.step) + (st.step < INT64_MAX ? 1 : 0);
    int64_t bound = 0;
    if (__builtin_mul_overflow(steps, std::max<int64_t>(prompts_per_step, 1) * kPromptsDispatchedSlack,
                               &bound) ||
        __builtin_add_overflow(bound, st.extra_prompts, &bound))
        bound = INT64_MAX;
    if (st.prompts_dispatched > bound)
        throw Error(file + ": field 'prompts_dispatched' is " + std::to_string(st.prompts_dispatched) +
                    ", more than a job of " + std::to_string(total_steps) + " steps x " +
                    std::to_string(prompts_per_step) + " prompts can dispatch (at most " +
                    std::to_string(bound) + ")");
}

JobState load_job_checkpoint(const std::string& dir, Model& model, AdamW& adam) {
    JobState st = read_job_state(dir);  // first: a bad state fails before anything is loaded
    checkpoint_load_weights(model, dir + "/model");
    load_optimizer(dir + "/optimizer.safetensors", adam);
    adam.set_step_count(st.optimizer_step);
    return st;
}

}  // namespace stride
