// scheduler/registry.h: the scheduler's registry, where roles started as
// `stride role NAME --config FILE --scheduler tcp://HOST:PORT` register (issue #18).
//
// A role sends RoleHello (proto/stride.proto) with its config hash, the endpoints it serves and the
// ones it needs; the registry answers RoleWelcome with every endpoint offered so far (and which of the
// wanted ones are still missing), or an Error: another config (both hashes named), or a worker id
// that another live instance holds. The same RoleHello, repeated, is the role's heartbeat; once the
// trainer says it finished, every answer says job_done and the roles stop. It is also where the NCCL
// weight group forms: NcclJoin is answered by common/nccl_rendezvous.h.
//
// Restarts inside the job: a role's supervisor (scheduler/role_supervisor.h) restarts it as the same
// instance, and its hellos carry the restart count (restarts_of). A trainer restarted from its last
// checkpoint says so (RoleHello.trainer_restarting) and a pause begins: every rollout worker that
// started before it stops generating with the dead trainer's weights, saves its in-flight groups and
// registers again, where "weights" and "prompts" are withheld until the trainer has resumed (the
// dispatcher's count of RedispatchPrompts moved, set_resume_counter); the trainer waits for
// rollouts_paused before it tells the buffer where it resumed, so that no group of a discarded version
// is made after the buffer dropped them (what scheduler/process_roles.h does in processes mode).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/messaging.h"
#include "common/nccl_rendezvous.h"

namespace stride {

struct RegistryOptions {
    std::string job_id;
    std::string config_hash;
    std::string bind;                        // e.g. tcp://*:7400
    double lost_after_s = 30;                // a silent member's worker id is free again after this long
    std::shared_ptr<const CurveKeys> curve;  // the job's CURVE keys (null: plain sockets)
};

// Where the trainer's run starts: what the dispatcher needs from it (a resumed job).
struct TrainerStart {
    std::string weights;  // the trainer's weight publisher
    int64_t start_prompt = 0;
    int64_t start_extra_prompts = 0;
};

class Registry {
   public:
    explicit Registry(const RegistryOptions& opt);  // binds, then serves from a thread of its own
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    std::string endpoint() const { return endpoint_; }
    // An endpoint the scheduler itself serves ("prompts").
    void offer(const std::string& name, const std::string& endpoint);
    // Waits until the trainer has offered its weights and start; nullopt when *stop.
    std::optional<TrainerStart> wait_for_trainer(const std::atomic<bool>& stop);
    bool job_done() const;
    // Every endpoint offered so far, by name.
    std::map<std::string, std::string> endpoints() const;
    // The job is done and every member has been told so (or has been silent for lost_after_s).
    bool all_told() const;
    uint64_t refused() const { return refused_; }
    // Called (from the registry's thread) with the worker id of a member silent for lost_after_s,
    // once per silence: the dispatcher hands out again what a lost rollout worker held.
    void on_lost(std::function<void(const std::string&)> fn);
    // The dispatcher's count of trainer resumes (PromptDispatcher::trainer_resumes): a pause ends when
    // it moves. Clear it ({}) before the dispatcher goes.
    void set_resume_counter(std::function<int64_t()> fn);
    // Restarts inside the job that the members of `role` reported (buffer, trainer, rollout: summed).
    int restarts_of(const std::string& role) const;

   private:
    struct Member {
        std::string instance;
        std::chrono::steady_clock::time_point last_seen;
        bool told_done = false;
        bool lost = false;  // silent for lost_after_s; a hello from it again clears it
        std::string role;
        int restarts = 0;         // its supervisor's count
        uint64_t paused_for = 0;  // a rollout worker: the latest pause it is known to have stopped for
    };
    void update_pause(const v1::RoleHello& hello, Member& m);
    bool rollouts_paused() const;
    void notice_lost();
    void serve();
    v1::Envelope answer(const v1::RoleHello& hello);
    std::optional<std::string> refusal(const v1::RoleHello& hello, const std::string& id) const;
    RegistryOptions opt_;
    ZmqContext ctx_;
    ReplySocket sock_;
    std::string endpoint_;
    mutable std::mutex mu_;
    std::map<std::string, Member> members_;  // worker id (buffer, trainer, rollout-I) -> its instance
    std::map<std::string, std::string> endpoints_;
    std::optional<TrainerStart> trainer_start_;
    NcclRendezvous nccl_;  // the NCCL weight group (under mu_)
    std::function<void(const std::string&)> on_lost_;
    bool done_ = false;
    std::function<int64_t()> resumes_;
    uint64_t pause_epoch_ = 0;  // pauses begun
    bool pausing_ = false;
    int64_t resumes_at_pause_ = 0;
    std::atomic<uint64_t> refused_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// buffer, trainer, rollout-I: the worker id a RoleHello names.
std::string member_id(const std::string& role, int worker);

}  // namespace stride
