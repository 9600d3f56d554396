// buffer/resume_trim.cpp: see resume_trim.h.
#include "buffer/resume_trim.h"

#include <algorithm>

namespace stride {

namespace {

bool sample_newer_than(const v1::Sample& s, int64_t version) {
    if (s.policy_version() > version) return true;
    return std::any_of(s.token_version().begin(), s.token_version().end(),
                       [version](int64_t v) { return v > version; });
}

}  // namespace

bool inflight_newer_than(const v1::InFlightGroup& g, int64_t version) {
    if (g.policy_version() > version) return true;
    for (const auto* samples : {&g.finished(), &g.unfinished()})
        for (const v1::Sample& s : *samples)
            if (sample_newer_than(s, version)) return true;
    return false;
}

}  // namespace stride
