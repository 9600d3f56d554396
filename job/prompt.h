// One prompt of a job, tokenized once at setup and used by every role: rollout generates from it,
// the trainer's SFT warm start learns its answer, evaluation scores against it.
#pragma once
#include <string>
#include <vector>

namespace stride {

struct TokenizedPrompt {
    std::vector<int> ids;
    std::string text;
    std::string answer;
    std::string data_source;      // from the dataset row (Example), for the reward; "" if none
    std::string extra_info_json;  // likewise: a JSON object, or ""
    // The ground truth as JSON when it is not a string (job/dataset.h); last, so that positional
    // initialisers of the fields above stay valid.
    std::string answer_json;
};

}  // namespace stride
