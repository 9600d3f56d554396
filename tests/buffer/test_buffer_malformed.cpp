// tests/buffer/test_buffer_malformed.cpp: bad input on the buffer's socket (random bytes, truncated
// protobuf, another job, another schema version, bodies the buffer does not serve, odd framing) gets
// an Error reply and a counter, and the buffer goes on serving valid requests.
#include <gtest/gtest.h>
#include <zmq.h>

#include <random>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "tests/buffer/buffer_test_util.h"

using namespace stride;
using stride::test::make_groups;
using stride::test::TempDir;
using stride::test::test_config;

namespace {

v1::ErrorCode error_code_of(const std::optional<std::string>& reply) {
    if (!reply) return v1::ERROR_CODE_UNSPECIFIED;
    v1::Envelope e;
    if (!e.ParseFromString(*reply) || !e.has_error()) return v1::ERROR_CODE_UNSPECIFIED;
    return e.error().code();
}

}  // namespace

TEST(BufferMalformed, RejectedCountedAndStillServing) {
    TempDir dir("buf-malformed");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    RequestClient raw(ctx, server.endpoint(), cfg.job_id);

    // Random bytes: whatever protobuf makes of them, never accepted.
    std::mt19937 rng(1234);
    for (int i = 0; i < 50; ++i) {
        std::string junk(1 + rng() % 200, '\0');
        for (auto& c : junk) c = static_cast<char>(rng());
        auto rep = raw.call_raw(junk, 2000);
        ASSERT_TRUE(rep.has_value()) << "no reply to junk message " << i;
        EXPECT_NE(error_code_of(rep), v1::ERROR_CODE_UNSPECIFIED);
    }
    EXPECT_EQ(error_code_of(raw.call_raw("", 2000)), v1::ERROR_CODE_WRONG_SCHEMA_VERSION);

    // Truncated protobuf of a valid put.
    v1::Envelope put = make_envelope(cfg.job_id);
    for (const auto& s : make_groups("m", 1, 2)) *put.mutable_put_samples()->add_samples() = s;
    std::string bytes = encode_envelope(put);
    EXPECT_EQ(error_code_of(raw.call_raw(bytes.substr(0, bytes.size() / 2), 2000)), v1::ERROR_CODE_MALFORMED);

    v1::Envelope wrong_job = put;
    wrong_job.set_job_id("someone-else");
    EXPECT_EQ(error_code_of(raw.call_raw(encode_envelope(wrong_job), 2000)), v1::ERROR_CODE_WRONG_JOB);

    v1::Envelope wrong_schema = put;
    wrong_schema.set_schema_version(kSchemaVersion + 7);
    EXPECT_EQ(error_code_of(raw.call_raw(encode_envelope(wrong_schema), 2000)),
              v1::ERROR_CODE_WRONG_SCHEMA_VERSION);

    v1::Envelope heartbeat = make_envelope(cfg.job_id);
    heartbeat.mutable_heartbeat()->set_worker_id("w0");
    EXPECT_EQ(error_code_of(raw.call_raw(encode_envelope(heartbeat), 2000)), v1::ERROR_CODE_UNKNOWN_BODY);
    EXPECT_EQ(error_code_of(raw.call_raw(encode_envelope(make_envelope(cfg.job_id)), 2000)),
              v1::ERROR_CODE_UNKNOWN_BODY);

    // Odd framing from a DEALER (no REQ delimiter, several frames): answered, not fatal.
    {
        ZmqSocket dealer(ctx, ZMQ_DEALER);
        dealer.connect(server.endpoint());
        ASSERT_TRUE(dealer.send_frames({"a", "b", "\x01\x02\x03"}, 2000));
        auto frames = dealer.recv_frames(2000);
        ASSERT_TRUE(frames.has_value());
        EXPECT_NE(error_code_of(frames->back()), v1::ERROR_CODE_UNSPECIFIED);
    }

    // Still serving: a valid put, pull and commit work.
    BufferClient client(ctx, server.endpoint(), cfg.job_id);
    EXPECT_EQ(client.put(make_groups("ok", 1, 2)).durable_sample_ids_size(), 2);
    v1::Batch b = client.pull(1, 0);
    ASSERT_EQ(b.groups_size(), 1);
    client.commit(b.batch_id());

    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.rejected_total(), 57u);  // 50 junk + empty + truncated + job + schema + 2 body + dealer
    EXPECT_EQ(st.rejected_wrong_job(), 1u);
    EXPECT_GE(st.rejected_malformed(), 2u);
    EXPECT_GE(st.rejected_wrong_schema(), 2u);
    EXPECT_GE(st.rejected_unknown_body(), 2u);
    EXPECT_EQ(st.rejected_malformed() + st.rejected_wrong_schema() + st.rejected_unknown_body() +
                  st.rejected_wrong_job(),
              57u);
    EXPECT_EQ(st.stored_samples(), 0u);
    EXPECT_EQ(server.stats().rejected_total, 57u);
}

// Issue #20: a refusal names neither the buffer's job id nor anything the stranger did not send.
TEST(BufferMalformed, RefusalsDoNotRevealTheJobId) {
    TempDir dir("buf-refusal");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    RequestClient raw(ctx, server.endpoint(), "someone-else");
    v1::Envelope wrong_job = make_envelope("someone-else");
    wrong_job.mutable_stats_request();
    const std::string bytes = encode_envelope(wrong_job);
    for (const std::string& req :
         {bytes, bytes.substr(0, bytes.size() / 2), std::string("\xff\xff garbage")}) {
        auto rep = raw.call_raw(req, 2000);
        ASSERT_TRUE(rep.has_value());
        EXPECT_NE(error_code_of(rep), v1::ERROR_CODE_UNSPECIFIED);
        EXPECT_EQ(rep->find(cfg.job_id), std::string::npos) << "a refusal reveals the job id";
    }
    server.stop();
}
