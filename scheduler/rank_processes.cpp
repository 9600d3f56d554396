// scheduler/rank_processes.cpp: see rank_processes.h.
#include "scheduler/rank_processes.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/base/error.h"
#include "scheduler/roles.h"
#include "trainer/nccl_collective.h"

extern char** environ;

namespace stride {

namespace {

std::string exe_path() {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    STRIDE_CHECK(n > 0, "trainer ranks: cannot find the stride executable (/proc/self/exe)");
    return std::string(self, static_cast<size_t>(n));
}

std::string exit_text(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return fmt::format("exit code {}", WEXITSTATUS(status));
}

// The environment of rank `rank`: with a GPU trainer, CUDA_VISIBLE_DEVICES names its one GPU.
std::vector<std::string> rank_environment(const JobConfig& cfg, int rank) {
    std::vector<std::string> env;
    std::string visible;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "CUDA_VISIBLE_DEVICES=", 21) == 0)
            visible = *e + 21;
        else
            env.emplace_back(*e);
    }
    if (trainer_device(cfg) == "cuda") {
        std::vector<std::string> ids;
        std::string cur;
        for (char ch : visible + ",") {
            if (ch == ',') {
                if (!cur.empty()) ids.push_back(cur);
                cur.clear();
            } else {
                cur += ch;
            }
        }
        visible = rank < static_cast<int>(ids.size()) ? ids[rank] : std::to_string(rank);
    }
    if (!visible.empty()) env.push_back("CUDA_VISIBLE_DEVICES=" + visible);
    return env;
}

pid_t spawn_rank(const JobConfig& cfg, const std::string& config_path,
                 const std::vector<std::string>& overrides, int rank, const std::string& group) {
    std::vector<std::string> args = {exe_path(),           "role",      "trainer-rank",
                                     "--config",           config_path, "--rank",
                                     std::to_string(rank), "--group",   group};
    args.insert(args.end(), overrides.begin(), overrides.end());
    std::vector<std::string> env = rank_environment(cfg, rank);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    STRIDE_CHECK(pid >= 0, "trainer ranks: fork failed");
    if (pid == 0) {  // only async-signal-safe calls until exec; the rank dies with rank 0
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(126);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    return pid;
}

// The gradients' collective. Its waits do not honour the stop flag: a step under way finishes (the
// deadline still ends them).
std::unique_ptr<Collective> gradient_collective(const JobConfig& cfg, ZmqCollective& control) {
#if defined(STRIDE_HAVE_NCCL)
    if (trainer_device(cfg) == "cuda")
        return std::make_unique<NcclCollective>(control, 0, cfg.deadlines.collective_s, nullptr);
#endif
    (void)cfg, (void)control;
    return nullptr;  // the ZeroMQ group itself (a device trainer without NCCL stages through the host)
}

RankComms comms_of(ZmqCollective& control, Collective* grads) {
    return {grads ? grads : &control, &control};
}

}  // namespace

std::string trainer_ranks_endpoint(const JobConfig& cfg) {
    const std::string endpoint = process_endpoints(cfg).buffer;  // makes <run>/sockets, checks its length
    (void)endpoint;
    return "ipc://" + std::filesystem::absolute(cfg.run_path() + "/sockets").lexically_normal().string() +
           "/ranks";
}

RankProcesses::RankProcesses(const JobContext& ctx, const std::string& config_path,
                             const std::vector<std::string>& overrides, const std::atomic<bool>& stop)
    : zctx_(ctx.curve) {
    const JobConfig& cfg = ctx.cfg;
    const std::string group =
        fmt::format("{}-{}", getpid(), std::chrono::steady_clock::now().time_since_epoch().count());
    for (int r = 1; r < cfg.trainer.ranks; ++r) {
        pids_.push_back(spawn_rank(cfg, config_path, overrides, r, group));
        // The launcher's own format ("role NAME: pid N"), on the job's output.
        std::printf("role trainer-rank-%d: pid %d\n", r, pids_.back());
        std::fflush(stdout);
    }
    ZmqCollectiveOptions o{.rank = 0,
                           .size = cfg.trainer.ranks,
                           .endpoint = trainer_ranks_endpoint(cfg),
                           .group = group,
                           .timeout_s = cfg.deadlines.collective_s,
                           .stop = &stop,
                           .peer_check = [this] { return dead_rank(); }};
    try {
        control_ = std::make_unique<ZmqCollective>(zctx_, o);
        grads_ = gradient_collective(cfg, *control_);
    } catch (...) {
        stop_ranks();
        throw;
    }
    // From here rank 0 honours its stop between steps (TrainerRole::run), not inside a collective: a
    // step under way finishes and is checkpointed; the deadline and dead_rank still end every wait.
    control_->set_stop(nullptr);
    ranks_ = std::make_unique<TrainerRanks>(*control_, comms_of(*control_, grads_.get()));
}

std::string RankProcesses::dead_rank() {
    for (size_t k = 0; k < pids_.size(); ++k) {
        if (pids_[k] <= 0) continue;
        int status = 0;
        if (waitpid(pids_[k], &status, WNOHANG) == pids_[k]) {
            const std::string why =
                fmt::format("trainer rank {} (pid {}) died: {}", k + 1, pids_[k], exit_text(status));
            pids_[k] = -1;
            return why;
        }
    }
    return {};
}

RankProcesses::~RankProcesses() {
    ranks_.reset();
    grads_.reset();
    control_.reset();
    stop_ranks();
}

void RankProcesses::stop_ranks() {
    for (pid_t p : pids_)
        if (p > 0) kill(p, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (pid_t& p : pids_) {
        while (p > 0) {
            int status = 0;
            const pid_t got = waitpid(p, &status, WNOHANG);
            if (got == p || got < 0) {
                p = -1;
                break;
            }
            if (std::chrono::steady_clock::now() > until) kill(p, SIGKILL);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
}

int run_rank_process(const JobContext& ctx, int rank, const std::string& group,
                     const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx.cfg;
    const pid_t parent = getppid();
    ZmqContext zctx(ctx.curve);
    ZmqCollectiveOptions o{.rank = rank,
                           .size = cfg.trainer.ranks,
                           .endpoint = trainer_ranks_endpoint(cfg),
                           .group = group,
                           .timeout_s = cfg.deadlines.collective_s,
                           .stop = &stop,
                           .peer_check = [parent]() -> std::string {
                               if (getppid() == parent) return {};
                               return fmt::format("trainer rank 0 (pid {}) is gone", parent);
                           }};
    try {
        ZmqCollective control(zctx, o);
        std::unique_ptr<Collective> grads = gradient_collective(cfg, control);
        control.set_stop(nullptr);  // run_trainer_rank honours it between steps
        return run_trainer_rank(ctx, control, comms_of(control, grads.get()), stop);
    } catch (const CollectiveError& e) {
        if (stop) return 130;  // rank 0 ended the job (or was stopped): not this rank's failure
        throw;
    }
}

}  // namespace stride
