// tests/trainer/test_job_checkpoint.cpp: job checkpoints on disk. A checkpoint appears under its
// final name only once complete (a crash leaves step_N.tmp-<pid>), replacing a step keeps the old one
// whole until the new one is in place, retention keeps the newest N, stray or half-written step_*
// entries are skipped with a warning when choosing what to resume from, bad job_state.json values
// fail with the file and field named, and an unwritable place gives an Error naming the path.
#include <gtest/gtest.h>
#include <sched.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/base/error.h"
#include "model/params.h"
#include "tests/buffer/buffer_test_util.h"
#include "tests/model/transformer_test_util.h"
#include "tests/tmpfs_test_util.h"
#include "trainer/job_checkpoint.h"

using namespace stride;
using stride::test::run_on_tmpfs;
using stride::test::slurp_file;
using stride::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Policy {
    Policy() : model(test::tiny_qwen2()), adam(model.data.size()) { model_init_random(model, 7); }
    Model model;
    AdamW adam;
};

JobState state_at(int64_t step) {
    JobState st;
    st.step = step;
    st.policy_version = step;
    st.prompts_dispatched = step * 4;
    return st;
}

std::set<std::string> entries(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

// Captures what spdlog logs while alive.
class LogCapture {
   public:
    LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
        old_ = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
    }
    ~LogCapture() { spdlog::set_default_logger(old_); }
    std::string text() const {
        std::string all;
        for (const auto& l : sink_->last_formatted()) all += l;
        return all;
    }

   private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> old_;
};

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(JobCheckpoint, HalfWrittenAndStrayDirectoriesAreSkippedWithAWarning) {
    TempDir dir("ckpt-stray");
    Policy p;
    const std::string run = dir.str();
    save_job_checkpoint(run, p.model, p.adam, state_at(2));
    EXPECT_EQ(entries(run + "/checkpoints"), (std::set<std::string>{"step_000002"}));  // no .tmp left

    const fs::path root = run + "/checkpoints";
    // Newer than step 2, but none of them complete:
    write_file(root / "step_000009.tmp-4242/job_state.json", "{\"step\": 9}");  // a writer that died
    fs::create_directories(root / "step_000008/model");                         // no job_state.json
    write_file(root / "step_000007/job_state.json", "{\"step\": 7, \"polic");   // cut off mid-write
    write_file(root / "step_000006", "a file, not a directory");
    fs::create_directories(root / "step_latest");  // not step_<number>
    LogCapture log;
    auto latest = latest_job_checkpoint(run);
    ASSERT_TRUE(latest);
    EXPECT_EQ(fs::path(*latest).filename(), "step_000002");
    const std::string warned = log.text();
    for (const char* name :
         {"step_000009.tmp-4242", "step_000008", "step_000007", "step_000006", "step_latest"})
        EXPECT_NE(warned.find(name), std::string::npos) << name << " skipped without a word:\n" << warned;
    EXPECT_NE(warned.find("no job_state.json"), std::string::npos) << warned;

    // The highest step wins by number, not by name (step_1000000 sorts before step_999999 as text).
    save_job_checkpoint(run, p.model, p.adam, state_at(999999));
    save_job_checkpoint(run, p.model, p.adam, state_at(1000000));
    EXPECT_EQ(fs::path(*latest_job_checkpoint(run)).filename(), "step_1000000");

    // What was chosen loads.
    Policy q;
    JobState st = load_job_checkpoint(run + "/checkpoints/step_000002", q.model, q.adam);
    EXPECT_EQ(st.step, 2);
    EXPECT_EQ(st.prompts_dispatched, 8);
    EXPECT_EQ(q.model.data, p.model.data);
}

TEST(JobCheckpoint, RetentionKeepsTheNewestN) {
    TempDir dir("ckpt-keep");
    Policy p;
    const std::string run = dir.str();
    // An unfinished directory of a writer that is gone is cleared too; one of a live writer is not.
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, nullptr, 0);
    const fs::path root = run + "/checkpoints";
    fs::create_directories(root / ("step_000001.tmp-" + std::to_string(dead)));
    fs::create_directories(root / ("step_000099.tmp-" + std::to_string(getppid())));  // alive

    for (int step = 1; step <= 5; ++step) save_job_checkpoint(run, p.model, p.adam, state_at(step), {}, 3);
    EXPECT_EQ(entries(root.string()),
              (std::set<std::string>{"step_000003", "step_000004", "step_000005",
                                     "step_000099.tmp-" + std::to_string(getppid())}));
    // 0 keeps everything.
    for (int step = 6; step <= 7; ++step) save_job_checkpoint(run, p.model, p.adam, state_at(step), {}, 0);
    EXPECT_EQ(entries(root.string()).size(), 6u);
    // A half-written directory never counts as one of the N kept.
    fs::create_directories(root / "step_000050");  // no job_state.json
    save_job_checkpoint(run, p.model, p.adam, state_at(8), {}, 2);
    EXPECT_TRUE(fs::exists(root / "step_000007/job_state.json"));
    EXPECT_TRUE(fs::exists(root / "step_000008/job_state.json"));
    EXPECT_FALSE(fs::exists(root / "step_000006"));
    EXPECT_TRUE(fs::exists(root / "step_000050"));  // not ours to delete: skipped, not counted
}

TEST(JobCheckpoint, RewritingAStepReplacesItWhole) {
    TempDir dir("ckpt-rewrite");
    Policy p;
    const std::string run = dir.str();
    JobState st = state_at(3);
    save_job_checkpoint(run, p.model, p.adam, st);
    st.rl_seconds = 42;
    p.model.data[0] += 1.0f;
    save_job_checkpoint(run, p.model, p.adam, st,
                        [](const std::string& d) { std::ofstream(d + "/extra.txt") << "critic"; });
    EXPECT_EQ(entries(run + "/checkpoints"), (std::set<std::string>{"step_000003"}));
    EXPECT_TRUE(fs::exists(run + "/checkpoints/step_000003/extra.txt"));
    Policy q;
    JobState back = load_job_checkpoint(run + "/checkpoints/step_000003", q.model, q.adam);
    EXPECT_EQ(back.rl_seconds, 42);
    EXPECT_EQ(q.model.data[0], p.model.data[0]);
}

TEST(JobCheckpoint, BadJobStateFieldsAreNamed) {
    TempDir dir("ckpt-badstate");
    Policy p;
    const std::string run = dir.str();
    const std::string ck = save_job_checkpoint(run, p.model, p.adam, state_at(4));
    const std::string file = ck + "/job_state.json";
    std::ifstream in(file);
    const nlohmann::json good = nlohmann::json::parse(in);

    auto with = [&](const std::string& field, const nlohmann::json& value) {
        nlohmann::json j = good;
        if (value.is_discarded())
            j.erase(field);
        else
            j[field] = value;
        std::ofstream(file) << j.dump();
        return error_of([&] { read_job_state(ck); });
    };
    const nlohmann::json missing = nlohmann::json(nlohmann::json::value_t::discarded);
    struct Case {
        std::string field;
        nlohmann::json value;
    };
    for (const Case& c : std::vector<Case>{{"step", -1},
                                           {"step", -5},
                                           {"step", 5},  // the directory says step 4
                                           {"step", "four"},
                                           {"policy_version", -3},
                                           {"prompts_dispatched", -1},
                                           {"prompts_dispatched", 1.5},
                                           {"prompts_dispatched", missing},
                                           {"extra_prompts", 100},  // more than prompts_dispatched (16)
                                           {"first_untrained_prompt", 17},  // more than prompts_dispatched
                                           {"first_untrained_prompt", -1},
                                           {"sft_steps", -2},
                                           {"rl_seconds", -1.0},
                                           {"rl_seconds", "soon"},
                                           {"optimizer_step", missing}}) {
        const std::string err = with(c.field, c.value);
        EXPECT_NE(err.find(file), std::string::npos) << c.field << " = " << c.value.dump() << ": " << err;
        EXPECT_NE(err.find("'" + c.field + "'"), std::string::npos)
            << c.field << " = " << c.value.dump() << ": " << err;
    }
    std::ofstream(file) << good.dump();
    EXPECT_EQ(read_job_state(ck).step, 4);

    // Against the job: 16 prompts dispatched after 4 steps of 4 is fine, 10^12 is garbage.
    JobState st = read_job_state(ck);
    EXPECT_NO_THROW(check_job_state(st, ck, 10, 4));
    for (const int64_t garbage : {int64_t{1000000000000}, int64_t{1} << 62}) {
        st.prompts_dispatched = garbage;
        const std::string err = error_of([&] { check_job_state(st, ck, 10, 4); });
        EXPECT_NE(err.find(file), std::string::npos) << err;
        EXPECT_NE(err.find("'prompts_dispatched'"), std::string::npos) << err;
    }
    // A step near 2^63 does not overflow the bound into a small (or negative) number.
    st.step = INT64_MAX - 1;
    st.prompts_dispatched = int64_t{1} << 62;
    EXPECT_NO_THROW(check_job_state(st, ck, 10, 4));
    st.step = 4;

    // load_job_checkpoint checks the state before it loads anything.
    with("step", -1);
    Policy q;
    EXPECT_THROW(load_job_checkpoint(ck, q.model, q.adam), Error);
}

TEST(JobCheckpoint, AnUnwritablePlaceGivesAnErrorNamingThePath) {
    TempDir dir("ckpt-unwritable");
    Policy p;
    // The run directory's parent is a regular file: creating checkpoints/ fails (ENOTDIR).
    write_file(dir.sub("file"), "x");
    const std::string run = dir.sub("file") + "/run";
    const std::string err = error_of([&] { save_job_checkpoint(run, p.model, p.adam, state_at(1)); });
    EXPECT_NE(err.find(run + "/checkpoints"), std::string::npos) << err;
}

TEST(JobCheckpoint, AFullOrReadOnlyDiskGivesAnErrorNotAnAbort) {
    TempDir dir("ckpt-enospc");
    Policy p;  // a few hundred KiB of weights and moments
    const std::string mnt = dir.sub("mnt");
    const std::string result = dir.sub("result.txt");
    // Full: 64 KiB cannot hold the checkpoint.
    if (!run_on_tmpfs(mnt, "64k", false, result,
                      [&] { save_job_checkpoint(mnt, p.model, p.adam, state_at(1)); }))
        GTEST_SKIP() << "no mount namespace with tmpfs here (needs CAP_SYS_ADMIN)";
    std::string err = slurp_file(result);
    EXPECT_NE(err.find(mnt + "/checkpoints/step_000001"), std::string::npos) << err;
    EXPECT_NE(err.find("No space left"), std::string::npos) << err;
    // Read-only.
    ASSERT_TRUE(run_on_tmpfs(mnt, "1m", true, result,
                             [&] { save_job_checkpoint(mnt, p.model, p.adam, state_at(1)); }));
    err = slurp_file(result);
    EXPECT_NE(err.find(mnt + "/checkpoints"), std::string::npos) << err;
    EXPECT_NE(err.find("Read-only"), std::string::npos) << err;
}

// Issue #20: what a resume reads stays inside the run's checkpoints directory. A step_N that is a
// symbolic link is skipped with a warning; a link planted inside a checkpoint (its model, optimizer
// or critic pointing elsewhere) fails with the path named before anything is loaded.
TEST(JobCheckpoint, PathsOutsideTheCheckpointsDirectoryAreRefused) {
    TempDir dir("ckpt-escape");
    Policy p;
    const std::string run = dir.sub("run");
    const std::string other = dir.sub("other");
    save_job_checkpoint(run, p.model, p.adam, state_at(2));
    save_job_checkpoint(other, p.model, p.adam, state_at(5));
    const fs::path root = fs::path(run) / "checkpoints";

    fs::create_directory_symlink(fs::path(other) / "checkpoints" / "step_000005", root / "step_000005");
    LogCapture log;
    auto latest = latest_job_checkpoint(run);
    ASSERT_TRUE(latest);
    EXPECT_EQ(fs::path(*latest).filename(), "step_000002");
    EXPECT_NE(log.text().find("symbolic link"), std::string::npos) << log.text();
    // Named directly (as a loaded_from would be), the linked checkpoint is refused too.
    Policy q;
    EXPECT_NE(error_of([&] {
                  load_job_checkpoint((root / "step_000005").string(), q.model, q.adam);
              }).find("outside"),
              std::string::npos);

    // A link inside a checkpoint that leads out of checkpoints/.
    const fs::path ck = root / "step_000002";
    fs::rename(ck / "optimizer.safetensors", ck / "optimizer.moved");
    fs::create_symlink(fs::path(other) / "checkpoints" / "step_000005" / "optimizer.safetensors",
                       ck / "optimizer.safetensors");
    const std::string msg = error_of([&] { load_job_checkpoint(ck.string(), q.model, q.adam); });
    EXPECT_NE(msg.find("optimizer.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { read_job_state(ck.string()); }), "");
    // A link that stays inside the checkpoint is fine.
    fs::remove(ck / "optimizer.safetensors");
    fs::create_symlink(ck / "optimizer.moved", ck / "optimizer.safetensors");
    EXPECT_EQ(load_job_checkpoint(ck.string(), q.model, q.adam).step, 2);
}
