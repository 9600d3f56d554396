#include "scheduler/roles.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "common/bind_endpoint.h"
#include "common/listen_policy.h"
#include "job/model_files.h"
#include "model/checkpoint.h"
#include "scheduler/sft_phase.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

std::string or_default(const std::string& key_value, const std::string& fallback) {
    return key_value.empty() ? fallback : key_value;
}

}  // namespace

JobEndpoints JobEndpoints::local() const {
    return {advertised_endpoint(buffer, "127.0.0.1"), advertised_endpoint(weights, "127.0.0.1"),
            advertised_endpoint(scheduler, "127.0.0.1")};
}

JobEndpoints thread_endpoints(const JobConfig& cfg) {
    const std::string any = "tcp://127.0.0.1:*";
    return {or_default(cfg.buffer.endpoint, any), or_default(cfg.network.weights_bind, any),
            or_default(cfg.network.prompts_bind, any)};
}

JobEndpoints process_endpoints(const JobConfig& cfg) {
    const std::string dir = fs::absolute(cfg.run_path() + "/sockets").lexically_normal().string();
    // A Unix socket path must fit sockaddr_un (108 bytes with the terminator).
    STRIDE_CHECK(
        dir.size() + 16 < 108,
        "run_dir: '" + dir + "' is too long for Unix sockets (launcher: processes); use a shorter run_dir");
    // Owner-only: a Unix socket is guarded by the permissions of its directory, and no role socket
    // authenticates its peers (yet).
    make_private_dir(dir, "sockets directory (launcher: processes)", /*no_symlink=*/true);
    return {or_default(cfg.buffer.endpoint, "ipc://" + dir + "/buffer"),
            or_default(cfg.network.weights_bind, "ipc://" + dir + "/weights"),
            or_default(cfg.network.prompts_bind, "ipc://" + dir + "/scheduler")};
}

void create_run_dir(const JobConfig& cfg) {
    make_private_dir(cfg.run_path(), "run directory");
    make_private_dir(cfg.run_path() + "/logs", "run directory");
}

BufferServerConfig buffer_server_config(const JobContext& ctx, const std::string& endpoint) {
    const JobConfig& cfg = ctx.cfg;
    BufferServerConfig bc;
    bc.job_id = ctx.job_id;
    bc.curve = ctx.curve;
    bc.endpoint = endpoint;
    bc.dir = cfg.buffer.dir.empty() ? cfg.run_path() + "/buffer" : cfg.buffer.dir;
    bc.group_size = static_cast<uint32_t>(cfg.rollout.n);
    bc.capacity_samples = static_cast<uint64_t>(cfg.buffer.capacity);
    bc.sync_wal = cfg.buffer.sync_wal;
    // Sync mode is on-policy: a group older than the trainer is never trained. Only groups that dynamic
    // sampling asked for beyond a step's need (trainer.oversample) come back after their step.
    bc.max_staleness = cfg.rollout.mode == "sync" ? 0 : cfg.buffer.max_staleness;
    // Validation at the door: what the trainer's model can take. A sample holds at most max_position
    // tokens, each with at most ~24 bytes on the wire (id, log-prob, version, segment start); 4 MiB more
    // covers the label, reward detail and metadata.
    const ModelConfig model = ctx.model_config();
    bc.vocab_size = model.vocab;
    bc.max_position = model.max_position;
    bc.max_response_tokens = cfg.rollout.max_tokens;
    bc.max_sample_bytes = (int64_t{4} << 20) + 32 * int64_t{model.max_position};
    bc.max_version_ahead = 1;                    // the trainer pulls with version v, then publishes v + 1
    bc.ack_log = cfg.run_path() + "/acked.log";  // the audit trail of what was acknowledged
    // A buffer restarted inside the job (recovery.buffer_restarts) serves a trainer that outlived it: the
    // batches it pulled stay leased so that it can commit them. A trainer that starts releases them anyway.
    bc.keep_leases_on_restart = cfg.recovery.buffer_restarts > 0;
    // A resumed job: the buffer forgets what policies after the checkpoint made before it serves
    // anyone (the trainer says the same again when it starts, for a buffer that outlived it).
    if (cfg.resume != "off") {
        const JobState st = resume_state(cfg);
        if (!st.loaded_from.empty()) bc.resume_step = st.step, bc.resume_version = st.policy_version;
    }
    return bc;
}

DispatcherOptions dispatcher_options(const JobConfig& cfg, const JobState& state) {
    DispatcherOptions d;
    d.prompts_per_step = cfg.trainer.prompts_per_step;
    d.total_steps = cfg.trainer.steps;
    d.max_lag = cfg.rollout.mode == "sync" ? 0 : cfg.buffer.max_staleness;
    d.seed = static_cast<uint64_t>(cfg.seed);
    d.start_prompt = state.resume_prompt();  // prompts below it were all trained
    d.start_extra_prompts = state.extra_prompts;
    d.dynamic_sampling = cfg.trainer.dynamic_sampling;
    d.weights_deadline_s = cfg.deadlines.weights_s;
    return d;
}

std::string metrics_jsonl_path(const JobConfig& cfg) {
    return cfg.metrics.jsonl.empty() ? cfg.run_path() + "/metrics.jsonl" : cfg.metrics.jsonl;
}

namespace {

std::optional<std::string> resume_checkpoint(const JobConfig& cfg) {
    std::optional<std::string> ckpt;
    if (cfg.resume != "off") ckpt = latest_job_checkpoint(cfg.run_path());
    if (cfg.resume == "require" && !ckpt)
        throw Error("resume: require, but " + cfg.run_path() + "/checkpoints holds no checkpoint");
    return ckpt;
}

}  // namespace

JobState resume_state(const JobConfig& cfg) {
    auto ckpt = resume_checkpoint(cfg);
    if (!ckpt) return {};
    JobState st = read_job_state(*ckpt);
    check_job_state(st, *ckpt, cfg.trainer.steps, cfg.trainer.prompts_per_step);
    return st;
}

StartingPolicy starting_policy(const JobContext& ctx, SftMode sft, const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx.cfg;
    StartingPolicy p;
    p.model = std::make_unique<Model>(ctx.model_config());
    AdamWConfig ac;
    ac.lr = static_cast<float>(cfg.trainer.lr);
    ac.beta1 = static_cast<float>(cfg.trainer.betas.at(0));
    ac.beta2 = static_cast<float>(cfg.trainer.betas.at(1));
    ac.eps = static_cast<float>(cfg.trainer.eps);
    ac.weight_decay = static_cast<float>(cfg.trainer.weight_decay);
    p.adam = std::make_unique<AdamW>(p.model->data.size(), ac);
    if (auto ckpt = resume_checkpoint(cfg)) {
        p.state = load_job_checkpoint(*ckpt, *p.model, *p.adam);
        check_job_state(p.state, *ckpt, cfg.trainer.steps, cfg.trainer.prompts_per_step);
        p.resumed = true;
        spdlog::info("resumed from {} at step {} (policy version {})", *ckpt, p.state.step,
                     p.state.policy_version);
        return p;
    }
    const std::string sft_dir = cfg.run_path() + "/sft_model";
    if (cfg.sft.enabled && sft == SftMode::load) {
        checkpoint_load_weights(*p.model, sft_dir);
        return p;
    }
    if (!cfg.model.path.empty())
        checkpoint_load_weights(*p.model, cfg.model.path);
    else
        model_init_random(*p.model, static_cast<uint64_t>(cfg.model.init.seed));
    if (cfg.sft.enabled) {
        p.state.sft_steps = run_sft_phase(ctx, *p.model, stop);
        checkpoint_save(*p.model, sft_dir, DiskDtype::f32);
        copy_model_side_files(cfg, sft_dir);
    }
    return p;
}

}  // namespace stride
