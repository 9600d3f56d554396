// buffer/resume_trim.h: what a resume from an older checkpoint does to a rollout worker's in-flight
// group (SavePartials record). A record that a discarded version touched (a token, a finished response
// or the version the worker took the prompt with, above the resumed one) is deleted whole, not cut
// back: its prompt is one the resumed dispatcher hands out again, behind the staleness gate. Resuming
// it instead would generate it with the resumed weights, which the gate may not allow for that prompt
// (sync mode: step s's prompts by version s), so the trainer would drop it as stale and wait for it.
#pragma once
#include <cstdint>

#include "proto/stride.pb.h"

namespace stride {

// Whether g holds anything of a policy version above `version`.
bool inflight_newer_than(const v1::InFlightGroup& g, int64_t version);

}  // namespace stride
