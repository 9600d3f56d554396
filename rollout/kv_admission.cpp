// rollout/kv_admission.cpp: see kv_admission.h.
#include "rollout/kv_admission.h"

#include <algorithm>

#include "model/generator.h"

namespace stride {

Admission groups_that_fit(const Generator& gen, const AdmissionLimits& lim) {
    Admission a;
    const int in_flight = gen.num_running() + gen.num_waiting() + gen.num_parked();
    a.seats = std::max(0, (lim.max_running - in_flight) / std::max(1, lim.n));
    const KvCache& kv = gen.cache();
    const int per_group =
        kv.blocks_for_tokens(lim.prompt_tokens) + lim.n * (kv.blocks_for_tokens(lim.horizon) + 1);
    const int free = kv.blocks_free() - gen.blocks_reserved();
    a.kv = std::max(0, free / std::max(1, per_group));
    a.groups = std::min(a.seats, a.kv);
    // A group larger than the whole budget still has to run: alone, it can only preempt itself.
    if (a.groups == 0 && a.seats > 0 && in_flight == 0) a.groups = 1;
    return a;
}

}  // namespace stride
