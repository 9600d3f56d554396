// buffer/buffer_client.cpp: see buffer_client.h.
#include "buffer/buffer_client.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "common/base/error.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

int ms_since(Clock::time_point t) {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

}  // namespace

BufferClientOptions buffer_client_options(const DeadlinesConfig& deadlines, const std::atomic<bool>* stop) {
    BufferClientOptions o;
    o.deadline_ms = deadline_ms(deadlines.buffer_s);
    o.call_timeout_ms = std::min(o.call_timeout_ms, o.deadline_ms);
    o.stop = stop;
    return o;
}

BufferClient::BufferClient(ZmqContext& ctx, const std::string& endpoint, const std::string& job_id,
                           BufferClientOptions options)
    : rpc_(ctx, endpoint, job_id), opt_(std::move(options)) {
    // Request ids only need to differ between incarnations of a trainer: start at a random point.
    std::random_device rd;
    next_request_id_ = (uint64_t(rd()) << 32 | rd()) | 1;
}

v1::Envelope BufferClient::call(const v1::Envelope& env, const char* what) {
    auto start = Clock::now();
    int backoff = opt_.backoff_initial_ms;
    bool last_busy = false;  // the last attempt was answered BUSY (else: not answered)
    auto stopped = [&] {
        return BufferStopped(std::string("buffer ") + what + " to " + rpc_.endpoint() +
                             ": given up, the caller is stopping");
    };
    for (;;) {
        int left = opt_.deadline_ms - ms_since(start);
        if (left <= 0)
            throw PeerUnreachable(
                "buffer",
                std::string("buffer ") + what + " to " + rpc_.endpoint() +
                    (last_busy ? ": still BUSY (full) after " : ": no answer within ") +
                    std::to_string(opt_.deadline_ms) + " ms (" + opt_.deadline_key +
                    (last_busy ? "): the trainer does not take groups" : "): the buffer is down or stuck"));
        std::optional<v1::Envelope> reply =
            rpc_.call(env, std::min(opt_.call_timeout_ms, left), opt_.stop, opt_.stop_grace_ms);
        int wait = backoff;
        last_busy = reply && reply->has_error();
        if (!reply) {
            ++timeout_retries_;
        } else if (reply->has_error()) {
            const v1::Error& e = reply->error();
            if (e.code() != v1::ERROR_CODE_BUSY)
                throw BufferRejected(e.code(), std::string("buffer ") + what + " rejected (" +
                                                   v1::ErrorCode_Name(e.code()) + "): " + e.message());
            ++busy_retries_;
            wait = std::max<int>(wait, e.retry_after_ms());
        } else {
            return std::move(*reply);
        }
        if (stopping()) throw stopped();  // no retry once stopping
        // Back off in short slices, so that a stop is noticed promptly.
        auto until =
            Clock::now() + std::chrono::milliseconds(std::min(wait, opt_.deadline_ms - ms_since(start)));
        while (Clock::now() < until) {
            if (stopping()) throw stopped();
            auto slice = std::min<Clock::duration>(until - Clock::now(),
                                                   std::chrono::milliseconds(opt_.stop ? 20 : wait));
            std::this_thread::sleep_for(slice);
        }
        backoff = std::min(backoff * 2, opt_.backoff_max_ms);
    }
}

v1::PutAck BufferClient::put(const std::vector<v1::Sample>& samples, const std::string& partial_owner) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    auto* put = env.mutable_put_samples();
    put->set_partial_owner(partial_owner);
    put->mutable_samples()->Reserve(static_cast<int>(samples.size()));
    for (const auto& s : samples) *put->add_samples() = s;
    v1::Envelope reply = call(env, "put");
    STRIDE_CHECK(reply.has_put_ack(), "buffer put: reply is not a PutAck");
    return std::move(*reply.mutable_put_ack());
}

v1::SavePartialsAck BufferClient::save_partials(const std::string& worker_id,
                                                const std::vector<v1::InFlightGroup>& groups) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    auto* sp = env.mutable_save_partials();
    sp->set_worker_id(worker_id);
    for (const auto& g : groups) *sp->add_groups() = g;
    v1::Envelope reply = call(env, "save_partials");
    STRIDE_CHECK(reply.has_save_partials_ack(), "buffer save_partials: reply is not a SavePartialsAck");
    return std::move(*reply.mutable_save_partials_ack());
}

std::vector<v1::InFlightGroup> BufferClient::load_partials() {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_load_partials();
    v1::Envelope reply = call(env, "load_partials");
    STRIDE_CHECK(reply.has_partials(), "buffer load_partials: reply is not Partials");
    auto* groups = reply.mutable_partials()->mutable_groups();
    return {std::make_move_iterator(groups->begin()), std::make_move_iterator(groups->end())};
}

v1::Batch BufferClient::pull(uint32_t num_groups, int64_t trainer_version, bool allow_partial) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    auto* p = env.mutable_pull_batch();
    p->set_num_groups(num_groups);
    p->set_trainer_version(trainer_version);
    p->set_allow_partial(allow_partial);
    p->set_trainer_id(opt_.trainer_id);
    p->set_request_id(next_request_id_++);  // the same id on every retry of this one pull
    v1::Envelope reply;
    try {
        reply = call(env, "pull");
    } catch (const BufferStopped&) {
        return {};  // stopping: like "no batch ready"; a lease the lost reply held is released later
    }
    STRIDE_CHECK(reply.has_batch(), "buffer pull: reply is not a Batch");
    return std::move(*reply.mutable_batch());
}

v1::Batch BufferClient::pull_wait(uint32_t num_groups, int64_t trainer_version, int wait_ms,
                                  bool allow_partial) {
    // A waiting trainer polls at a short, fixed interval rather than with a growing back-off: the
    // time between the batch's last group arriving and the trainer noticing is pure idle time for
    // both roles (in sync mode every step pays it). An empty pull costs the buffer microseconds.
    auto start = Clock::now();
    for (;;) {
        v1::Batch b = pull(num_groups, trainer_version, allow_partial);
        int left = wait_ms - ms_since(start);
        if (b.batch_id() != 0 || left <= 0 || stopping()) return b;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(opt_.poll_interval_ms, left)));
    }
}

v1::CommitAck BufferClient::commit(uint64_t batch_id, int64_t trainer_step) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_commit_batch()->set_batch_id(batch_id);
    env.mutable_commit_batch()->set_trainer_step(trainer_step);
    v1::Envelope reply = call(env, "commit");
    STRIDE_CHECK(reply.has_commit_ack(), "buffer commit: reply is not a CommitAck");
    return std::move(*reply.mutable_commit_ack());
}

v1::CheckpointDurableAck BufferClient::checkpoint_durable(int64_t step) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_checkpoint_durable()->set_step(step);
    v1::Envelope reply = call(env, "checkpoint_durable");
    STRIDE_CHECK(reply.has_checkpoint_durable_ack(),
                 "buffer checkpoint_durable: reply is not a CheckpointDurableAck");
    return std::move(*reply.mutable_checkpoint_durable_ack());
}

v1::ReleaseLeasesAck BufferClient::resume(const std::string& reason, int64_t resume_step,
                                          int64_t resume_version) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_release_leases()->set_trainer_id(opt_.trainer_id);
    env.mutable_release_leases()->set_reason(reason);
    env.mutable_release_leases()->set_resume_step(resume_step);
    env.mutable_release_leases()->set_resume_version(resume_version);
    v1::Envelope reply = call(env, "release_leases");
    STRIDE_CHECK(reply.has_release_leases_ack(), "buffer release_leases: reply is not a ReleaseLeasesAck");
    return std::move(*reply.mutable_release_leases_ack());
}

v1::ReleaseLeasesAck BufferClient::release_leases(const std::string& reason) {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_release_leases()->set_trainer_id(opt_.trainer_id);
    env.mutable_release_leases()->set_reason(reason);
    v1::Envelope reply = call(env, "release_leases");
    STRIDE_CHECK(reply.has_release_leases_ack(), "buffer release_leases: reply is not a ReleaseLeasesAck");
    return std::move(*reply.mutable_release_leases_ack());
}

v1::BufferStats BufferClient::stats() {
    v1::Envelope env = make_envelope(rpc_.job_id());
    env.mutable_stats_request();
    v1::Envelope reply = call(env, "stats");
    STRIDE_CHECK(reply.has_buffer_stats(), "buffer stats: reply is not BufferStats");
    return std::move(*reply.mutable_buffer_stats());
}

}  // namespace stride
