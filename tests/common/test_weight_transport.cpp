// tests/common/test_weight_transport.cpp: weights.transport, weights.timeout_s and weights.bucket_mb are
// checked at load with errors naming the key, and `auto` resolves as README "Weight sync" says.
#include <gtest/gtest.h>

#include "common/base/error.h"
#include "common/weight_transport.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

const char* kMinimal = R"(
tokenizer: tok.json
data:
  train: gen:arith?n=1000&seed=1
)";

std::string load_error(const std::vector<std::string>& overrides) {
    try {
        parse_job_config(kMinimal, "test.yaml", overrides);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

JobConfig on_devices(const std::string& trainer, const std::string& rollout, const std::string& transport) {
    JobConfig c;
    c.trainer.device = trainer;
    c.rollout.device = rollout;
    c.weights.transport = transport;
    return c;
}

TEST(WeightTransport, DefaultsLoadAndValuesOutsideTheirRangeAreRefusedNamingTheKey) {
    const JobConfig c = parse_job_config(kMinimal, "test.yaml");
    EXPECT_EQ(c.weights.transport, "auto");
    EXPECT_DOUBLE_EQ(c.weights.timeout_s, 60);
    EXPECT_DOUBLE_EQ(c.weights.bucket_mb, 64);
    EXPECT_EQ(weight_bucket_bytes(c.weights), 64u << 20);

    EXPECT_NE(load_error({"weights.transport=rdma"}).find("weights.transport"), std::string::npos);
    EXPECT_NE(load_error({"weights.timeout_s=0"}).find("weights.timeout_s"), std::string::npos);
    EXPECT_NE(load_error({"weights.timeout_s=-3"}).find("weights.timeout_s"), std::string::npos);
    EXPECT_NE(load_error({"weights.bucket_mb=0"}).find("weights.bucket_mb"), std::string::npos);
    EXPECT_NE(load_error({"weights.bucket_mb=9000"}).find("weights.bucket_mb"), std::string::npos);
    EXPECT_EQ(load_error({"weights.transport=zmq", "weights.timeout_s=5", "weights.bucket_mb=0.5"}), "");
    EXPECT_EQ(load_error({"weights.transport=shm"}), "");
}

TEST(WeightTransport, NcclOnTheCpuIsRefusedAtLoadNamingTheKeyAndTheDevice) {
    const std::string e = load_error({"weights.transport=nccl"});
    ASSERT_NE(e, "");
    EXPECT_NE(e.find("weights.transport"), std::string::npos) << e;
    // Either this binary has no NCCL, or the roles are on the cpu (the default device): both named.
    EXPECT_TRUE(e.find("cpu") != std::string::npos || e.find("without NCCL") != std::string::npos) << e;
}

TEST(WeightTransport, NcclIsRefusedWithoutNcclInTheBinaryOrWithARoleOnTheCpu) {
    EXPECT_NE(weight_transport_refusal(on_devices("cuda", "cuda", "nccl"), false).find("without NCCL"),
              std::string::npos);
    EXPECT_EQ(weight_transport_refusal(on_devices("cuda", "cuda", "nccl"), true), "");
    const std::string cpu = weight_transport_refusal(on_devices("cpu", "cuda", "nccl"), true);
    EXPECT_NE(cpu.find("trainer device cpu"), std::string::npos) << cpu;
    EXPECT_NE(weight_transport_refusal(on_devices("cuda", "cpu", "nccl"), true).find("rollout device cpu"),
              std::string::npos);
    // Only nccl depends on the binary and the devices.
    for (const char* t : {"auto", "zmq", "shm"})
        EXPECT_EQ(weight_transport_refusal(on_devices("cpu", "cpu", t), false), "");
    EXPECT_THROW(resolve_weight_transport(on_devices("cpu", "cpu", "nccl"), {.nccl_built = true}), Error);
}

TEST(WeightTransport, AutoPicksNcclOnlyForCudaRolesInSeparateProcessesWithNccl) {
    const WeightTransportFacts gpu_job{.nccl_built = true, .separate_processes = true, .one_host = true};
    EXPECT_EQ(resolve_weight_transport(on_devices("cuda", "cuda", "auto"), gpu_job), WeightTransport::nccl);
    // Any one missing: shm on one host, zmq across hosts.
    WeightTransportFacts no_nccl = gpu_job;
    no_nccl.nccl_built = false;
    EXPECT_EQ(resolve_weight_transport(on_devices("cuda", "cuda", "auto"), no_nccl), WeightTransport::shm);
    WeightTransportFacts threads = gpu_job;
    threads.separate_processes = false;
    EXPECT_EQ(resolve_weight_transport(on_devices("cuda", "cuda", "auto"), threads), WeightTransport::shm);
    EXPECT_EQ(resolve_weight_transport(on_devices("cpu", "cuda", "auto"), gpu_job), WeightTransport::shm);
    WeightTransportFacts hosts = gpu_job;
    hosts.one_host = false;
    EXPECT_EQ(resolve_weight_transport(on_devices("cuda", "cpu", "auto"), hosts), WeightTransport::zmq);
    // Explicit choices are kept.
    EXPECT_EQ(resolve_weight_transport(on_devices("cuda", "cuda", "zmq"), gpu_job), WeightTransport::zmq);
    EXPECT_EQ(resolve_weight_transport(on_devices("cpu", "cpu", "shm"), hosts), WeightTransport::shm);
    EXPECT_STREQ(weight_transport_name(WeightTransport::nccl), "nccl");
}

}  // namespace
}  // namespace stride
