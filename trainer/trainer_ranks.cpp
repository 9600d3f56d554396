// trainer/trainer_ranks.cpp: see trainer_ranks.h.
#include "trainer/trainer_ranks.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/base/error.h"
#include "model/backend.h"
#include "trainer/trainer_role.h"

namespace stride {

namespace {

// A flat little-endian encoding of the command (the ranks run the same binary on one machine).
class Writer {
   public:
    template <typename T>
    void put(const T& v) {
        out.append(reinterpret_cast<const char*>(&v), sizeof(T));
    }
    template <typename T>
    void put_vec(const std::vector<T>& v) {
        put<uint64_t>(v.size());
        out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    }
    std::string out;
};

class Reader {
   public:
    explicit Reader(const std::string& s) : s_(s) {}
    template <typename T>
    T get() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, s_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    template <typename T>
    std::vector<T> get_vec() {
        const uint64_t n = get<uint64_t>();
        STRIDE_CHECK(n <= (s_.size() - pos_) / sizeof(T), "trainer ranks: a command's array overruns it");
        std::vector<T> v(n);
        std::memcpy(v.data(), s_.data() + pos_, n * sizeof(T));
        pos_ += n * sizeof(T);
        return v;
    }
    bool done() const { return pos_ == s_.size(); }

   private:
    void need(size_t n) const {
        STRIDE_CHECK(s_.size() - pos_ >= n,
                     "trainer ranks: a command ends early (" + std::to_string(s_.size()) + " bytes)");
    }
    const std::string& s_;
    size_t pos_ = 0;
};

constexpr uint32_t kCommandMagic = 0x53524b31;  // "SRK1"

void broadcast_model(ZmqCollective& c, Model& m, const std::string& what) {
    c.broadcast(m.data.data(), m.data.size(), 0, what);
}

}  // namespace

std::string encode_rank_command(const RankCommand& c) {
    Writer w;
    w.put(kCommandMagic);
    w.put<uint8_t>(c.stop ? 1 : 0);
    w.put(c.policy_version);
    w.put<uint64_t>(c.batch.size());
    for (const Experience& x : c.batch) {
        w.put<int64_t>(x.group);
        w.put_vec(x.prompt);
        w.put_vec(x.response);
        w.put_vec(x.behaviour_logprob);
        w.put_vec(x.token_version);
        w.put(x.reward);
        w.put<uint8_t>(x.correct);
        w.put<uint8_t>(x.truncated);
    }
    return w.out;
}

RankCommand decode_rank_command(const std::string& bytes) {
    Reader r(bytes);
    STRIDE_CHECK(r.get<uint32_t>() == kCommandMagic, "trainer ranks: a command without its magic number");
    RankCommand c;
    c.stop = r.get<uint8_t>() != 0;
    c.policy_version = r.get<int64_t>();
    const uint64_t n = r.get<uint64_t>();
    STRIDE_CHECK(n <= bytes.size(), "trainer ranks: a command claims " + std::to_string(n) + " samples");
    c.batch.resize(n);
    for (Experience& x : c.batch) {
        x.group = static_cast<long>(r.get<int64_t>());
        x.prompt = r.get_vec<int>();
        x.response = r.get_vec<int>();
        x.behaviour_logprob = r.get_vec<float>();
        x.token_version = r.get_vec<int64_t>();
        x.reward = r.get<double>();
        x.correct = r.get<uint8_t>() != 0;
        x.truncated = r.get<uint8_t>() != 0;
    }
    STRIDE_CHECK(r.done(), "trainer ranks: a command has bytes after its last sample");
    return c;
}

void TrainerRanks::share_start(Model& model, AdamW& adam, const Model* reference) {
    broadcast_model(control_, model, "starting weights");
    std::vector<float> m = adam.m(), v = adam.v();
    control_.broadcast(m.data(), m.size(), 0, "AdamW first moments");
    control_.broadcast(v.data(), v.size(), 0, "AdamW second moments");
    std::string head = fmt::format("{} {}", adam.step_count(), reference ? 1 : 0);
    control_.broadcast_bytes(head, 0, "AdamW step count");
    if (reference)
        control_.broadcast(const_cast<float*>(reference->data.data()), reference->data.size(), 0,
                           "KL reference weights");
}

bool receive_start(ZmqCollective& control, Model& model, AdamW& adam, Model& reference) {
    broadcast_model(control, model, "starting weights");
    std::vector<float> m(model.data.size()), v(model.data.size());
    control.broadcast(m.data(), m.size(), 0, "AdamW first moments");
    control.broadcast(v.data(), v.size(), 0, "AdamW second moments");
    adam.set_moments(m.data(), v.data());
    std::string head;
    control.broadcast_bytes(head, 0, "AdamW step count");
    long long steps = 0;
    int has_ref = 0;
    STRIDE_CHECK(std::sscanf(head.c_str(), "%lld %d", &steps, &has_ref) == 2,
                 "trainer ranks: rank 0 sent a malformed start state");
    adam.set_step_count(steps);
    if (has_ref) broadcast_model(control, reference, "KL reference weights");
    return has_ref != 0;
}

void TrainerRanks::announce_step(const std::vector<Experience>& batch, int64_t policy_version) {
    std::string bytes = encode_rank_command({false, policy_version, batch});
    control_.broadcast_bytes(bytes, 0, "next step");
}

void TrainerRanks::announce_stop() {
    std::string bytes = encode_rank_command({true, 0, {}});
    control_.broadcast_bytes(bytes, 0, "end of the job");
}

int run_trainer_rank(const JobContext& ctx, ZmqCollective& control, RankComms comms,
                     const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx.cfg;
    const TrainerConfig& tc = cfg.trainer;
    Model model(ctx.model_config());
    AdamWConfig ac;
    ac.lr = static_cast<float>(tc.lr);
    ac.beta1 = static_cast<float>(tc.betas.at(0));
    ac.beta2 = static_cast<float>(tc.betas.at(1));
    ac.eps = static_cast<float>(tc.eps);
    ac.weight_decay = static_cast<float>(tc.weight_decay);
    AdamW adam(model.data.size(), ac);
    Model reference(model.config());
    const bool has_ref = receive_start(control, model, adam, reference);
    RlTrainer rl(model, ac, lr_schedule_of(tc), backend_for_device(trainer_device(cfg)));
    rl.optimizer() = adam;
    if (has_ref) rl.set_reference(reference);
    rl.set_rank_comms(comms);
    const RlStepOptions opt = rl_options(cfg);
    spdlog::info("trainer rank {} of {}: ready at optimiser step {}", control.rank(), control.size(),
                 adam.step_count());
    while (!stop) {
        std::string bytes;
        // Rank 0 may pull, evaluate and checkpoint for long between steps: no deadline here, but the
        // wait ends when rank 0 dies (peer_check) or this rank is stopped. Inside a step the stop
        // flag is not honoured (rank 0 finishes the step and checkpoints); the deadline still is.
        control.set_stop(&stop);
        control.broadcast_bytes(bytes, 0, "next step", 86400.0 * 365);
        control.set_stop(nullptr);
        const RankCommand c = decode_rank_command(bytes);
        if (c.stop) return 0;
        try {
            rl.step(c.batch, opt, c.policy_version);
        } catch (const CollectiveError&) {
            throw;
        } catch (const Error& e) {  // rank 0 fails the same way and quarantines the batch
            spdlog::warn("trainer rank {}: step skipped: {}", control.rank(), e.what());
        }
    }
    return 130;
}

}  // namespace stride
