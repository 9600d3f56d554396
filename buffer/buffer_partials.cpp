// buffer/buffer_partials.cpp: rollout workers' in-flight groups (SavePartials, LoadPartials). See
// buffer_server_impl.h and buffer/README.md.
#include "buffer/buffer_server_impl.h"

#include <spdlog/spdlog.h>

namespace stride {

using namespace buffer_impl;

// ---- in-flight groups of rollout workers ----------------------------------------------------------

void BufferServer::Impl::handle_save_partials(Request& req, const v1::Envelope& env) {
    const v1::SavePartials& sp = env.save_partials();
    const std::string& worker = sp.worker_id();
    if (worker.empty() || worker.find('\0') != std::string::npos)
        return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                      "SavePartials needs a worker_id without NUL bytes");
    StoreBatch wb;
    std::unordered_set<std::string> kept;
    for (const v1::InFlightGroup& g : sp.groups()) {
        const std::string& id = g.prompt().group_id();
        if (id.empty() || id.find('\0') != std::string::npos)
            return reject(
                req, v1::ERROR_CODE_INVALID_ARGUMENT,
                "in-flight group of prompt '" + g.prompt().prompt_id() + "' has no usable group_id");
        if (!kept.insert(id).second)
            return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "in-flight group " + id + " saved twice");
        wb.put_partial(worker, id, g.SerializeAsString());
    }
    uint32_t removed = 0;
    store.scan_partials(worker, [&](const std::string&, const std::string& group, const std::string&) {
        if (!kept.count(group)) {
            wb.delete_partial(worker, group);
            ++removed;
        }
    });
    // Synced like a put: a worker that is told its groups are saved may be killed right after.
    std::string err = store.write(wb, /*must_sync=*/true);
    if (!wb.empty()) ++counters.write_batches;
    if (!err.empty())
        return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed, nothing saved: " + err);
    v1::Envelope out = make_envelope(cfg.job_id);
    out.mutable_save_partials_ack()->set_groups_stored(static_cast<uint32_t>(kept.size()));
    out.mutable_save_partials_ack()->set_groups_removed(removed);
    reply(req, out);
}

void BufferServer::Impl::handle_load_partials(Request& req) {
    v1::Envelope out = make_envelope(cfg.job_id);
    v1::Partials* p = out.mutable_partials();
    uint64_t unreadable = 0;
    store.scan_partials("", [&](const std::string&, const std::string&, const std::string& bytes) {
        if (!p->add_groups()->ParseFromString(bytes)) {
            p->mutable_groups()->RemoveLast();
            ++unreadable;
        }
    });
    if (unreadable) spdlog::warn("buffer: {} unreadable in-flight group records skipped", unreadable);
    reply(req, out);
}

}  // namespace stride
