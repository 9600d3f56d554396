// trainer/token_split.h: how the data-parallel trainer ranks share a batch: by token count, whole
// sequences each (a sequence is never cut: its forward needs all of it).
#pragma once
#include <cstddef>
#include <vector>

namespace stride {

// Greedy longest-first: items (their token counts) in decreasing size, each to the part with the
// fewest tokens so far (the lowest part on ties); each part lists its items in increasing index
// order. Deterministic: every rank computes the same split from the same counts. The parts differ
// by at most the largest item's count. parts >= 1; a part may be empty (fewer items than parts).
std::vector<std::vector<size_t>> split_by_tokens(const std::vector<size_t>& tokens, int parts);

}  // namespace stride
