// A rollout worker whose prompt dispatcher or weight publisher does not answer (issue #15): it fails
// after deadlines.dispatcher_s / deadlines.weights_s with an error naming the peer's endpoint and the
// key, instead of waiting forever; a stop ends the wait within about a second. Real buffer, publisher
// and dispatcher on loopback ZeroMQ (tests/rollout/rollout_test_util.h); the silent peer is an
// endpoint nobody serves.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/base/peer_error.h"
#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using namespace stride::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNobody = "tcp://127.0.0.1:1";  // nothing listens there

struct WorkerEnd {
    double seconds = 0;
    std::string error;  // "" when run() returned
    std::string peer;   // PeerUnreachable::peer()
};

// Runs a worker on this thread until it returns or throws; `stop` is set by a watchdog after 60 s
// (then the test fails on the time), or by `stop_after_ms` when >= 0.
WorkerEnd run_worker(RolloutRig& rig, const RolloutEndpoints& ep, int stop_after_ms = -1) {
    RolloutWorker w(rig.ctx(), "rollout-0", ep);
    std::atomic<bool> stop{false}, done{false};
    std::thread watchdog([&] {
        const auto t0 = Clock::now();
        while (!done && Clock::now() - t0 < std::chrono::seconds(60)) {
            if (stop_after_ms >= 0 && Clock::now() - t0 >= std::chrono::milliseconds(stop_after_ms)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        stop = true;
    });
    WorkerEnd out;
    const auto t0 = Clock::now();
    try {
        w.run(stop);
    } catch (const PeerUnreachable& e) {
        out.error = e.what();
        out.peer = e.peer();
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    done = true;
    watchdog.join();
    return out;
}

}  // namespace

TEST(RolloutDeadlines, ASilentDispatcherFailsTheWorkerNamingItAndTheKey) {
    RolloutRig rig("dl-dispatcher", {"deadlines.dispatcher_s=1.5"});
    RolloutEndpoints ep = rig.endpoints();
    ep.scheduler = kNobody;
    const WorkerEnd end = run_worker(rig, ep);
    EXPECT_EQ(end.peer, "prompt dispatcher") << end.error;
    EXPECT_NE(end.error.find(kNobody), std::string::npos) << end.error;
    EXPECT_NE(end.error.find("deadlines.dispatcher_s"), std::string::npos) << end.error;
    EXPECT_GE(end.seconds, 1.4);
    EXPECT_LT(end.seconds, 1.5 + 8.0) << "the worker took " << end.seconds << " s";
}

TEST(RolloutDeadlines, ASilentWeightPublisherFailsTheWorkerNamingItAndTheKey) {
    RolloutRig rig("dl-weights", {"deadlines.weights_s=1.5"});
    RolloutEndpoints ep = rig.endpoints();
    ep.weights = kNobody;
    const WorkerEnd end = run_worker(rig, ep);
    EXPECT_EQ(end.peer, "weight publisher") << end.error;
    EXPECT_NE(end.error.find(kNobody), std::string::npos) << end.error;
    EXPECT_NE(end.error.find("deadlines.weights_s"), std::string::npos) << end.error;
    EXPECT_GE(end.seconds, 1.4);
    EXPECT_LT(end.seconds, 1.5 + 8.0) << "the worker took " << end.seconds << " s";
}

TEST(RolloutDeadlines, AStopEndsTheWaitOnASilentPeerPromptly) {
    // Default deadlines (60 s): only the stop can end these waits early.
    RolloutRig rig("dl-stop", {});
    for (const bool silent_dispatcher : {true, false}) {
        RolloutEndpoints ep = rig.endpoints();
        (silent_dispatcher ? ep.scheduler : ep.weights) = kNobody;
        const WorkerEnd end = run_worker(rig, ep, /*stop_after_ms=*/300);
        EXPECT_EQ(end.error, "") << (silent_dispatcher ? "dispatcher" : "publisher");
        EXPECT_LT(end.seconds, 0.3 + 3.0)
            << (silent_dispatcher ? "dispatcher" : "publisher") << ": the worker took " << end.seconds
            << " s after a stop at 0.3 s";
    }
}
