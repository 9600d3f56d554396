// The pieces both launchers (threads and processes) share: where each role listens, how the
// buffer and dispatcher are configured from the job config, and the policy the trainer starts from.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "buffer/buffer_config.h"
#include "job/job_context.h"
#include "model/optim.h"
#include "model/params.h"
#include "scheduler/prompt_dispatcher.h"
#include "trainer/job_checkpoint.h"

namespace stride {

struct JobEndpoints {
    std::string buffer, weights, scheduler;
    // The same with a wildcard host (tcp://*:P, 0.0.0.0) replaced by 127.0.0.1: what a role on this
    // machine connects to.
    JobEndpoints local() const;
};

// The bind endpoint of each channel: buffer.endpoint, network.weights_bind, network.prompts_bind when
// set; otherwise threads: loopback TCP on free ports (resolved when each service binds), processes:
// Unix sockets in <run>/sockets, known to every process from the config alone.
JobEndpoints thread_endpoints(const JobConfig& cfg);
JobEndpoints process_endpoints(const JobConfig& cfg);

// {run_dir}/{name} and its logs/, owner-only (0700; parents it creates too): checkpoints, the
// buffer, logs and sockets of a job are for its user alone.
void create_run_dir(const JobConfig& cfg);

BufferServerConfig buffer_server_config(const JobContext& ctx, const std::string& endpoint);
DispatcherOptions dispatcher_options(const JobConfig& cfg, const JobState& state);

struct StartingPolicy {
    std::unique_ptr<Model> model;
    JobState state;
    std::unique_ptr<AdamW> adam;
    bool resumed = false;
};

enum class SftMode {
    run,   // run the SFT phase here when sft.enabled (and save <run>/sft_model)
    load,  // sft.enabled: load <run>/sft_model, written by the parent process
};

// resume (off|auto|require) -> the latest checkpoint of the run; otherwise model.path or a seeded
// model.init, warm-started per `sft`. Throws Error naming the key at fault.
StartingPolicy starting_policy(const JobContext& ctx, SftMode sft, const std::atomic<bool>& stop);

// The state a run would resume from (no weights loaded): step 0 when it starts fresh.
JobState resume_state(const JobConfig& cfg);

std::string metrics_jsonl_path(const JobConfig& cfg);

}  // namespace stride
