/* Symbols under a custom prefix (plugin:lib.so:length_reward): score = min(len(response)/10, 1). */
#include <string.h>

#include "reward/stride_reward.h"

int length_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION;
}
void* length_reward_init(const char* config_json) {
    return (void*)config_json;
}
int length_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details) {
    (void)state, (void)details;
    for (size_t i = 0; i < n; ++i) {
        double s = (double)strlen(items[i].response) / 10.0;
        scores[i] = s > 1.0 ? 1.0 : s;
    }
    return 0;
}
void length_reward_free(void* state) {
    (void)state;
}
