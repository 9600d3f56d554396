// rollout/kv_admission.h: how many more prompts a rollout worker may take, so that it never
// over-commits its KV pool. Each new group of n samples is charged its prompt (the longest of the
// dataset, prefilled once and shared) plus, per sample, one copied block and the tokens it may
// generate before the next boundary (segment rollout: one segment; otherwise the whole max_tokens),
// against the free blocks left after what the sequences already in flight may still take
// (Generator::blocks_reserved). Admitted work then never has to preempt anything.
#pragma once

namespace stride {

class Generator;

struct AdmissionLimits {
    int max_running = 1;    // sequences in flight at once: running, queued and parked
    int n = 1;              // samples per prompt
    int prompt_tokens = 1;  // the longest prompt that may come
    int horizon = 1;        // tokens a new sample may generate before the next boundary
};

struct Admission {
    int seats = 0;   // groups that fit max_running
    int kv = 0;      // groups that fit the KV pool
    int groups = 0;  // what to ask for: min of both; 1 when nothing is in flight and a seat is free
};

Admission groups_that_fit(const Generator& gen, const AdmissionLimits& lim);

}  // namespace stride
