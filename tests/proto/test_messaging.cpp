// tests/proto/test_messaging.cpp: common/messaging over real loopback sockets: envelope checks,
// request/reply through a ROUTER, timeouts, and a client that recovers from a timed-out request.
#include <gtest/gtest.h>
#include <zmq.h>

#include <atomic>
#include <thread>

#include "common/base/error.h"
#include "common/messaging.h"

using namespace stride;

TEST(Envelope, DecodeRejectsWithTheRightCode) {
    v1::Envelope good = make_envelope("job");
    good.mutable_stats_request();
    v1::Envelope out;
    EXPECT_TRUE(decode_envelope(encode_envelope(good), "job", &out).ok());
    EXPECT_EQ(decode_envelope(encode_envelope(good), "other", &out).code, v1::ERROR_CODE_WRONG_JOB);

    v1::Envelope old = good;
    old.set_schema_version(kSchemaVersion + 1);
    EXPECT_EQ(decode_envelope(encode_envelope(old), "job", &out).code, v1::ERROR_CODE_WRONG_SCHEMA_VERSION);

    v1::Envelope empty = make_envelope("job");
    EXPECT_EQ(decode_envelope(encode_envelope(empty), "job", &out).code, v1::ERROR_CODE_UNKNOWN_BODY);

    std::string garbage = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
    EXPECT_EQ(decode_envelope(garbage, "job", &out).code, v1::ERROR_CODE_MALFORMED);

    std::string bytes = encode_envelope(good);
    v1::Envelope big = make_envelope("job");
    big.mutable_put_samples()->add_samples()->set_sample_id(std::string(100, 'x'));
    std::string big_bytes = encode_envelope(big);
    EXPECT_EQ(decode_envelope(big_bytes.substr(0, big_bytes.size() - 10), "job", &out).code,
              v1::ERROR_CODE_MALFORMED);
}

TEST(Messaging, RequestReplyOverRouter) {
    ZmqContext ctx;
    ReplySocket server(ctx, "tcp://127.0.0.1:*");
    ASSERT_NE(server.endpoint().find("tcp://127.0.0.1:"), std::string::npos);
    std::atomic<bool> stop{false};
    std::thread t([&] {
        while (!stop) {
            auto req = server.recv(10);
            if (!req) continue;
            v1::Envelope in;
            auto check = decode_envelope(req->payload, "job", &in);
            v1::Envelope out =
                check.ok() ? make_envelope("job") : make_error("job", check.code, check.message);
            if (check.ok()) out.mutable_buffer_stats()->set_puts(in.pull_batch().num_groups());
            server.reply(*req, encode_envelope(out));
        }
    });
    RequestClient client(ctx, server.endpoint(), "job");
    for (uint32_t i = 1; i <= 20; ++i) {
        v1::Envelope req = make_envelope("job");
        req.mutable_pull_batch()->set_num_groups(i);
        auto rep = client.call(req, 2000);
        ASSERT_TRUE(rep.has_value());
        EXPECT_EQ(rep->buffer_stats().puts(), i);
    }
    auto raw = client.call_raw("not an envelope", 2000);
    ASSERT_TRUE(raw.has_value());
    v1::Envelope err;
    ASSERT_TRUE(err.ParseFromString(*raw));
    EXPECT_EQ(err.error().code(), v1::ERROR_CODE_MALFORMED);
    stop = true;
    t.join();
}

TEST(Messaging, TimeoutThenRecoverWhenServerAppears) {
    ZmqContext ctx;
    // Reserve a port by binding then closing, so the client first talks to nobody.
    std::string endpoint;
    {
        ZmqSocket probe(ctx, ZMQ_ROUTER);
        probe.bind("tcp://127.0.0.1:*");
        endpoint = probe.last_endpoint();
    }
    RequestClient client(ctx, endpoint, "job");
    v1::Envelope req = make_envelope("job");
    req.mutable_stats_request();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.call(req, 100).has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));

    ReplySocket server(ctx, endpoint);
    std::thread t([&] {
        for (int i = 0; i < 300; ++i) {
            if (auto r = server.recv(10)) {
                v1::Envelope out = make_envelope("job");
                out.mutable_buffer_stats();
                server.reply(*r, encode_envelope(out));
                return;
            }
        }
    });
    std::optional<v1::Envelope> rep;
    for (int i = 0; i < 20 && !rep; ++i) rep = client.call(req, 200);
    t.join();
    ASSERT_TRUE(rep.has_value());
    EXPECT_TRUE(rep->has_buffer_stats());
}

TEST(Messaging, BadEndpointThrows) {
    ZmqContext ctx;
    ZmqSocket s(ctx, ZMQ_ROUTER);
    EXPECT_THROW(s.bind("nonsense://x"), stride::Error);
}

// Issue #20: the job id is what a peer must know to be served, so the reply to a request of another
// job, another schema or garbage must not carry it — neither in the envelope nor in the message.
TEST(Messaging, RejectionsNeverRevealTheJobId) {
    const std::string secret = "job-secret-7f3a";
    ZmqContext ctx;
    ReplySocket server(ctx, "tcp://127.0.0.1:*");
    std::atomic<bool> stop{false};
    std::thread t([&] {
        while (!stop) {
            auto req = server.recv(10);
            if (!req) continue;
            v1::Envelope in;
            auto check = decode_envelope(req->payload, secret, &in);
            v1::Envelope out = check.ok() ? make_envelope(secret) : make_rejection(check);
            if (check.ok()) out.mutable_buffer_stats();
            server.reply(*req, encode_envelope(out));
        }
    });
    RequestClient raw(ctx, server.endpoint(), "intruder");
    v1::Envelope wrong = make_envelope("intruder");
    wrong.mutable_stats_request();
    v1::Envelope old = make_envelope("");
    old.set_schema_version(kSchemaVersion + 1);
    old.mutable_stats_request();
    const std::vector<std::pair<std::string, v1::ErrorCode>> requests = {
        {encode_envelope(wrong), v1::ERROR_CODE_WRONG_JOB},
        {encode_envelope(old), v1::ERROR_CODE_WRONG_SCHEMA_VERSION},
        {"\xff\xff\xff\xff garbage", v1::ERROR_CODE_MALFORMED},
        {"", v1::ERROR_CODE_WRONG_SCHEMA_VERSION},  // parses as an empty envelope: schema 0
    };
    for (const auto& [bytes, code] : requests) {
        auto reply = raw.call_raw(bytes, 2000);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->find(secret), std::string::npos) << "the reply reveals the job id";
        v1::Envelope e;
        ASSERT_TRUE(e.ParseFromString(*reply));
        ASSERT_TRUE(e.has_error());
        EXPECT_EQ(e.error().code(), code);
        EXPECT_NE(e.job_id(), secret);
    }
    // A wrong-job caller gets its own job id back, so its client reads the reply as an Error to it.
    auto rep = raw.call(wrong, 2000);
    ASSERT_TRUE(rep.has_value());
    EXPECT_EQ(rep->job_id(), "intruder");
    EXPECT_EQ(rep->error().code(), v1::ERROR_CODE_WRONG_JOB);
    EXPECT_EQ(rep->error().message().find(secret), std::string::npos);
    // The rightful client is still served.
    RequestClient ok(ctx, server.endpoint(), secret);
    v1::Envelope req = make_envelope(secret);
    req.mutable_stats_request();
    auto good = ok.call(req, 2000);
    ASSERT_TRUE(good.has_value());
    EXPECT_TRUE(good->has_buffer_stats());
    stop = true;
    t.join();
}
