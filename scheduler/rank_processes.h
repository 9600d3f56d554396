// scheduler/rank_processes.h: the trainer ranks 1..N-1 of trainer.ranks = N, as child processes of
// the trainer role (rank 0), and the ZeroMQ group they form with it (trainer/trainer_ranks.h).
//
// Rank 0 starts them (`stride role trainer-rank --rank R ...`), binds the group at
// <run>/sockets/ranks and waits for each to join. While it waits in a collective it asks
// `dead_rank()` whether one of them ended (a kill -9 is named at once, "trainer rank 1 (pid 42) died:
// signal 9"); it throws out of the step, the trainer role ends with an error, and `launcher:
// processes` restarts the trainer (recovery.trainer_restarts), which starts a new group from its last
// checkpoint. The ranks die with rank 0 (PR_SET_PDEATHSIG) and watch it (getppid) in every wait. With
// trainer.device = cuda, rank R sees one GPU: the R-th of CUDA_VISIBLE_DEVICES (or GPU R).
#pragma once
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/messaging.h"
#include "job/job_context.h"
#include "trainer/trainer_ranks.h"
#include "trainer/zmq_collective.h"

namespace stride {

class Collective;

class RankProcesses {
   public:
    // Starts ranks 1..cfg.trainer.ranks-1 with `config_path` (and `overrides`), forms the group and
    // the gradient collective. Throws CollectiveError when a rank does not join in time.
    RankProcesses(const JobContext& ctx, const std::string& config_path,
                  const std::vector<std::string>& overrides, const std::atomic<bool>& stop);
    ~RankProcesses();  // SIGTERM to the ranks still running, SIGKILL after 30 s
    TrainerRanks& ranks() { return *ranks_; }
    // Why a rank is gone ("trainer rank 2 (pid 42) died: signal 9 (Killed)"), or empty.
    std::string dead_rank();

   private:
    void stop_ranks();         // SIGTERM, then SIGKILL after 30 s; reaps them
    std::vector<pid_t> pids_;  // rank r at r-1; -1 once reaped
    ZmqContext zctx_;
    std::unique_ptr<ZmqCollective> control_;
    std::unique_ptr<Collective> grads_;  // NCCL on a GPU; null: control_
    std::unique_ptr<TrainerRanks> ranks_;
};

// The endpoint of the trainer ranks' group: ipc://<run>/sockets/ranks.
std::string trainer_ranks_endpoint(const JobConfig& cfg);

// `stride role trainer-rank --rank R --group G`: one rank > 0; returns the exit status.
int run_rank_process(const JobContext& ctx, int rank, const std::string& group,
                     const std::atomic<bool>& stop);

}  // namespace stride
