// The stride_reward Python package on its own: where the C++ side finds it (environment, installed
// next to the binary, source tree), `cmake --install` putting it there, and the worker protocol
// (reward/plugin/plugin_protocol.h) spoken over a TCP endpoint by a real `python3 -m stride_reward serve`.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/base/error.h"
#include "common/messaging.h"
#include "reward/plugin/plugin_protocol.h"
#include "reward/plugin/python_reward.h"
#include "reward/plugin/worker_process.h"
#include "tests/cli_test_util.h"

using namespace stride;
using stride::test::run_capture;
namespace fs = std::filesystem;

namespace {

const std::string kSourcePackage = STRIDE_SOURCE_DIR "/reward/plugin/python";

struct TempDir {
    TempDir() {
        std::string t = fs::temp_directory_path() / "stride-pkg-XXXXXX";
        path = mkdtemp(t.data());
    }
    ~TempDir() { fs::remove_all(path); }
    std::string path;
};

void make_package(const std::string& dir) {
    fs::create_directories(dir + "/stride_reward");
    std::ofstream(dir + "/stride_reward/__main__.py") << "\n";
}

std::string lookup_error(const std::string& env, const std::string& exe, const std::string& source) {
    try {
        find_python_package_dir(env, exe, source);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(PythonPackage, LookupOrder) {
    TempDir t;
    const std::string prefix = t.path + "/prefix", other = t.path + "/other";
    make_package(prefix + "/share/stride/python");
    make_package(other);
    // Installed: <prefix>/bin/stride finds <prefix>/share/stride/python, before the source tree.
    EXPECT_EQ(find_python_package_dir("", prefix + "/bin/stride", kSourcePackage),
              prefix + "/share/stride/python");
    // Not installed: the source tree.
    EXPECT_EQ(find_python_package_dir("", t.path + "/build/bin/stride", kSourcePackage), kSourcePackage);
    // The environment wins over both, and a wrong value is an error, not a silent fallback.
    EXPECT_EQ(find_python_package_dir(other, prefix + "/bin/stride", kSourcePackage), other);
    std::string err = lookup_error(t.path + "/empty", prefix + "/bin/stride", kSourcePackage);
    EXPECT_NE(err.find("STRIDE_PYTHON_DIR: '" + t.path + "/empty'"), std::string::npos) << err;
    err = lookup_error("", t.path + "/bin/stride", t.path + "/src");
    EXPECT_NE(err.find(t.path + "/share/stride/python"), std::string::npos) << err;
    EXPECT_NE(err.find("set STRIDE_PYTHON_DIR"), std::string::npos) << err;
}

// The installed binary runs Python rewards from the installed package, not from this source tree.
TEST(PythonPackage, InstalledBinaryUsesTheInstalledPackage) {
    TempDir t;
    std::string log = run_capture("cmake --install " STRIDE_BINARY_DIR " --prefix " + t.path + " 2>&1");
    ASSERT_TRUE(fs::exists(t.path + "/bin/stride")) << log;
    ASSERT_TRUE(fs::exists(t.path + "/share/stride/python/stride_reward/worker.py")) << log;
    EXPECT_TRUE(fs::exists(t.path + "/include/stride/reward/stride_reward.h")) << log;
    std::string out = run_capture(
        "echo '{\"response\":\"1\",\"label\":\"1\"}' | env -u STRIDE_PYTHON_DIR " + t.path +
        "/bin/stride reward score --fn python:" STRIDE_SOURCE_DIR "/tests/reward/python/where.py:score");
    EXPECT_NE(out.find("\"detail\":\"" + t.path + "/share/stride/python/stride_reward\""), std::string::npos)
        << out;
}

// What the pool does, done by hand over TCP: hello, schema, ready, a batch, its scores, stop.
TEST(PythonPackage, ServesABatchOverTcp) {
    ZmqContext ctx;
    ZmqSocket router(ctx, ZMQ_ROUTER);
    router.bind("tcp://127.0.0.1:*");
    ChildProcess child = start_child(
        {python_interpreter(), "-m", "stride_reward", "serve",
         STRIDE_SOURCE_DIR "/tests/reward/python/good.py:score", "--connect", router.last_endpoint()},
        child_environment({"PYTHONPATH=" + kSourcePackage, "PYTHONDONTWRITEBYTECODE=1"}));
    auto recv = [&](const char* kind) {
        auto frames = router.recv_frames(10000);
        EXPECT_TRUE(frames && frames->size() >= 2 && (*frames)[1] == kind) << "expected " << kind;
        return frames.value_or(std::vector<std::string>(3));
    };
    auto hello = recv(reward_wire::kHello);
    ASSERT_EQ(hello.size(), 3u);
    EXPECT_EQ(hello[2], std::to_string(child.pid));
    const std::string route = hello[0];
    router.send_frames({route, reward_wire::kSchema, reward_wire::schema_descriptor(), "{}"}, 1000);
    recv(reward_wire::kReady);

    v1::RewardRequest req;
    req.set_request_id(7);
    const char* samples[][2] = {{"861", "861"}, {"it is 861", "861"}, {"86", "861"}};
    for (const auto& s : samples) {
        v1::RewardItem* it = req.add_items();
        it->set_response(s[0]);
        it->set_label(s[1]);
    }
    router.send_frames({route, reward_wire::kScore, req.SerializeAsString()}, 1000);
    auto scores = recv(reward_wire::kScores);
    v1::RewardReply rep;
    ASSERT_TRUE(rep.ParseFromString(scores[2]));
    EXPECT_EQ(rep.request_id(), 7u);
    EXPECT_EQ(rep.first(), 0u);
    ASSERT_EQ(rep.scores_size(), 3);
    EXPECT_DOUBLE_EQ(rep.scores(0), 1.0);
    EXPECT_DOUBLE_EQ(rep.scores(1), 0.5);
    EXPECT_DOUBLE_EQ(rep.scores(2), 0.0);
    EXPECT_EQ(rep.details(2), "expected 861, got 86");
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(rep.ok(i));

    router.send_frames({route, reward_wire::kStop}, 1000);
    EXPECT_EQ(end_child(child, false, 10.0), "worker exited with status 0");
}
