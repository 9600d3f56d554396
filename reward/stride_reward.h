/* stride_reward.h: the C ABI of a Stride reward plug-in (reward.fn: plugin:path/to/lib.so[:prefix]).
 *
 * A plug-in is a shared object exporting four functions. Their names start with `stride_reward`,
 * or with the prefix given after the second colon of the spec (plugin:lib.so:my_reward looks up
 * my_reward_abi_version, my_reward_init, my_reward_score, my_reward_free), so that one library can
 * hold several rewards.
 *
 * Isolation: Stride never loads a plug-in into a training or rollout process. Each plug-in runs in
 * a pool of worker processes (`stride reward worker`); a crash, an abort, a hang past
 * reward.timeout_s or an allocation past the worker's address-space limit costs only the sample
 * being scored (status error/timeout, score reward.incorrect), and the worker is replaced.
 *
 * Threading: each worker process calls init once, then score from ONE thread, one call at a time,
 * then free at a clean shutdown (a killed worker never reaches free). Plug-ins need no locking,
 * and may keep caches in `state` or in globals; they must not rely on state shared between
 * workers, since several run at once.
 *
 * Scores: 1.0 is full credit, 0.0 none; values in between are partial credit. Stride maps them
 * linearly onto [reward.incorrect, reward.correct] and counts a sample as correct when score >= 1.
 */
#ifndef STRIDE_REWARD_H
#define STRIDE_REWARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; a worker refuses a plug-in whose abi_version differs. */
#define STRIDE_REWARD_ABI_VERSION 1

/* One sample to score. All strings are NUL-terminated UTF-8, owned by Stride, valid during the call. */
typedef struct stride_reward_item {
    const char* prompt;   /* the prompt as the model saw it (chat template applied) */
    const char* response; /* decoded completion, without the EOS token */
    const char* label;    /* reference answer from the dataset */
    /* a JSON object: {"response_tokens": N, "truncated": bool, "data_source": "...", "extra_info": {...}},
     * the last two from the prompt's dataset row ("" and {} when it has none) */
    const char* metadata_json;
} stride_reward_item;

/* Return STRIDE_REWARD_ABI_VERSION as compiled into the plug-in. */
int stride_reward_abi_version(void);

/* Build the plug-in's state from a JSON object of options (reward.plugin_config, default {}). Return
 * NULL on failure (the job stops at start-up with an error naming the library). */
void* stride_reward_init(const char* config_json);

/* Score n items: write scores[i] for each, and optionally details[i], a human-readable reason
 * ("expected 861, got 86"). Stride passes details[] filled with NULL; a plug-in that sets an entry
 * must allocate it with malloc, and Stride frees it with free. Return 0 on success; any other value
 * marks every item of the call as status error (its detail, if set, is kept as the reason). */
int stride_reward_score(void* state, const stride_reward_item* items, size_t n, double* scores,
                        char** details);

/* Release the state returned by init. */
void stride_reward_free(void* state);

#ifdef __cplusplus
}
#endif

#endif /* STRIDE_REWARD_H */
