/* A well-behaved plug-in: exact match of trimmed response and label, with a detail on a miss. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reward/stride_reward.h"

int stride_reward_abi_version(void) {
    return STRIDE_REWARD_ABI_VERSION;
}

void* stride_reward_init(const char* config_json) {
    (void)config_json;
    static int state = 1; /* non-NULL: success */
    return &state;
}

static size_t trimmed(const char* s, const char** start) {
    while (*s && isspace((unsigned char)*s)) ++s;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) --n;
    *start = s;
    return n;
}

int stride_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details) {
    (void)state;
    for (size_t i = 0; i < n; ++i) {
        const char *r, *l;
        size_t rn = trimmed(items[i].response, &r), ln = trimmed(items[i].label, &l);
        int ok = rn == ln && memcmp(r, l, rn) == 0;
        scores[i] = ok ? 1.0 : 0.0;
        if (!ok) {
            size_t cap = rn + ln + 32;
            details[i] = malloc(cap);
            snprintf(details[i], cap, "expected %.*s, got %.*s", (int)ln, l, (int)rn, r);
        }
    }
    return 0;
}

void stride_reward_free(void* state) {
    (void)state;
}
