// scheduler/process_roles.h: the roles of `launcher: processes` as child processes of `stride run`,
// and their restarts inside the job (recovery.*, issue #18).
//
// A buffer that dies is started again on its RocksDB directory (what it acknowledged is there; its
// leases are kept, so the trainer still commits what it pulled) at the same Unix socket, where every
// client's retries find it. A rollout worker that dies is started again; it resumes what it saved
// in flight, and the dispatcher hands out again what it held beyond that. A trainer that dies is
// started again from its last checkpoint (`--restarted resume=auto`): the rollout workers are stopped
// first (they save their in-flight groups), the new trainer tells the buffer where it resumed (the
// buffer drops what the dead trainer's later versions made and lists those prompts, which reach the
// dispatcher as RedispatchPrompts), and only then are the rollout workers started again, so none
// resumes a group of a discarded version. Each role has its own count and back-off
// (recovery.restart_backoff_s, doubling, at most recovery.restart_backoff_max_s). A role out of restarts
// stops the job as before.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "scheduler/prompt_dispatcher.h"

namespace stride {

struct RoleProcess {
    std::string role;  // buffer | trainer | rollout
    int worker = 0;
    pid_t pid = -1;       // -1: not running
    pid_t last_pid = -1;  // of its latest start
    int restarts = 0;     // restarts inside the job so far (a rollout worker's with the trainer not counted)
    int status = -1;      // waitpid status of its last run once it ended
    bool ended_for_good = false;  // ended and not started again
    std::string name() const { return role + "-" + std::to_string(worker); }
};

class ProcessRoles {
   public:
    ProcessRoles(const JobConfig& cfg, std::string config_path, const PromptDispatcher& dispatcher,
                 const std::atomic<bool>& stop);
    // Starts the buffer, the trainer and the rollout workers.
    void start_all();
    // Restarts what dies while restarts are left; returns the trainer's final waitpid status once it
    // ends for good (it finished, it was stopped, or it or another role died out of restarts).
    int run_until_trainer_ends();
    // SIGTERM to every role still running, then waits for each.
    void stop_all();
    const std::vector<RoleProcess>& roles() const { return roles_; }
    // Restarts per role name (buffer, trainer, rollout: all workers together).
    int restarts_of(const std::string& role) const;

   private:
    RoleProcess* find(pid_t pid);
    RoleProcess& trainer() { return roles_[1]; }
    int max_restarts(const std::string& role) const;
    // Waits the role's back-off (unless stopping), then starts it; `extra` goes on its command line.
    void restart(RoleProcess& r, const std::vector<std::string>& extra = {});
    void restart_trainer();
    bool wait_for_resume(int64_t resumes_before);
    void spawn(RoleProcess& r, const std::vector<std::string>& extra = {});
    // Waits for r to end (SIGKILL after deadline_s); records its status.
    void reap(RoleProcess& r, double deadline_s);
    const JobConfig& cfg_;
    std::string config_path_;
    const PromptDispatcher& dispatcher_;
    const std::atomic<bool>& stop_;
    std::vector<RoleProcess> roles_;                       // buffer, trainer, rollout-0 ...
    std::vector<std::pair<pid_t, int>> reaped_elsewhere_;  // ended while we waited for another
    bool stop_sent_ = false;
};

}  // namespace stride
