// tests/proto/test_schema.cpp: the wire schema round-trips, carries what segment rollout needs, and
// the C++ schema version constant matches the .proto.
#include <gtest/gtest.h>

#include "proto/buffer_store.pb.h"
#include "proto/schema.h"
#include "proto/stride.pb.h"

using namespace stride;

TEST(Schema, VersionConstantComesFromProto) {
    EXPECT_EQ(kSchemaVersion, static_cast<uint32_t>(v1::SCHEMA_VERSION_CURRENT));
    EXPECT_GE(kSchemaVersion, 1u);
}

TEST(Schema, SegmentedSampleRoundTrips) {
    v1::Envelope e;
    e.set_job_id("job");
    e.set_schema_version(kSchemaVersion);
    v1::Sample* s = e.mutable_put_samples()->add_samples();
    s->set_sample_id("p1-0");
    s->set_group_id("p1");
    s->set_index_in_group(0);
    for (int i = 0; i < 6; ++i) {
        s->add_response_token_ids(100 + i);
        s->add_behaviour_logprob(-0.5f * i);
        s->add_token_version(i < 4 ? 3 : 4);  // two segments, produced by versions 3 and 4
    }
    s->set_segment_count(2);
    s->add_segment_starts(0);
    s->add_segment_starts(4);
    s->set_finish_reason(v1::FINISH_REASON_LENGTH);
    s->set_reward_status(v1::REWARD_STATUS_TIMEOUT);
    s->mutable_timing()->set_generate_ms(12.5);
    (*s->mutable_metadata())["source"] = "gsm8k";

    std::string bytes = e.SerializeAsString();
    v1::Envelope back;
    ASSERT_TRUE(back.ParseFromString(bytes));
    ASSERT_EQ(back.body_case(), v1::Envelope::kPutSamples);
    const v1::Sample& b = back.put_samples().samples(0);
    EXPECT_EQ(b.token_version(3), 3);
    EXPECT_EQ(b.token_version(4), 4);
    EXPECT_EQ(b.segment_starts(1), 4u);
    EXPECT_EQ(b.finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(b.reward_status(), v1::REWARD_STATUS_TIMEOUT);
    EXPECT_DOUBLE_EQ(b.timing().generate_ms(), 12.5);
    EXPECT_EQ(b.metadata().at("source"), "gsm8k");
}

TEST(Schema, FreshSampleIsPendingAndUnspecified) {
    // Defaults matter: a sample nobody scored must not read as "reward OK".
    v1::Sample s;
    EXPECT_EQ(s.reward_status(), v1::REWARD_STATUS_PENDING);
    EXPECT_EQ(s.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
}

TEST(Schema, WeightUpdateCarriesTensorLayout) {
    v1::WeightUpdate w;
    w.set_version(7);
    auto* t = w.add_tensors();
    t->set_name("model.embed_tokens.weight");
    t->set_dtype("bf16");
    t->add_shape(32000);
    t->add_shape(4096);
    t->set_byte_offset(0);
    t->set_byte_size(32000ull * 4096 * 2);
    w.set_total_bytes(t->byte_size());
    v1::WeightUpdate back;
    ASSERT_TRUE(back.ParseFromString(w.SerializeAsString()));
    EXPECT_EQ(back.tensors(0).shape(1), 4096);
    EXPECT_EQ(back.total_bytes(), 32000ull * 4096 * 2);
}

TEST(Schema, NewerPeerFieldsAreIgnoredNotFatal) {
    // An envelope with an unknown field number (what a newer schema could send) still parses; the
    // body is simply not set, which roles answer with ERROR_CODE_UNKNOWN_BODY.
    v1::Envelope e;
    e.set_job_id("job");
    e.set_schema_version(kSchemaVersion);
    std::string bytes = e.SerializeAsString();
    bytes += std::string(
        "\xba\x3e\x03"
        "abc",
        6);  // field 999, length-delimited, 3 bytes
    v1::Envelope back;
    ASSERT_TRUE(back.ParseFromString(bytes));
    EXPECT_EQ(back.body_case(), v1::Envelope::BODY_NOT_SET);
}

TEST(Schema, StoredLeaseRoundTrips) {
    v1::StoredLease l;
    l.set_batch_id(42);
    l.add_group_ids("g1");
    l.add_group_ids("g2");
    v1::StoredLease back;
    ASSERT_TRUE(back.ParseFromString(l.SerializeAsString()));
    EXPECT_EQ(back.batch_id(), 42u);
    EXPECT_EQ(back.group_ids_size(), 2);
}
