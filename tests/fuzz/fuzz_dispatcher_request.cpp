// libFuzzer target: arbitrary bytes as a request to the scheduler's prompt dispatcher
// (scheduler/prompt_dispatcher.h), the real one over loopback TCP, on the arith data with a weight
// version published: it must refuse or answer it and then still answer a PromptRequest
// (tests/fuzz/fuzz_peer.h). Seeds: tests/fuzz/corpus/dispatcher_request/ (PromptRequest, ExtraPrompts
// and RedispatchPrompts as workers and the trainer send them, tests/fuzz/make_seeds.cpp).
// Run by tests/fuzz/test_fuzz.cpp in `make test`.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/weight_sync.h"
#include "job/job_context.h"
#include "scheduler/job_config.h"
#include "scheduler/prompt_dispatcher.h"
#include "tests/fuzz/fuzz_peer.h"

#ifndef STRIDE_SOURCE_DIR
#error "STRIDE_SOURCE_DIR (for the arith tokenizer) must be defined by the build"
#endif

namespace {

stride::JobContext arith_context() {
    const std::string yaml = std::string("name: job\ntokenizer: ") + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "data: {train: 'gen:arith?n=64&seed=4', eval_size: 4}\n"
                             "rollout: {n: 2, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {steps: 1000000, prompts_per_step: 4}\n";
    return stride::make_job_context(stride::parse_job_config(yaml, "fuzz.yaml"));
}

struct Harness {
    stride::JobContext ctx = arith_context();  // job id "job": name: job
    stride::WeightPublisher weights{stride::fuzz::kJob, "tcp://127.0.0.1:*", 1u << 20, false};
    stride::PromptDispatcher dispatcher;
    stride::fuzz::FuzzPeer peer;
    Harness()
        : dispatcher(
              ctx, "tcp://127.0.0.1:*", publish(weights),
              stride::DispatcherOptions{4, 1000000, /*max_lag=*/1000000, 1, 0, /*dynamic_sampling=*/true, 0}),
          peer(dispatcher.endpoint()) {}
    static std::string publish(stride::WeightPublisher& pub) {
        stride::WeightBlob blob;
        blob.version = 1;
        blob.bytes.assign(16, 0);
        pub.publish(std::move(blob));
        return pub.endpoint();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Harness h;
    static const stride::v1::Envelope probe = [] {
        stride::v1::Envelope e = stride::make_envelope(stride::fuzz::kJob);
        e.mutable_prompt_request()->set_worker_id("probe");
        e.mutable_prompt_request()->set_max_prompts(0);
        return e;
    }();
    const stride::v1::Envelope answer =
        h.peer.exchange(std::string_view(reinterpret_cast<const char*>(data), size), probe);
    if (!answer.has_prompt_batch() && !answer.has_error())
        throw std::runtime_error(
            "fuzz: the dispatcher answered a PromptRequest with neither prompts nor an error");
    return 0;
}
