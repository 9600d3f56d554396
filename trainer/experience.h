// One sampled response as the trainer sees it (decoded from a proto Sample by the trainer role).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stride {

struct Experience {
    long group = 0;                        // responses to one prompt share it
    std::vector<int> prompt;               // token ids
    std::vector<int> response;             // token ids (the stop token included when it was sampled)
    std::vector<float> behaviour_logprob;  // per response token, from the rollout engine
    std::vector<int64_t> token_version;    // policy version that sampled each response token
    double reward = 0;
    bool correct = false;
    bool truncated = false;  // hit the length limit without a stop token
};

}  // namespace stride
