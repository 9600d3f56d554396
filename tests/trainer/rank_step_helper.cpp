// A helper process of tests/trainer/test_rl_step_ranks.cpp: rank RANK of RANKS trains kRankSteps
// steps of VARIANT on the shared start and batch over the ZeroMQ collective at ENDPOINT, then writes
// each step's metrics ("key value" lines) to OUT and the final weights (raw floats) to OUT.weights.
//   rank_step_helper VARIANT RANK RANKS ENDPOINT OUT
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/trainer/rank_test_util.h"
#include "trainer/zmq_collective.h"

using namespace stride;
using namespace stride::test;

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: rank_step_helper VARIANT RANK RANKS ENDPOINT OUT\n");
        return 2;
    }
    const std::string variant = argv[1], endpoint = argv[4], out = argv[5];
    try {
        ZmqContext ctx;
        ZmqCollectiveOptions o;
        o.rank = std::stoi(argv[2]);
        o.size = std::stoi(argv[3]);
        o.endpoint = endpoint;
        o.group = "rank-step-test";
        o.timeout_s = 60;
        ZmqCollective comm(ctx, o);
        Model model = rank_start_model();
        const std::vector<Experience> batch = rank_batch(model);
        const AdamWConfig ac = gradient_proportional_adam(1e-2f);
        RlTrainer rl(model, ac, constant_lr(ac.lr));
        rl.set_rank_comms({&comm, &comm});
        std::ofstream metrics(out);
        for (int s = 0; s < kRankSteps; ++s) {
            const StepMetrics m = rl.step(batch, rank_variant(variant), s);
            for (const auto& [k, v] : m) metrics << k << " " << fmt::format("{:.17g}", v) << "\n";
            metrics << "--\n";
        }
        std::ofstream w(out + ".weights", std::ios::binary);
        w.write(reinterpret_cast<const char*>(model.data.data()),
                static_cast<std::streamsize>(model.data.size() * sizeof(float)));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank_step_helper rank %s: %s\n", argv[2], e.what());
        return 1;
    }
}
