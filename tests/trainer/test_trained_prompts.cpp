// Where a resume hands prompts out again (trainer/trained_prompts.h): the lowest prompt the trainer
// has not trained, read from the dispatcher's group ids "p<N>" as steps train them out of order (async
// rollout, DAPO), rebuilt from trained.jsonl on a resume, and kept in job_state.json.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/params.h"
#include "tests/buffer/buffer_test_util.h"
#include "tests/model/transformer_test_util.h"
#include "trainer/job_checkpoint.h"
#include "trainer/trained_prompts.h"

using namespace stride;

TEST(TrainedPrompts, PromptNumbersAreReadFromTheDispatchersGroupIds) {
    EXPECT_EQ(prompt_number("p0"), 0);
    EXPECT_EQ(prompt_number("p37"), 37);
    EXPECT_EQ(prompt_number("p123456789012"), 123456789012);
    for (const char* other : {"", "p", "g0", "p-1", "p01", "p3a", "P3", "p99999999999999999999"})
        EXPECT_FALSE(prompt_number(other).has_value()) << other;
}

TEST(TrainedPrompts, TheFirstUntrainedPromptMovesOnlyOverAnUnbrokenRun) {
    TrainedPrompts t;
    // Step 1 (async) trained p0, p2, p3, p5: p1 is still in flight.
    for (const char* id : {"p2", "p0", "p5", "p3"}) t.add(id);
    EXPECT_EQ(t.first_untrained(), 1);
    t.add("g7");  // not a dispatcher's group: ignored
    t.add("p0");  // again: nothing changes
    EXPECT_EQ(t.first_untrained(), 1);
    t.add("p1");
    EXPECT_EQ(t.first_untrained(), 4);
    t.add("p4");
    EXPECT_EQ(t.first_untrained(), 6);
    // A resume starts from what the checkpoint knew; lower ids are below it already.
    TrainedPrompts resumed(10);
    resumed.add("p3");
    resumed.add("p11");
    EXPECT_EQ(resumed.first_untrained(), 10);
    resumed.add("p10");
    EXPECT_EQ(resumed.first_untrained(), 12);
}

TEST(TrainedPrompts, ATrainedLogGivesTheGroupsTrainedAndQuarantined) {
    test::TempDir dir("trained-prompts");
    const std::string path = dir.sub("trained.jsonl");
    {
        std::ofstream out(path);
        out << R"({"step":1,"groups":[["p1",2,0,0,0],["p0",2,0,0,0]],"quarantined":[]})"
            << "\n"
            << R"({"step":2,"groups":[["p3",2,1,1,0]],"quarantined":["p2"]})"
            << "\n"
            << R"({"step":3,"groups":[["p5",2)";  // torn by a crash: skipped
    }
    TrainedPrompts t;
    add_trained_log(path, t);
    EXPECT_EQ(t.first_untrained(), 4);
    TrainedPrompts none;
    add_trained_log(dir.sub("missing.jsonl"), none);
    EXPECT_EQ(none.first_untrained(), 0);
}

TEST(TrainedPrompts, TheCheckpointKeepsItAndAResumeStartsThere) {
    test::TempDir dir("trained-prompts-ckpt");
    Model m(test::tiny_qwen2());
    AdamW adam(m.data.size());
    JobState st;
    st.step = 3;
    st.policy_version = 3;
    st.prompts_dispatched = 12;
    st.first_untrained_prompt = 9;
    const std::string ck = save_job_checkpoint(dir.str(), m, adam, st);
    const JobState back = read_job_state(ck);
    EXPECT_EQ(back.first_untrained_prompt, 9);
    EXPECT_EQ(back.resume_prompt(), 9);
    // A checkpoint from before the field: the count it consumed, as before.
    nlohmann::json j = nlohmann::json::parse(std::ifstream(ck + "/job_state.json"));
    j.erase("first_untrained_prompt");
    std::ofstream(ck + "/job_state.json") << j.dump();
    EXPECT_EQ(read_job_state(ck).first_untrained_prompt, -1);
    EXPECT_EQ(read_job_state(ck).resume_prompt(), 12);
}
