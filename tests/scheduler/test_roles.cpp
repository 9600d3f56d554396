// scheduler/roles: the Unix sockets of launcher: processes live in an owner-only directory, and so
// does the run directory (issue #20).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/base/error.h"
#include "common/messaging.h"
#include "scheduler/job_config.h"
#include "scheduler/roles.h"

namespace stride {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
    struct stat st;
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(Roles, SocketsAndRunDirectoryAreOwnerOnly) {
    const fs::path root = fs::temp_directory_path() / ("stride_roles_" + std::to_string(::getpid()));
    fs::remove_all(root);
    const JobConfig cfg = parse_job_config(
        "tokenizer: tok.json\ndata:\n  train: gen:arith?n=100&seed=1\nlauncher: processes\nname: j\n",
        "t.yaml", {"run_dir=" + root.string()});
    const mode_t old = ::umask(0);  // the directories must not depend on the umask
    create_run_dir(cfg);
    const JobEndpoints ep = process_endpoints(cfg);
    {
        ZmqContext ctx;
        ZmqSocket s(ctx, 6 /* ZMQ_ROUTER */);
        s.bind(ep.buffer);
        EXPECT_EQ(mode_of(root / "j" / "sockets" / "buffer"), 0600u);
    }
    ::umask(old);
    EXPECT_EQ(mode_of(root), 0700u);
    EXPECT_EQ(mode_of(root / "j"), 0700u);
    EXPECT_EQ(mode_of(root / "j" / "logs"), 0700u);
    EXPECT_EQ(mode_of(root / "j" / "sockets"), 0700u);
    EXPECT_EQ(ep.buffer, "ipc://" + (root / "j" / "sockets" / "buffer").string());

    // A sockets directory opened up by someone is closed again; a symlink in its place is refused.
    fs::permissions(root / "j" / "sockets", fs::perms::all);
    process_endpoints(cfg);
    EXPECT_EQ(mode_of(root / "j" / "sockets"), 0700u);
    fs::remove_all(root / "j" / "sockets");
    fs::create_directories(root / "elsewhere");
    fs::create_directory_symlink(root / "elsewhere", root / "j" / "sockets");
    EXPECT_THROW(process_endpoints(cfg), Error);
    fs::remove_all(root);
}

// A resumed dispatcher starts at the checkpoint's first untrained prompt (issue #15): in async mode a
// prompt below the count the trainer consumed may still be untrained (and deleted by the resume), so
// it is handed out again; a checkpoint without the field starts at the count, as before.
TEST(Roles, AResumedDispatcherStartsAtTheFirstUntrainedPrompt) {
    const JobConfig cfg = parse_job_config("tokenizer: tok.json\ndata:\n  train: gen:arith?n=100&seed=1\n",
                                           "t.yaml", {"rollout.mode=async", "trainer.prompts_per_step=4"});
    JobState st;
    st.step = 3;
    st.prompts_dispatched = 12;
    st.first_untrained_prompt = 9;
    EXPECT_EQ(dispatcher_options(cfg, st).start_prompt, 9);
    st.first_untrained_prompt = -1;  // unknown
    EXPECT_EQ(dispatcher_options(cfg, st).start_prompt, 12);
}

}  // namespace
}  // namespace stride
