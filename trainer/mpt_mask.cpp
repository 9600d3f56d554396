#include "trainer/mpt_mask.h"

#include <cmath>

#include "common/base/error.h"

namespace stride {

std::vector<unsigned char> mastered_positive_token_mask(const std::vector<float>& logprob,
                                                        const std::vector<float>& entropy,
                                                        const std::vector<int>& seq_lens,
                                                        const std::vector<double>& seq_advantage,
                                                        const MptOptions& opt) {
    STRIDE_CHECK(logprob.size() == entropy.size(), "mpt mask: logprob and entropy differ in size");
    STRIDE_CHECK(seq_lens.size() == seq_advantage.size(), "mpt mask: seq_lens and advantages differ in size");
    STRIDE_CHECK(opt.prob_threshold > 0 && opt.prob_threshold <= 1,
                 "mpt mask: prob_threshold must be in (0, 1]");
    std::vector<double> mean_entropy(seq_lens.size(), 0.0);
    double batch_entropy = 0;
    int nonempty = 0;
    size_t off = 0;
    for (size_t i = 0; i < seq_lens.size(); ++i) {
        for (int t = 0; t < seq_lens[i]; ++t) mean_entropy[i] += entropy[off + t];
        if (seq_lens[i] > 0) {
            mean_entropy[i] /= seq_lens[i];
            batch_entropy += mean_entropy[i];
            ++nonempty;
        }
        off += seq_lens[i];
    }
    STRIDE_CHECK(off == logprob.size(), "mpt mask: seq_lens do not add up to the token count");
    if (nonempty) batch_entropy /= nonempty;
    const double log_tau = std::log(opt.prob_threshold);
    std::vector<unsigned char> mask(off, 0);
    off = 0;
    for (size_t i = 0; i < seq_lens.size(); ++i) {
        const double H = opt.batch_gate ? batch_entropy : mean_entropy[i];
        if (seq_advantage[i] > 0 && H < opt.entropy_target)
            for (int t = 0; t < seq_lens[i]; ++t) mask[off + t] = logprob[off + t] >= log_tau;
        off += seq_lens[i];
    }
    return mask;
}

}  // namespace stride
