// rollout/inflight.h: the groups a rollout worker has in flight and how they are written down. A
// finished response becomes a v1::Sample for the buffer; a group still being generated becomes a
// v1::InFlightGroup record (prompt, finished samples, responses so far) that a restarted worker turns
// back into generator requests (Generator::add_resumed). Finished samples still waiting for their
// reward are recorded among the finished ones with reward status PENDING: a restarted worker scores
// them again rather than generating them again.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/generator.h"
#include "model/tokenizer/tokenizer.h"
#include "proto/stride.pb.h"
#include "reward/reward.h"

namespace stride {

// A prompt the worker took, until all n samples are finished and the group is in the buffer.
struct PendingGroup {
    v1::Prompt prompt;    // group_id always set (see take_prompt)
    int64_t version = 0;  // weights the worker held when it took the prompt
    std::chrono::steady_clock::time_point started;
    int64_t created_unix_ms = 0;
    std::vector<v1::Sample> done;     // finished and scored
    std::vector<v1::Sample> scoring;  // finished, reward pending (REWARD_STATUS_PENDING)
    bool resumed = false;             // taken over from a previous run of the worker
    // Version -> CRC-32C of the weights a previous run of the worker generated its tokens with (from
    // the record's Sample.weights_used); the versions this run adopts come from the worker.
    std::map<int64_t, uint32_t> weights;
};

// Version -> CRC-32C of each weight version a worker adopted (WeightBlob::crc32c).
using WeightsHeld = std::map<int64_t, uint32_t>;

// A prompt as the worker keeps it: the group id defaults to the prompt id (stride.proto, Prompt).
PendingGroup take_prompt(const v1::Prompt& p, int64_t version);

// The sample of response `s`: identity, tokens, log-probs, per-token versions, segments. No outcome:
// set_finish_reason adds that to a finished one, set_reward its reward once scored.
// Sample.weights_used: the weights of every version among its tokens, from g.weights or `held`.
v1::Sample response_sample(const PendingGroup& g, const GeneratedSequence& s, int n,
                           const std::string& worker, const WeightsHeld& held);
void set_finish_reason(v1::Sample& smp, FinishReason reason);
void set_reward(v1::Sample& smp, const RewardResult& rr);
// A finished group whose samples are all equally right or all wrong (Sample.correct): the group
// DAPO's dynamic sampling drops (trainer/advantage.h, dynamic_sampling_filter). A group of one is not.
bool is_flat(const std::vector<v1::Sample>& group);
// What the reward scores for a finished sample of prompt `p`: the decoded response (without its stop
// token), the label (as text, and as JSON when the row's ground truth is not a string:
// Prompt.label_json), and the dataset row's data_source and extra_info (Prompt.metadata).
RewardInput reward_input(const v1::Prompt& p, const v1::Sample& smp, const Tokenizer& tok,
                         const std::vector<int>& stop_tokens);

// The record of a group in flight; `unfinished` are its sequences from Generator::unfinished().
v1::InFlightGroup inflight_record(const PendingGroup& g,
                                  const std::vector<const GeneratedSequence*>& unfinished, int n,
                                  const std::string& worker, const WeightsHeld& held);
// The group a record describes (started now: the time before the restart is not known here); its
// finished samples without a reward go to `scoring`, to be scored again.
PendingGroup pending_from_record(const v1::InFlightGroup& r);
// An unfinished sample of a record as the generator's resume input, under the new request id.
GeneratedSequence resumable(const v1::Sample& s, uint64_t request_id);

// The oldest policy version of any token generated for the group so far (finished samples, scored
// or not, and unfinished sequences); nullopt while it has no token.
std::optional<int64_t> oldest_token_version(const PendingGroup& g,
                                            const std::vector<const GeneratedSequence*>& unfinished);

}  // namespace stride
