// The reward bridge (issue #20, #18): the ZeroMQ link between a reward pool and its workers, on
// reward.bind and with CURVE under the job's keys. Real pools, real python3 and `stride reward
// worker` processes, real key files; a worker without the keys is refused before it says a word.
#include <gtest/gtest.h>
#include <zmq.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "common/curve_keys.h"
#include "common/messaging.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/plugin/plugin_protocol.h"
#include "reward/plugin/python_reward.h"
#include "reward/plugin/worker_process.h"
#include "scheduler/job_config.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::reward_input;

const std::string kEnvScore = "python:" STRIDE_SOURCE_DIR "/tests/reward/python/env_score.py:score";

std::string keys_dir(const std::string& name) {
    const std::string dir =
        (fs::temp_directory_path() / ("stride-bridge-" + name + "-" + std::to_string(getpid()))).string();
    fs::remove_all(dir);
    write_curve_keys(dir, generate_curve_keys());
    return dir;
}

PluginOptions keyed_options(const std::string& dir) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 10.0;
    opt.memory_mb = 512;
    opt.bind = "tcp://127.0.0.1:*";
    opt.curve = std::make_shared<const CurveKeys>(read_curve_keys(dir));
    opt.keys_dir = dir;
    opt.admit_remote = true;
    return opt;
}

// A python3 worker the pool did not start, as on another host: `serve ... --remote`.
ChildProcess start_remote_worker(const std::string& endpoint, const std::string& keys,
                                 const std::string& score) {
    std::vector<std::string> argv = {python_interpreter(),
                                     "-m",
                                     "stride_reward",
                                     "serve",
                                     STRIDE_SOURCE_DIR "/tests/reward/python/env_score.py:score",
                                     "--connect",
                                     endpoint,
                                     "--remote"};
    if (!keys.empty()) argv.insert(argv.end(), {"--keys-dir", keys});
    return start_child(argv, child_environment({"PYTHONPATH=" + python_package_dir(),
                                                "PYTHONDONTWRITEBYTECODE=1", "STRIDE_TEST_SCORE=" + score}));
}

// Scores batches of 8 until one sample scores `wanted` or `seconds` pass; true when it did.
bool some_sample_scores(PythonReward& fn, double wanted, double seconds) {
    const std::vector<RewardInput> batch(8, reward_input("x", "y"));
    for (auto until = Clock::now() + std::chrono::duration<double>(seconds); Clock::now() < until;) {
        for (const RewardResult& r : fn.score_batch(batch)) {
            EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
            if (r.score == wanted) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace

TEST(RewardBridge, APythonPoolServesCurveOnReward_bind) {
    const std::string dir = keys_dir("py");
    PythonReward fn(kEnvScore, keyed_options(dir));
    EXPECT_EQ(fn.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << fn.endpoint();
    RewardResult r = fn.score(reward_input("x", "y"));
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, 0.25);  // scored by its own worker, which connected with the job's keys
    EXPECT_EQ(fn.stats().auth_refused, 0u);
    fs::remove_all(dir);
}

TEST(RewardBridge, ACPluginPoolServesCurveToo) {
    const std::string dir = keys_dir("c");
    PluginOptions opt = keyed_options(dir);
    opt.worker_exe = STRIDE_BIN;
    opt.memory_mb = 128;
    PluginPool pool(PluginSpec{std::string(STRIDE_TEST_PLUGIN_DIR) + "/exact.so", "stride_reward"}, opt);
    EXPECT_EQ(pool.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << pool.endpoint();
    RewardResult r = pool.score(reward_input("42", "42"));
    EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_DOUBLE_EQ(r.score, 1.0);
    fs::remove_all(dir);
}

// A worker that holds the job's keys may join from elsewhere and gets its share of the work; one
// without them is refused by the handshake: never sent the schema, never a sample.
TEST(RewardBridge, ARemoteWorkerWithTheKeysScoresAKeylessOneIsRefused) {
    const std::string dir = keys_dir("remote");
    auto fn = std::make_unique<PythonReward>(kEnvScore, keyed_options(dir));
    const std::string endpoint = fn->endpoint();

    ChildProcess keyless = start_remote_worker(endpoint, "", "0.5");
    for (auto until = Clock::now() + std::chrono::seconds(20);
         fn->stats().auth_refused == 0 && Clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(fn->stats().auth_refused, 1u);
    EXPECT_FALSE(some_sample_scores(*fn, 0.5, 1.0));  // nothing of it scored
    EXPECT_EQ(fn->stats().remote_joined, 0);

    // A raw client without keys that speaks the protocol is not answered either.
    {
        ZmqContext plain;
        ZmqSocket dealer(plain, ZMQ_DEALER);
        dealer.connect(endpoint);
        dealer.send_frames({reward_wire::kHello, reward_wire::kRemote}, 1000);
        EXPECT_FALSE(dealer.recv_frames(1000).has_value());
    }
    EXPECT_EQ(fn->stats().remote_joined, 0);

    ChildProcess keyed = start_remote_worker(endpoint, dir, "0.75");
    EXPECT_TRUE(some_sample_scores(*fn, 0.75, 20.0));  // the remote worker took part of the batches
    EXPECT_EQ(fn->stats().remote_joined, 1);
    fn.reset();  // the pool tells the remote worker to stop
    EXPECT_EQ(end_child(keyed, false, 10.0), "worker exited with status 0");
    end_child(keyless, true);
    fs::remove_all(dir);
}

TEST(RewardBridge, WithoutCurveNoRemoteWorkerIsAdmitted) {
    PluginOptions opt;
    opt.workers = 1;
    opt.timeout_s = 10.0;
    opt.bind = "tcp://127.0.0.1:*";
    opt.admit_remote = true;  // asked for, but nobody would be authenticated
    PythonReward fn(kEnvScore, opt);
    ChildProcess remote = start_remote_worker(fn.endpoint(), "", "0.5");
    EXPECT_FALSE(some_sample_scores(fn, 0.5, 2.0));
    EXPECT_EQ(fn.stats().remote_joined, 0);
    end_child(remote, true);
}

TEST(RewardBridge, WorkerKeyFilesMustBeOwnerOnly) {
    const std::string dir = keys_dir("mode");
    const PluginOptions opt = keyed_options(dir);  // the pool has its keys; the worker reads the files
    fs::permissions(dir + "/client.key_secret", fs::perms::group_read, fs::perm_options::add);
    try {
        PythonReward fn(kEnvScore, opt);
        ADD_FAILURE() << "a worker read a group-readable secret key";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("did not start"), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
}

TEST(RewardBridge, BindIsCheckedAtLoad) {
    auto load = [](std::vector<std::string> overrides) {
        return parse_job_config("tokenizer: tok.json\ndata:\n  train: gen:arith?n=10&seed=1\n", "t.yaml",
                                overrides);
    };
    auto error_of = [&](std::vector<std::string> overrides) {
        try {
            load(overrides);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const std::string open = error_of({"reward.bind=tcp://0.0.0.0:7500"});
    EXPECT_NE(open.find("reward.bind"), std::string::npos) << open;
    EXPECT_NE(open.find("network.unauthenticated"), std::string::npos) << open;
    EXPECT_EQ(error_of({"reward.bind=tcp://0.0.0.0:7500", "network.auth=curve"}), "");
    EXPECT_EQ(error_of({"reward.bind=tcp://127.0.0.1:7500"}), "");
    EXPECT_NE(error_of({"reward.bind=inproc://r"}).find("reward.bind"), std::string::npos);
    EXPECT_NE(error_of({"reward.bind=udp://x"}).find("reward.bind"), std::string::npos);
}
