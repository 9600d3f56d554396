/* A plug-in that misbehaves on command: the response "segv", "abort", "hang", "oom" or "fail"
 * triggers the failure; anything else is scored by exact match. One library for every failure mode
 * keeps the test about the pool (the failing call is lost, the next one on a new worker succeeds). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reward/stride_reward.h"

int stride_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION;
}

void* stride_reward_init(const char* config_json) {
    (void)config_json;
    static int state = 1;
    return &state;
}

int stride_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details) {
    (void)state;
    for (size_t i = 0; i < n; ++i) {
        const char* r = items[i].response;
        if (!strcmp(r, "segv")) {
            volatile int* p = NULL;
            *p = 1;
        } else if (!strcmp(r, "abort")) {
            abort();
        } else if (!strcmp(r, "hang")) {
            for (;;) pause();
        } else if (!strcmp(r, "oom")) {
            for (;;) { /* touch every page, as a leaking reward would; NULL under RLIMIT_AS -> crash */
                char* p = malloc(16 << 20);
                memset(p, 1, 16 << 20);
            }
        } else if (!strcmp(r, "fail")) {
            details[i] = strdup("cannot parse label");
            return 3;
        }
        scores[i] = strcmp(r, items[i].label) == 0 ? 1.0 : 0.0;
    }
    return 0;
}

void stride_reward_free(void* state) {
    (void)state;
}
