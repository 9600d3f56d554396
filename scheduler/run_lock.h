// scheduler/run_lock.h: one job per run directory at a time. `stride run` holds <run>/job.lock
// (flock) for as long as it, or any role process it started, lives: the descriptor is inherited by the
// role children (deliberately not close-on-exec), so a restart is refused until the last process of
// the previous run is gone, not only its launcher (a killed launcher's roles may still be finishing
// their checkpoint). The file holds the launcher's pid, for the message.
#pragma once
#include <string>

namespace stride {

class RunLock {
   public:
    // Takes the lock or throws stride::Error naming the run directory and the pid that holds it.
    explicit RunLock(const std::string& run_path);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

   private:
    int fd_ = -1;
};

}  // namespace stride
