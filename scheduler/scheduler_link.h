// scheduler/scheduler_link.h: a role's side of the registry (scheduler/registry.h). Registers with
// back-off, waits for the endpoints it needs, then heartbeats from a thread of its own until the job
// is done or the scheduler has been silent for network.lost_after_s.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/messaging.h"

namespace stride {

struct LinkOptions {
    std::string scheduler;  // tcp://HOST:PORT of the registry
    std::string job_id;
    std::string config_hash;
    std::string role;  // buffer | trainer | rollout
    int worker = 0;
    double connect_timeout_s = 300;
    double lost_after_s = 30;
    std::shared_ptr<const CurveKeys> curve;  // the job's CURVE keys (null: plain sockets)
};

using EndpointMap = std::map<std::string, std::string>;

class SchedulerLink {
   public:
    explicit SchedulerLink(LinkOptions opt);
    ~SchedulerLink();
    SchedulerLink(const SchedulerLink&) = delete;
    SchedulerLink& operator=(const SchedulerLink&) = delete;

    // Registers `offers` (and `hello`'s other fields) and asks until every one of `wants` is offered.
    // Retries an unreachable scheduler with back-off (0.2 s doubling to 5 s), logging where it tries.
    // Throws stride::Error on a refusal (another config, a duplicate worker id, another job) or after
    // network.connect_timeout_s without an answer. Returns an empty map when *stop.
    EndpointMap join(const EndpointMap& offers, const std::vector<std::string>& wants,
                     const std::atomic<bool>& stop, v1::RoleHello hello = {});
    // Heartbeats every 250 ms from a thread; sets *stop_out when the scheduler says the job is done or
    // has not answered for lost_after_s (lost() then says which).
    void start_heartbeat(std::atomic<bool>* stop_out);
    // The trainer: tells the scheduler the job's last step is done (tries for up to 10 s).
    bool announce_finished();
    // A trainer restarted inside the job: begins the registry's pause of the rollout workers and waits
    // until every one of them has stopped generating and saved what it had in flight. Throws after
    // deadline_s (a worker that cannot stop); false when *stop.
    bool pause_rollouts(const std::atomic<bool>& stop, double deadline_s);
    // A rollout worker: a restarted trainer began a pause after this worker's latest join (seen by
    // the heartbeat): stop generating, then join again (which waits until the trainer resumed).
    bool pause_requested() const { return pause_requested_; }
    bool lost() const { return lost_; }
    bool job_done() const { return job_done_; }
    const std::string& instance() const { return instance_; }

   private:
    v1::Envelope hello_envelope(const v1::RoleHello& base) const;
    std::optional<v1::Envelope> call(RequestClient& client, const v1::RoleHello& hello,
                                     const std::atomic<bool>& stop);
    void heartbeat_loop(std::atomic<bool>* stop_out);
    LinkOptions opt_;
    std::string instance_;
    std::string id_;
    EndpointMap offered_;
    ZmqContext ctx_;
    int restarts_ = 0;  // $STRIDE_RESTARTS: set by this role's supervisor
    std::atomic<bool> lost_{false}, job_done_{false}, quit_{false}, pause_requested_{false};
    std::atomic<uint64_t> joined_epoch_{0};  // the registry's pause count at this role's latest join
    std::thread heartbeat_;
};

}  // namespace stride
