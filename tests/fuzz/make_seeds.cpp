// Writes the seed corpora of the message-handler fuzz targets (tests/fuzz/fuzz_*_request.cpp,
// fuzz_weight_serve.cpp, fuzz_reward_reply.cpp, fuzz_checkpoint_index.cpp) into
// tests/fuzz/corpus/<name>/: the messages roles really send, built with the same calls, so that the
// mutants start from inputs the handlers accept. Run after a change to proto/stride.proto:
//   build/tests/fuzz_make_seeds tests/fuzz/corpus
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/messaging.h"
#include "proto/stride.pb.h"

using namespace stride;

namespace {

namespace fs = std::filesystem;
constexpr char kJob[] = "job";

v1::Sample sample(const std::string& group, int i) {
    v1::Sample s;
    s.set_sample_id(group + "-" + std::to_string(i));
    s.set_group_id(group);
    s.set_prompt_id(group);
    s.set_group_size(4);
    for (int t : {1, 2, 3}) s.add_prompt_token_ids(t);
    for (int t : {4, 5}) {
        s.add_response_token_ids(t);
        s.add_behaviour_logprob(-0.5f);
        s.add_token_version(1);
    }
    s.set_reward(i % 2 ? 1.0 : 0.0);
    s.set_segment_count(1);
    s.add_segment_starts(0);
    return s;
}

std::vector<std::pair<std::string, std::string>> buffer_requests() {
    std::vector<std::pair<std::string, std::string>> out;
    v1::Envelope put = make_envelope(kJob);
    for (int i = 0; i < 4; ++i) *put.mutable_put_samples()->add_samples() = sample("g0", i);
    out.emplace_back("put_group", encode_envelope(put));
    v1::Envelope one = make_envelope(kJob);
    *one.mutable_put_samples()->add_samples() = sample("g1", 0);
    out.emplace_back("put_one", encode_envelope(one));
    v1::Envelope pull = make_envelope(kJob);
    pull.mutable_pull_batch()->set_num_groups(1);
    pull.mutable_pull_batch()->set_trainer_version(1);
    pull.mutable_pull_batch()->set_group_size(4);
    pull.mutable_pull_batch()->set_allow_partial(true);
    pull.mutable_pull_batch()->set_trainer_id("trainer");
    out.emplace_back("pull", encode_envelope(pull));
    v1::Envelope commit = make_envelope(kJob);
    commit.mutable_commit_batch()->set_batch_id(1);
    commit.mutable_commit_batch()->set_trainer_step(1);
    out.emplace_back("commit", encode_envelope(commit));
    v1::Envelope durable = make_envelope(kJob);
    durable.mutable_checkpoint_durable()->set_step(1);
    out.emplace_back("checkpoint_durable", encode_envelope(durable));
    v1::Envelope release = make_envelope(kJob);
    release.mutable_release_leases()->set_trainer_id("trainer");
    release.mutable_release_leases()->set_reason("restart");
    out.emplace_back("release_leases", encode_envelope(release));
    v1::Envelope save = make_envelope(kJob);
    v1::InFlightGroup* g = save.mutable_save_partials()->add_groups();
    g->mutable_prompt()->set_prompt_id("p9");
    g->mutable_prompt()->set_group_id("p9");
    g->set_worker_id("rollout-0");
    g->set_policy_version(1);
    *g->add_finished() = sample("p9", 0);
    save.mutable_save_partials()->set_worker_id("rollout-0");
    out.emplace_back("save_partials", encode_envelope(save));
    v1::Envelope load = make_envelope(kJob);
    load.mutable_load_partials();
    out.emplace_back("load_partials", encode_envelope(load));
    v1::Envelope stats = make_envelope(kJob);
    stats.mutable_stats_request();
    out.emplace_back("stats", encode_envelope(stats));
    return out;
}

std::vector<std::pair<std::string, std::string>> registry_requests() {
    std::vector<std::pair<std::string, std::string>> out;
    v1::Envelope trainer = make_envelope(kJob);
    v1::RoleHello* h = trainer.mutable_role_hello();
    h->set_role("trainer");
    h->set_instance("host:42:1");
    h->set_config_hash("hash");
    (*h->mutable_offers())["weights"] = "tcp://10.0.0.2:7401";
    h->add_wants("buffer");
    h->set_has_start(true);
    h->set_start_prompt(128);
    out.emplace_back("hello_trainer", encode_envelope(trainer));
    v1::Envelope rollout = make_envelope(kJob);
    h = rollout.mutable_role_hello();
    h->set_role("rollout");
    h->set_worker(1);
    h->set_instance("host:43:2");
    h->set_config_hash("hash");
    for (const char* w : {"buffer", "weights", "prompts"}) h->add_wants(w);
    out.emplace_back("hello_rollout", encode_envelope(rollout));
    v1::Envelope done = make_envelope(kJob);
    h = done.mutable_role_hello();
    h->set_role("trainer");
    h->set_instance("host:42:1");
    h->set_config_hash("hash");
    h->set_finished(true);
    out.emplace_back("hello_finished", encode_envelope(done));
    v1::Envelope join = make_envelope(kJob);
    join.mutable_nccl_join()->set_member("rollout-0");
    join.mutable_nccl_join()->set_instance("host:43:2");
    join.mutable_nccl_join()->set_generation(-1);
    out.emplace_back("nccl_join", encode_envelope(join));
    v1::Envelope group = make_envelope(kJob);
    group.mutable_nccl_join()->set_member("trainer");
    group.mutable_nccl_join()->set_instance("host:42:1");
    group.mutable_nccl_join()->set_generation(-1);
    group.mutable_nccl_join()->set_unique_id(std::string(128, '\x07'));
    for (const char* m : {"trainer", "rollout-0"}) group.mutable_nccl_join()->add_members(m);
    out.emplace_back("nccl_group", encode_envelope(group));
    return out;
}

std::vector<std::pair<std::string, std::string>> dispatcher_requests() {
    std::vector<std::pair<std::string, std::string>> out;
    v1::Envelope ask = make_envelope(kJob);
    v1::PromptRequest* pr = ask.mutable_prompt_request();
    pr->set_worker_id("rollout-0");
    pr->set_max_prompts(4);
    pr->set_policy_version(1);
    pr->set_worker_run("run-1");
    out.emplace_back("prompt_request", encode_envelope(ask));
    v1::Envelope busy = make_envelope(kJob);
    pr = busy.mutable_prompt_request();
    pr->set_worker_id("rollout-1");
    pr->set_max_prompts(8);
    pr->set_policy_version(1);
    pr->set_oldest_inflight_version(0);
    pr->set_flat_groups(2);
    pr->set_hold_version(true);
    pr->set_worker_run("run-2");
    pr->set_request_seq(1);
    for (const char* p : {"p0", "p1", "p2"}) pr->add_inflight_prompt_ids(p);
    out.emplace_back("prompt_request_holding", encode_envelope(busy));
    v1::Envelope extra = make_envelope(kJob);
    extra.mutable_extra_prompts()->set_total(3);
    out.emplace_back("extra_prompts", encode_envelope(extra));
    v1::Envelope again = make_envelope(kJob);
    for (const char* p : {"p1", "p7"}) again.mutable_redispatch_prompts()->add_prompt_ids(p);
    again.mutable_redispatch_prompts()->set_reason("resume");
    out.emplace_back("redispatch", encode_envelope(again));
    return out;
}

std::vector<std::pair<std::string, std::string>> weight_requests() {
    std::vector<std::pair<std::string, std::string>> out;
    v1::Envelope beat = make_envelope(kJob);
    beat.mutable_heartbeat()->set_worker_id("rollout-0");
    beat.mutable_heartbeat()->set_policy_version(2);
    out.emplace_back("heartbeat", encode_envelope(beat));
    for (uint64_t offset : {0ull, 64ull, 192ull}) {
        v1::Envelope chunk = make_envelope(kJob);
        chunk.mutable_weight_chunk()->set_version(3);
        chunk.mutable_weight_chunk()->set_offset(offset);
        out.emplace_back("chunk_" + std::to_string(offset), encode_envelope(chunk));
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> reward_replies() {
    std::vector<std::pair<std::string, std::string>> out;
    v1::RewardReply all;
    all.set_request_id(7);
    for (double s : {1.0, 0.0, 0.5, 1.0}) {
        all.add_scores(s);
        all.add_ok(true);
        all.add_details(s == 0.5 ? "contains 861" : "");
    }
    out.emplace_back("four_scores", all.SerializeAsString());
    v1::RewardReply part;
    part.set_request_id(7);
    part.set_first(2);
    part.add_scores(0.0);
    part.add_ok(false);
    part.add_details("ZeroDivisionError: division by zero");
    out.emplace_back("flush_from_2", part.SerializeAsString());
    v1::RewardReply odd;
    odd.set_request_id(7);
    odd.add_scores(std::nan(""));
    odd.add_ok(true);
    odd.add_details("");
    out.emplace_back("not_finite", odd.SerializeAsString());
    return out;
}

std::vector<std::pair<std::string, std::string>> checkpoint_indexes() {
    nlohmann::json j = {{"step", 10},          {"policy_version", 10}, {"prompts_dispatched", 320},
                        {"extra_prompts", 0},  {"sft_steps", 0},       {"rl_seconds", 12.5},
                        {"optimizer_step", 10}};
    j["first_untrained_prompt"] = 318;
    const std::string state = j.dump(2) + "\n";
    return {
        {"one", "step_000010\n" + state},
        {"stray_entries", "step_000010 step_000020.tmp-4242 step_000030= notes/ step_000040/\n" + state},
        {"escaping_link", "step_000010 step_000099>/tmp\n" + state},
        {"wrong_step", "step_000011\n" + state},
    };
}

void write_all(const fs::path& root, const std::string& name,
               const std::vector<std::pair<std::string, std::string>>& seeds) {
    fs::create_directories(root / name);
    for (const auto& [file, bytes] : seeds) std::ofstream(root / name / file, std::ios::binary) << bytes;
    std::printf("%s: %zu seeds\n", name.c_str(), seeds.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_make_seeds tests/fuzz/corpus\n");
        return 2;
    }
    const fs::path root = argv[1];
    write_all(root, "buffer_request", buffer_requests());
    write_all(root, "registry_request", registry_requests());
    write_all(root, "dispatcher_request", dispatcher_requests());
    write_all(root, "weight_serve", weight_requests());
    write_all(root, "reward_reply", reward_replies());
    write_all(root, "checkpoint_index", checkpoint_indexes());
    return 0;
}
