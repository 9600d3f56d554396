// What a job may listen on (issue #20): non-loopback binds are refused at load with the key named,
// a run's name stays one path component, and the directories a job creates are owner-only.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/base/error.h"
#include "common/listen_policy.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

namespace fs = std::filesystem;

const char* kMinimal = R"(
tokenizer: tok.json
data:
  train: gen:arith?n=1000&seed=1
)";

std::string error_of(const std::vector<std::string>& overrides, const std::string& extra = "") {
    try {
        parse_job_config(std::string(kMinimal) + extra, "test.yaml", overrides);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_ERROR_HAS(msg, part) \
    EXPECT_NE(std::string(msg).find(part), std::string::npos) << "message: " << (msg)

TEST(ListenPolicy, LoopbackHosts) {
    for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"})
        EXPECT_TRUE(is_loopback_host(h)) << h;
    for (const char* h : {"0.0.0.0", "*", "10.0.0.1", "128.0.0.1", "::", "[::]", "eth0", "example.com", "",
                          "127.0.0.1.example.com", "::ffff:10.0.0.1"})
        EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(ListenPolicy, EndpointsThatMayBeBound) {
    for (const char* e : {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://localhost:1",
                          "tcp://[::1]:5555", "ipc:///tmp/x/buffer", "inproc://buf"})
        EXPECT_EQ(listen_exposure(e), "") << e;
    for (const char* e :
         {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://eth0:5555", "tcp://10.1.2.3:5555", "tcp://[::]:5555",
          "ipc://@abstract", "ws://127.0.0.1:5555", "pgm://eth0;239.0.0.1:5555"})
        EXPECT_NE(listen_exposure(e), "") << e;
}

TEST(ListenPolicy, NonLoopbackBufferEndpointIsRefusedAtLoadNamingTheKey) {
    for (const char* e : {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://192.168.1.10:5555", "ipc://@buf"}) {
        const std::string msg = error_of({std::string("buffer.endpoint=") + e});
        EXPECT_EQ(msg.rfind("buffer.endpoint:", 0), 0u) << msg;
        EXPECT_ERROR_HAS(msg, "CURVE");
    }
    EXPECT_EQ(error_of({"buffer.endpoint=tcp://127.0.0.1:5555"}), "");
    EXPECT_EQ(error_of({"buffer.endpoint=tcp://localhost:5555"}), "");
    // metrics.bind beyond loopback is allowed (it warns when the server starts).
    EXPECT_EQ(error_of({"metrics.bind=0.0.0.0"}), "");
}

TEST(ListenPolicy, NameIsOnePathComponent) {
    for (const char* n : {"../escape", "a/b", "..", ".", "/abs"}) {
        const std::string msg = error_of({std::string("name=") + n});
        EXPECT_EQ(msg.rfind("name:", 0), 0u) << n << ": " << msg;
    }
    EXPECT_EQ(error_of({"name=my-run_1.v2"}), "");
    EXPECT_EQ(error_of({}, "name: \"a\\0b\"\n").rfind("name:", 0), 0u);
    EXPECT_EQ(error_of({}, "model.path: \"m\\0/x\"\n").rfind("model.path:", 0), 0u);
    EXPECT_EQ(error_of({"run_dir="}).rfind("run_dir:", 0), 0u);
}

struct Umask {
    mode_t old;
    explicit Umask(mode_t m) : old(::umask(m)) {}
    ~Umask() { ::umask(old); }
};

mode_t mode_of(const fs::path& p) {
    struct stat st;
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(ListenPolicy, PrivateDirIsOwnerOnlyWhateverTheUmask) {
    const fs::path root = fs::temp_directory_path() / ("stride_private_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    {
        Umask loose(0);  // mkdir would otherwise leave 0777
        make_private_dir((root / "a" / "b").string(), "test");
    }
    EXPECT_EQ(mode_of(root / "a"), 0700u);
    EXPECT_EQ(mode_of(root / "a" / "b"), 0700u);
    // An existing directory is tightened.
    fs::create_directories(root / "open");
    fs::permissions(root / "open", fs::perms::all);
    make_private_dir((root / "open").string(), "test");
    EXPECT_EQ(mode_of(root / "open"), 0700u);
    // A symbolic link is refused where a directory of its own is required.
    fs::create_directory_symlink(root / "open", root / "link");
    EXPECT_THROW(make_private_dir((root / "link").string(), "test", /*no_symlink=*/true), Error);
    fs::remove_all(root);
}

}  // namespace
}  // namespace stride
