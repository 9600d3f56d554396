// trainer/token_split.cpp: see token_split.h.
#include "trainer/token_split.h"

#include <algorithm>
#include <numeric>

#include "common/base/error.h"

namespace stride {

std::vector<std::vector<size_t>> split_by_tokens(const std::vector<size_t>& tokens, int parts) {
    STRIDE_CHECK(parts >= 1, "split_by_tokens: parts must be >= 1");
    std::vector<size_t> order(tokens.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tokens[a] > tokens[b]; });
    std::vector<std::vector<size_t>> out(static_cast<size_t>(parts));
    std::vector<size_t> load(static_cast<size_t>(parts), 0);
    for (size_t i : order) {
        const size_t p = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        out[p].push_back(i);
        load[p] += tokens[i];
    }
    for (auto& part : out) std::sort(part.begin(), part.end());
    return out;
}

}  // namespace stride
