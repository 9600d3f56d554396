#include "common/weight_sync.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <string_view>

#include "common/base/crc32c.h"
#include "common/base/error.h"
#include "common/weight_mac.h"

namespace stride {

// A published version: the blob, plus its memory file for workers on the same machine.
struct WeightPublisher::Published : WeightBlob {
    int fd = -1;
    std::string shm_path;  // "/proc/<pid>/fd/<fd>", empty when no memory file could be made
    std::string shm_mac;   // keyed hash of version and bytes (weight_mac.h); empty without keys
    explicit Published(WeightBlob b) : WeightBlob(std::move(b)) {}
    ~Published() {
        if (fd >= 0) close(fd);
    }
};

namespace {

using Clock = std::chrono::steady_clock;

// The blob in a memory file (memfd: no /dev/shm size limit, gone when the last descriptor closes).
// Best effort: on any failure the version is served through chunks only.
void share_in_memory_file(WeightPublisher::Published& p) {
    const int fd = memfd_create("stride-weights", MFD_CLOEXEC);
    if (fd < 0) return;
    const size_t n = p.bytes.size();
    bool ok = ftruncate(fd, static_cast<off_t>(n)) == 0;
    if (ok && n > 0) {
        void* map = mmap(nullptr, n, PROT_WRITE, MAP_SHARED, fd, 0);
        ok = map != MAP_FAILED;
        if (ok) {
            std::memcpy(map, p.bytes.data(), n);
            munmap(map, n);
        }
    }
    if (!ok) {
        close(fd);
        return;
    }
    p.fd = fd;
    p.shm_path = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
}

// With the job's keys, what came out of the memory file must carry the publisher's keyed hash.
void check_memory_file_mac(const v1::WeightUpdate& update, const std::string& mac_key,
                           const WeightBlob& blob) {
    if (mac_key.empty()) return;
    const std::string got = weight_mac(mac_key, update.version(), blob.bytes.data(), update.total_bytes());
    if (!weight_mac_equal(got, update.shm_mac()))
        throw Error("weight sync: the memory file of version " + std::to_string(update.version()) +
                    " does not match the publisher's keyed hash (BLAKE2b): it was changed after it was "
                    "published; refusing these weights");
}

// Copies a same-host memory file into blob.bytes, checking the whole-blob CRC-32C on the way, and with
// a mac_key the keyed hash the publisher sent (a rewritten file with a fixed-up CRC fails it).
// false when the file cannot be used (another machine, gone, wrong size, not a path of the form a
// publisher makes, not a memfd): fall back to chunks.
bool copy_from_memory_file(const std::string& path, const v1::WeightUpdate& update,
                           const std::string& mac_key, WeightBlob& blob) {
    const uint64_t total = update.total_bytes();
    const uint32_t crc = update.crc32();
    if (!is_weight_shm_path(path)) return false;
    char link[64] = {};
    const ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
    if (n < 7 || std::strncmp(link, "/memfd:", 7) != 0) return false;
    // O_NONBLOCK: a FIFO named in its place must not hang the worker in open().
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == total;
    if (ok && total > 0) {
        void* map = mmap(nullptr, total, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        ok = map != MAP_FAILED;
        if (ok) {
            madvise(map, total, MADV_SEQUENTIAL);
            blob.bytes.resize(total);
            const uint32_t got = crc32c_copy(blob.bytes.data(), map, total);
            munmap(map, total);
            close(fd);
            if (got != crc) throw Error("weight sync: shared-memory copy of the weights failed its checksum");
            check_memory_file_mac(update, mac_key, blob);
            return true;
        }
    }
    close(fd);
    if (ok) check_memory_file_mac(update, mac_key, blob);
    return ok;  // true only for an empty blob here; a failed mapping falls back to chunks
}

}  // namespace

bool is_weight_shm_path(const std::string& path) {
    // A positive decimal without leading zeros, at most 10 digits.
    auto number = [](std::string_view s, bool positive) {
        if (s.empty() || s.size() > 10) return false;
        for (char c : s)
            if (c < '0' || c > '9') return false;
        if (s.size() > 1 && s[0] == '0') return false;
        return !positive || s != "0";
    };
    const std::string_view p(path);
    constexpr std::string_view kProc = "/proc/", kFd = "/fd/";
    if (p.substr(0, kProc.size()) != kProc) return false;
    const std::string_view rest = p.substr(kProc.size());
    const size_t fd = rest.find(kFd);
    if (fd == std::string_view::npos) return false;
    return number(rest.substr(0, fd), true) && number(rest.substr(fd + kFd.size()), false);
}

namespace {

bool send_envelope(void* sock, const std::string& route, const v1::Envelope& env, bool more) {
    const std::string payload = encode_envelope(env);
    if (zmq_send(sock, route.data(), route.size(), ZMQ_SNDMORE) == -1) return false;
    return zmq_send(sock, payload.data(), payload.size(), more ? ZMQ_SNDMORE : 0) != -1;
}

// zmq frees a zero-copy frame through this callback; the hint owns a reference to the blob, so the
// bytes stay valid until zmq has sent them even if a newer version replaces the blob meanwhile.
void release_blob_ref(void*, void* hint) {
    delete static_cast<std::shared_ptr<const WeightPublisher::Published>*>(hint);
}

}  // namespace

// ---- publisher ----------------------------------------------------------------------------------

WeightPublisher::WeightPublisher(std::string job_id, const std::string& endpoint, size_t chunk_bytes,
                                 bool share_memory, std::shared_ptr<const CurveKeys> curve)
    : job_id_(std::move(job_id)),
      chunk_bytes_(chunk_bytes),
      share_memory_(share_memory),
      ctx_(std::move(curve)),
      sock_(ctx_, ZMQ_ROUTER) {
    STRIDE_CHECK(chunk_bytes_ > 0, "weight sync: chunk_bytes must be > 0");
    if (ctx_.curve()) mac_key_ = weight_mac_key(*ctx_.curve());
    sock_.set_int(ZMQ_SNDHWM, 0);  // replies are bounded by the workers' credit windows
    sock_.bind(endpoint);
    endpoint_ = sock_.last_endpoint();
    thread_ = std::thread([this] { serve(); });
}

WeightPublisher::~WeightPublisher() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

uint32_t WeightPublisher::publish(WeightBlob blob) {
    blob.crc32c = crc32c(blob.bytes.data(), blob.bytes.size());
    const uint32_t crc = blob.crc32c;
    blob.chunk_bytes = chunk_bytes_;
    blob.chunk_crc.clear();
    for (size_t off = 0; off < blob.bytes.size(); off += chunk_bytes_)
        blob.chunk_crc.push_back(
            crc32c(blob.bytes.data() + off, std::min(chunk_bytes_, blob.bytes.size() - off)));
    auto published = std::make_shared<Published>(std::move(blob));
    if (share_memory_) share_in_memory_file(*published);
    if (!published->shm_path.empty() && !mac_key_.empty())
        published->shm_mac =
            weight_mac(mac_key_, published->version, published->bytes.data(), published->bytes.size());
    std::shared_ptr<const Published> next = std::move(published);
    std::lock_guard<std::mutex> lock(mu_);
    STRIDE_CHECK(!latest_ || next->version > latest_->version,
                 "weight sync: published version " + std::to_string(next->version) + " is not newer than " +
                     std::to_string(latest_->version));
    previous_ = std::move(latest_);
    latest_ = std::move(next);
    return crc;
}

int64_t WeightPublisher::latest_version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_ ? latest_->version : -1;
}

void WeightPublisher::serve() {
    void* sock = sock_.get();
    while (!stop_) {
        auto frames = sock_.recv_frames(50);
        if (!frames) continue;
        if (frames->size() != 2) {  // [identity][envelope]; anything else is not ours
            ++rejected_;
            continue;
        }
        const std::string& route = (*frames)[0];
        v1::Envelope req;
        EnvelopeCheck check = decode_envelope((*frames)[1], job_id_, &req);
        if (!check.ok()) {
            ++rejected_;
            send_envelope(sock, route, make_rejection(check), false);  // never tells a stranger our job id
            continue;
        }
        std::shared_ptr<const Published> latest, previous;
        {
            std::lock_guard<std::mutex> lock(mu_);
            latest = latest_;
            previous = previous_;
        }
        if (req.has_heartbeat()) {
            v1::Envelope reply = make_envelope(job_id_);
            v1::WeightUpdate* u = reply.mutable_weight_update();
            u->set_version(latest ? latest->version : -1);
            u->set_endpoint(endpoint_);
            if (latest) {
                for (const auto& t : latest->tensors) *u->add_tensors() = t;
                u->set_total_bytes(latest->bytes.size());
                u->set_crc32(latest->crc32c);
                u->set_shm_path(latest->shm_path);
                u->set_shm_mac(latest->shm_mac);
                u->set_nccl(latest->nccl_generation >= 0);
                u->set_nccl_generation(latest->nccl_generation);
            }
            send_envelope(sock, route, reply, false);
        } else if (req.has_weight_chunk()) {
            const v1::WeightChunk& want = req.weight_chunk();
            std::shared_ptr<const Published> blob;
            if (latest && latest->version == want.version())
                blob = latest;
            else if (previous && previous->version == want.version())
                blob = previous;
            if (!blob || want.offset() >= blob->bytes.size() || want.offset() % blob->chunk_bytes != 0) {
                ++rejected_;
                send_envelope(sock, route,
                              make_error(job_id_, v1::ERROR_CODE_INVALID_ARGUMENT,
                                         "weight version " + std::to_string(want.version()) + " offset " +
                                             std::to_string(want.offset()) + " is not held"),
                              false);
                continue;
            }
            const size_t n = std::min(chunk_bytes_, blob->bytes.size() - want.offset());
            const char* data = blob->bytes.data() + want.offset();
            v1::Envelope reply = make_envelope(job_id_);
            v1::WeightChunk* c = reply.mutable_weight_chunk();
            c->set_version(blob->version);
            c->set_offset(want.offset());
            c->set_crc32(blob->chunk_crc[want.offset() / blob->chunk_bytes]);
            if (!send_envelope(sock, route, reply, true)) continue;
            zmq_msg_t msg;
            auto* ref = new std::shared_ptr<const Published>(blob);
            zmq_msg_init_data(&msg, const_cast<char*>(data), n, release_blob_ref, ref);
            if (zmq_msg_send(&msg, sock, 0) == -1) zmq_msg_close(&msg);
            ++chunks_served_;
        } else {
            ++rejected_;
            send_envelope(sock, route,
                          make_error(job_id_, v1::ERROR_CODE_UNKNOWN_BODY,
                                     "the weight publisher serves Heartbeat and WeightChunk requests"),
                          false);
        }
    }
}

// ---- subscriber ---------------------------------------------------------------------------------

WeightSubscriber::WeightSubscriber(std::string job_id, const std::string& endpoint, int window,
                                   bool use_shared_memory, std::shared_ptr<const CurveKeys> curve)
    : job_id_(std::move(job_id)),
      endpoint_(endpoint),
      window_(window),
      use_shm_(use_shared_memory),
      ctx_(std::move(curve)) {
    STRIDE_CHECK(window_ >= 1, "weight sync: window must be >= 1");
    if (ctx_.curve()) mac_key_ = weight_mac_key(*ctx_.curve());
    reset_socket();
}

void WeightSubscriber::reset_socket() {
    // A fresh socket after any failure: replies to abandoned requests must never be read as answers.
    sock_.reset();
    sock_.emplace(ctx_, ZMQ_DEALER);
    sock_->set_int(ZMQ_RCVHWM, 0);
    sock_->connect(endpoint_);
}

std::optional<v1::WeightUpdate> WeightSubscriber::latest(int timeout_ms) {
    v1::Envelope req = make_envelope(job_id_);
    req.mutable_heartbeat()->set_role(v1::ROLE_ROLLOUT);
    if (!sock_->send_frames({encode_envelope(req)}, timeout_ms)) {
        reset_socket();
        return std::nullopt;
    }
    auto frames = sock_->recv_frames(timeout_ms);
    if (!frames || frames->size() != 1) {
        reset_socket();
        return std::nullopt;
    }
    v1::Envelope reply;
    EnvelopeCheck check = decode_envelope((*frames)[0], job_id_, &reply);
    STRIDE_CHECK(check.ok(), "weight sync: bad reply from " + endpoint_ + ": " + check.message);
    STRIDE_CHECK(!reply.has_error(), "weight sync: " + endpoint_ + " refused: " + reply.error().message());
    STRIDE_CHECK(reply.has_weight_update(),
                 "weight sync: " + endpoint_ + " did not answer with a WeightUpdate");
    last_answer_ = std::chrono::steady_clock::now();
    return reply.weight_update();
}

std::optional<WeightBlob> WeightSubscriber::fetch_if_newer(int64_t have_version, int timeout_ms,
                                                           WeightFetchStats* stats) {
    WeightBlob blob;
    if (!fetch_if_newer(have_version, timeout_ms, blob, stats)) return std::nullopt;
    return blob;
}

namespace {

// One received frame, read in place from zmq's buffer (no intermediate std::string).
struct Frame {
    zmq_msg_t msg;
    Frame() { zmq_msg_init(&msg); }
    ~Frame() { zmq_msg_close(&msg); }
    const char* data() { return static_cast<const char*>(zmq_msg_data(&msg)); }
    size_t size() { return zmq_msg_size(&msg); }
};

}  // namespace

bool WeightSubscriber::fetch_if_newer(int64_t have_version, int timeout_ms, WeightBlob& blob,
                                      WeightFetchStats* stats) {
    auto update = latest(timeout_ms);
    if (!update || update->version() <= have_version) return false;
    if (skip_ && skip_(*update)) return false;  // it arrives another way (the NCCL group)
    const auto t0 = Clock::now();
    const uint64_t total = update->total_bytes();
    blob.version = -1;  // not usable until the last chunk checks out
    blob.tensors.assign(update->tensors().begin(), update->tensors().end());
    blob.bytes.resize(total);
    blob.crc32c = update->crc32();
    const int64_t version = update->version();
    // With keys, a memory file without the publisher's keyed hash is not taken: chunks instead.
    const bool shm_checkable = mac_key_.empty() || !update->shm_mac().empty();
    if (use_shm_ && shm_checkable && !update->shm_path().empty() &&
        copy_from_memory_file(update->shm_path(), *update, mac_key_, blob)) {
        blob.version = update->version();
        if (stats) {
            stats->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            stats->bytes = total;
            stats->chunks = 0;
            stats->shared_memory = true;
        }
        return true;
    }
    auto fail = [&](const std::string& why) -> Error {
        reset_socket();
        return Error("weight sync: version " + std::to_string(version) + " from " + endpoint_ + ": " + why);
    };

    // Credit-based pipelining (the zguide's file-transfer pattern): keep `window_` chunk requests in
    // flight; the chunk size is the publisher's, learnt from the first reply.
    uint64_t next_offset = 0, received = 0, chunk = 0, chunks = 0;
    auto request = [&](uint64_t offset) {
        v1::Envelope req = make_envelope(job_id_);
        req.mutable_weight_chunk()->set_version(version);
        req.mutable_weight_chunk()->set_offset(offset);
        if (!sock_->send_frames({encode_envelope(req)}, timeout_ms))
            throw fail("cannot send a chunk request");
    };
    if (total > 0) request(0);
    void* sock = sock_->get();
    while (received < total) {
        zmq_pollitem_t item{sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout_ms) <= 0) throw fail("the publisher stopped answering");
        Frame head, body;
        if (zmq_msg_recv(&head.msg, sock, 0) == -1) throw fail("receive failed");
        v1::Envelope reply;
        EnvelopeCheck check = decode_envelope(std::string_view(head.data(), head.size()), job_id_, &reply);
        if (!check.ok()) throw fail(check.message);
        if (reply.has_error()) throw fail(reply.error().message());
        if (!reply.has_weight_chunk() || !zmq_msg_more(&head.msg)) throw fail("unexpected reply");
        if (zmq_msg_recv(&body.msg, sock, 0) == -1) throw fail("receive failed");
        const v1::WeightChunk& c = reply.weight_chunk();
        const size_t n = body.size();
        if (chunk == 0) chunk = n;  // the first reply is for offset 0 and carries a full chunk
        // Requests go out in offset order and zmq keeps order per connection, so chunk k arrives k-th:
        // this check also proves every byte arrived exactly once.
        if (c.version() != version || c.offset() != received || n == 0 || received + n > total ||
            (received + n < total && n != chunk))
            throw fail("chunk at offset " + std::to_string(c.offset()) + " is out of order or out of bounds");
        if (crc32c_copy(blob.bytes.data() + received, body.data(), n) != c.crc32())
            throw fail("chunk at offset " + std::to_string(c.offset()) + " failed its checksum");
        received += n;
        ++chunks;
        if (chunks == 1) {
            next_offset = chunk;
            for (int i = 0; i < window_ && next_offset < total; ++i, next_offset += chunk)
                request(next_offset);
        } else if (next_offset < total) {
            request(next_offset);
            next_offset += chunk;
        }
    }
    blob.version = version;
    if (stats) {
        stats->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        stats->bytes = total;
        stats->chunks = chunks;
    }
    return true;
}

}  // namespace stride
