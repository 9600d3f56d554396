/* Echoes what a plug-in is given: the detail of every sample is "<config_json> <metadata_json>", so
 * tests see the init configuration and the metadata exactly as a plug-in does. */
#include <stdlib.h>
#include <string.h>

#include "reward/stride_reward.h"

int stride_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION;
}

void* stride_reward_init(const char* config_json) {
    return strdup(config_json);
}

int stride_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details) {
    const char* config = state;
    for (size_t i = 0; i < n; ++i) {
        size_t len = strlen(config) + 1 + strlen(items[i].metadata_json) + 1;
        details[i] = malloc(len);
        strcpy(details[i], config);
        strcat(details[i], " ");
        strcat(details[i], items[i].metadata_json);
        scores[i] = 1.0;
    }
    return 0;
}

void stride_reward_free(void* state) {
    free(state);
}
