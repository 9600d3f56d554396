// Helpers shared by the reward plug-in tests (C ABI and Python).
#pragma once
#include <string>

#include "common/base/error.h"
#include "reward/registry.h"

namespace stride::test {

// A sample of the quickstart task with the given response and reference answer.
inline RewardInput reward_input(const std::string& response, const std::string& answer) {
    RewardInput in;
    in.prompt = "321+540=";
    in.response = response;
    in.answer = answer;
    return in;
}

// The message of the Error that `f()` throws, or "(no error)".
template <class F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// The message make_reward throws for `spec`, or "(no error)".
inline std::string make_reward_error(const RewardSpec& spec) {
    return error_message([&] { make_reward(spec); });
}

}  // namespace stride::test
