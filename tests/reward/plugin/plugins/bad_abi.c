/* Built against a future ABI: the worker must refuse it at start-up. */
#include <stddef.h>

#include "reward/stride_reward.h"

int stride_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION + 1;
}
void* stride_reward_init(const char* config_json) {
    return (void*)config_json;
}
int stride_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details) {
    (void)state, (void)items, (void)details;
    for (size_t i = 0; i < n; ++i) scores[i] = 1.0;
    return 0;
}
void stride_reward_free(void* state) {
    (void)state;
}
