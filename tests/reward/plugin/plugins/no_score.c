/* Forgot stride_reward_score: the worker must name the missing symbol at start-up. */
#include "reward/stride_reward.h"

int stride_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION;
}
void* stride_reward_init(const char* config_json) {
    return (void*)config_json;
}
void stride_reward_free(void* state) {
    (void)state;
}
