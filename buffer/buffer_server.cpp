// buffer/buffer_server.cpp: the experience buffer's request loop. See buffer_server.h and
// buffer/README.md.
//
// Durability and group commit: puts are validated and staged into one RocksDB WriteBatch; the loop
// drains every request already queued on the socket (up to max_drain), then writes the batch once
// (one fsync when sync_wal) and only then sends the PutAcks. Any other request first flushes the
// staged puts, so a pull never leases a sample that is not yet durable.
//
// Only puts are fsynced (when sync_wal): losing a lease, commit or stale drop to a power failure
// replays a batch or re-drops a group, it never loses an acknowledged sample.
//
// The in-memory GroupIndex is changed only after the RocksDB write that carries the same change has
// succeeded; a failed write leaves memory and disk as they were and the request gets an INTERNAL error.
#include "buffer/buffer_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "buffer/buffer_server_impl.h"
#include "common/base/error.h"

namespace stride {

using namespace buffer_impl;

BufferServer::Impl::Impl(const BufferServerConfig& c)
    : cfg(c),
      ctx(c.curve),
      store(c.dir, c.sync_wal),
      sock(ctx, c.endpoint, c.max_message_bytes),
      index(c.group_size) {
    STRIDE_CHECK(cfg.group_size > 0, "buffer.group_size must be at least 1");
    STRIDE_CHECK(cfg.max_drain > 0, "buffer.max_drain must be at least 1");
    bound_endpoint = sock.endpoint();
    if (!cfg.ack_log.empty()) {
        ack_log.open(cfg.ack_log, std::ios::app);
        STRIDE_CHECK(ack_log.good(), "buffer: cannot open the acknowledgement log " + cfg.ack_log);
    }
    recover();
    publish_stats();
}

// ---- the loop ----------------------------------------------------------------------------------

void BufferServer::Impl::run() {
    while (!stop_requested.load(std::memory_order_relaxed)) {
        if (auto req = sock.recv(kIdlePollMs)) {
            handle(*req);
            // Group commit: everything already queued joins the same RocksDB write.
            for (uint32_t i = 1; i < cfg.max_drain; ++i) {
                auto more = sock.recv(0);
                if (!more) break;
                handle(*more);
            }
            flush_puts();
        }
        expire_leases();
        publish_stats();
    }
    flush_puts();
    publish_stats();
}

void BufferServer::Impl::handle(Request& req) {
    v1::Envelope env;
    EnvelopeCheck check = decode_envelope(req.payload, cfg.job_id, &env);
    if (!check.ok()) {  // answered without our job id: a stranger must not learn it from the reply
        counters.count_rejection(check.code);
        spdlog::debug("buffer: rejected ({}): {}", v1::ErrorCode_Name(check.code), check.message);
        return reply(req, make_rejection(check));
    }
    try {
        if (env.body_case() == v1::Envelope::kPutSamples) return handle_put(req, env);
        flush_puts();  // nothing may observe state that is not durable yet
        switch (env.body_case()) {
            case v1::Envelope::kPullBatch:
                return handle_pull(req, env);
            case v1::Envelope::kCommitBatch:
                return handle_commit(req, env);
            case v1::Envelope::kReleaseLeases:
                return handle_release(req, env);
            case v1::Envelope::kCheckpointDurable:
                return handle_checkpoint_durable(req, env);
            case v1::Envelope::kStatsRequest:
                return handle_stats(req);
            case v1::Envelope::kSavePartials:
                return handle_save_partials(req, env);
            case v1::Envelope::kLoadPartials:
                return handle_load_partials(req);
            default: {
                const auto* field = v1::Envelope::descriptor()->FindFieldByNumber(env.body_case());
                return reject(req, v1::ERROR_CODE_UNKNOWN_BODY,
                              "the buffer does not serve '" + (field ? field->name() : "?") + "' messages");
            }
        }
    } catch (const std::exception& e) {
        // A bug or a storage failure in one request must not take the role down.
        reject(req, v1::ERROR_CODE_INTERNAL, std::string("internal error: ") + e.what());
    }
}

void BufferServer::Impl::reject(Request& req, v1::ErrorCode code, const std::string& message) {
    counters.count_rejection(code);
    if (code == v1::ERROR_CODE_INTERNAL)
        spdlog::error("buffer: {}", message);
    else
        spdlog::debug("buffer: rejected ({}): {}", v1::ErrorCode_Name(code), message);
    reply(req, make_error(cfg.job_id, code, message, code == v1::ERROR_CODE_BUSY ? kBusyRetryAfterMs : 0));
}

// ---- stats -------------------------------------------------------------------------------------

void BufferServer::Impl::publish_stats() {
    counters.stored_samples = index.stored_samples();
    counters.stored_bytes = index.stored_bytes();
    counters.groups_complete = index.groups_ready();
    counters.groups_leased = index.groups_leased();
    counters.groups_incomplete = index.groups_total() - index.groups_ready() - index.groups_leased();
    counters.leases_open = index.leases_open();
    counters.capacity_samples = cfg.capacity_samples;
    counters.bytes_on_disk = store.bytes_on_disk();
    prometheus.update(counters);
    std::lock_guard<std::mutex> lock(published_mutex);
    published = counters;
    published_failure = store.failure();
}

void BufferServer::Impl::handle_stats(Request& req) {
    publish_stats();
    v1::Envelope out = make_envelope(cfg.job_id);
    counters.to_proto(out.mutable_buffer_stats());
    reply(req, out);
}

// ---- BufferServer ------------------------------------------------------------------------------

BufferServer::BufferServer(const BufferServerConfig& config) : impl_(std::make_unique<Impl>(config)) {}

BufferServer::~BufferServer() {
    stop();
}

void BufferServer::run() {
    impl_->run();
}

void BufferServer::start() {
    STRIDE_CHECK(!impl_->thread.joinable(), "buffer server already started");
    impl_->stop_requested = false;
    impl_->thread = std::thread([this] {
        pthread_setname_np(pthread_self(), "stride-buffer");  // visible in top -H, perf, gdb
        impl_->run();
    });
}

void BufferServer::stop() {
    impl_->stop_requested = true;
    if (impl_->thread.joinable()) impl_->thread.join();
}

std::string BufferServer::endpoint() const {
    return impl_->bound_endpoint;
}

std::string BufferServer::failure() const {
    std::lock_guard<std::mutex> lock(impl_->published_mutex);
    return impl_->published_failure;
}

BufferStats BufferServer::stats() const {
    std::lock_guard<std::mutex> lock(impl_->published_mutex);
    return impl_->published;
}

}  // namespace stride
