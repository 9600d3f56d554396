// common/messaging.cpp: see messaging.h.
#include "common/messaging.h"

#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/base/error.h"
#include "common/zap_handler.h"

namespace stride {

namespace {

std::string zmq_error_text() {
    return zmq_strerror(zmq_errno());
}

// Waits for events on one socket. EINTR (a signal in a test harness or profiler) counts as "not
// ready yet" and the wait continues with the time that is left.
constexpr int kStopSliceMs = 20;  // how often a call with a stop flag looks at it

bool poll_for(void* sock, short events, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        zmq_pollitem_t item{sock, 0, events, 0};
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                .count());
        int rc = zmq_poll(&item, 1, left < 0 ? 0 : left);
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (zmq_errno() != EINTR) throw Error("zmq_poll: " + zmq_error_text());
        if (left <= 0) return false;
    }
}

}  // namespace

// ---- ZmqContext / ZmqSocket --------------------------------------------------------------------

ZmqContext::ZmqContext(std::shared_ptr<const CurveKeys> curve)
    : ctx_(zmq_ctx_new()), curve_(std::move(curve)) {
    STRIDE_CHECK(ctx_ != nullptr, "zmq_ctx_new: " + zmq_error_text());
    if (curve_) {
        STRIDE_CHECK(curve_supported(), "network.auth: this libzmq has no CURVE support");
        zap_ = std::make_unique<ZapHandler>(ctx_, curve_);
    }
}

uint64_t ZmqContext::auth_refused() const {
    return zap_ ? zap_->refused() : 0;
}

ZmqContext::~ZmqContext() {
    zap_.reset();  // its sockets close first, or the termination below would wait for them
    // Sockets close with linger 0, so termination does not block on unsent messages.
    while (zmq_ctx_term(ctx_) == -1 && zmq_errno() == EINTR) {
    }
}

ZmqSocket::ZmqSocket(ZmqContext& ctx, int type) : ctx_(&ctx), sock_(zmq_socket(ctx.get(), type)) {
    STRIDE_CHECK(sock_ != nullptr, "zmq_socket: " + zmq_error_text());
    set_int(ZMQ_LINGER, 0);
}

ZmqSocket::~ZmqSocket() {
    close();
}

ZmqSocket::ZmqSocket(ZmqSocket&& other) noexcept
    : ctx_(other.ctx_), sock_(std::exchange(other.sock_, nullptr)) {}

ZmqSocket& ZmqSocket::operator=(ZmqSocket&& other) noexcept {
    if (this != &other) {
        close();
        ctx_ = other.ctx_;
        sock_ = std::exchange(other.sock_, nullptr);
    }
    return *this;
}

void ZmqSocket::close() {
    if (sock_) zmq_close(sock_);
    sock_ = nullptr;
}

namespace {
// inproc:// never leaves the process: nothing to authenticate.
bool wants_curve(const ZmqContext* ctx, const std::string& endpoint) {
    return ctx && ctx->curve() && endpoint.rfind("inproc://", 0) != 0;
}
}  // namespace

void ZmqSocket::bind(const std::string& endpoint) {
    const bool curve = wants_curve(ctx_, endpoint);
    if (curve) {
        set_int(ZMQ_CURVE_SERVER, 1);
        set_text(ZMQ_CURVE_SECRETKEY, ctx_->curve()->server_secret);
        set_text(ZMQ_ZAP_DOMAIN, "stride");  // a domain makes libzmq consult the ZAP handler
    }
    STRIDE_CHECK(zmq_bind(sock_, endpoint.c_str()) == 0, "cannot bind " + endpoint + ": " + zmq_error_text());
    if (curve) ctx_->zap()->watch(sock_);
    // A Unix socket file: owner-only (its directory should be too, scheduler/roles.cpp), whatever the umask.
    if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() > 6 && endpoint[6] != '@') {
        const std::string bound = last_endpoint();  // ipc://* resolves to a generated path
        STRIDE_CHECK(::chmod(bound.c_str() + 6, 0600) == 0,
                     "cannot make " + bound + " owner-only: " + std::string(std::strerror(errno)));
    }
}

void ZmqSocket::connect(const std::string& endpoint) {
    if (wants_curve(ctx_, endpoint)) {
        set_text(ZMQ_CURVE_SERVERKEY, ctx_->curve()->server_public);
        set_text(ZMQ_CURVE_PUBLICKEY, ctx_->curve()->client_public);
        set_text(ZMQ_CURVE_SECRETKEY, ctx_->curve()->client_secret);
    }
    STRIDE_CHECK(zmq_connect(sock_, endpoint.c_str()) == 0,
                 "cannot connect to " + endpoint + ": " + zmq_error_text());
}

void ZmqSocket::set_int(int option, int value) {
    STRIDE_CHECK(zmq_setsockopt(sock_, option, &value, sizeof(value)) == 0,
                 "zmq_setsockopt(" + std::to_string(option) + "): " + zmq_error_text());
}

void ZmqSocket::set_text(int option, const std::string& value) {
    // Never the value in the message: these are keys.
    STRIDE_CHECK(zmq_setsockopt(sock_, option, value.data(), value.size()) == 0,
                 "zmq_setsockopt(" + std::to_string(option) + "): " + zmq_error_text());
}

void ZmqSocket::set_int64(int option, int64_t value) {
    STRIDE_CHECK(zmq_setsockopt(sock_, option, &value, sizeof(value)) == 0,
                 "zmq_setsockopt(" + std::to_string(option) + "): " + zmq_error_text());
}

std::string ZmqSocket::last_endpoint() const {
    char buf[1024];
    size_t size = sizeof(buf);
    STRIDE_CHECK(zmq_getsockopt(sock_, ZMQ_LAST_ENDPOINT, buf, &size) == 0,
                 "ZMQ_LAST_ENDPOINT: " + zmq_error_text());
    return std::string(buf);  // NUL-terminated by zmq
}

bool ZmqSocket::send_frames(const std::vector<std::string>& frames, int timeout_ms) {
    STRIDE_CHECK(!frames.empty(), "send_frames: a message needs at least one frame");
    if (!poll_for(sock_, ZMQ_POLLOUT, timeout_ms)) return false;
    for (size_t i = 0; i < frames.size(); ++i) {
        int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
        // Once the first frame is accepted, zmq guarantees the rest of a multipart message is too.
        if (zmq_send(sock_, frames[i].data(), frames[i].size(), flags) == -1) {
            if (i == 0 && zmq_errno() == EAGAIN) return false;
            throw Error("zmq_send: " + zmq_error_text());
        }
    }
    return true;
}

std::optional<std::vector<std::string>> ZmqSocket::recv_frames(int timeout_ms) {
    if (!poll_for(sock_, ZMQ_POLLIN, timeout_ms)) return std::nullopt;
    std::vector<std::string> frames;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock_, ZMQ_DONTWAIT) == -1) {
            int err = zmq_errno();
            zmq_msg_close(&msg);
            if (err == EAGAIN && frames.empty()) return std::nullopt;  // poll raced with nothing
            throw Error("zmq_msg_recv: " + std::string(zmq_strerror(err)));
        }
        frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        bool more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
        if (!more) return frames;
    }
}

// ---- envelopes ---------------------------------------------------------------------------------

v1::Envelope make_envelope(const std::string& job_id) {
    v1::Envelope e;
    e.set_job_id(job_id);
    e.set_schema_version(kSchemaVersion);
    return e;
}

v1::Envelope make_error(const std::string& job_id, v1::ErrorCode code, const std::string& message,
                        uint32_t retry_after_ms) {
    v1::Envelope e = make_envelope(job_id);
    v1::Error* err = e.mutable_error();
    err->set_code(code);
    err->set_message(message);
    err->set_retry_after_ms(retry_after_ms);
    return e;
}

std::string encode_envelope(const v1::Envelope& envelope) {
    std::string bytes;
    STRIDE_CHECK(envelope.SerializeToString(&bytes), "cannot serialize envelope");
    return bytes;
}

EnvelopeCheck decode_envelope(std::string_view bytes, const std::string& job_id, v1::Envelope* out) {
    if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return {v1::ERROR_CODE_MALFORMED,
                "message of " + std::to_string(bytes.size()) + " bytes is not a stride.v1.Envelope"};
    // Schema first: a peer of another schema may put the job id elsewhere.
    if (out->schema_version() != kSchemaVersion)
        return {v1::ERROR_CODE_WRONG_SCHEMA_VERSION,
                "schema version " + std::to_string(out->schema_version()) + ", this role speaks " +
                    std::to_string(kSchemaVersion) + " (rebuild the peer from the same release)"};
    // The message goes back to the sender: it names their job id (cut short), never ours.
    if (out->job_id() != job_id) {
        const std::string theirs =
            out->job_id().size() > 64 ? out->job_id().substr(0, 64) + "..." : out->job_id();
        return {v1::ERROR_CODE_WRONG_JOB, "job id '" + theirs + "' is not the job this role serves",
                out->job_id()};
    }
    if (out->body_case() == v1::Envelope::BODY_NOT_SET)
        return {v1::ERROR_CODE_UNKNOWN_BODY, "envelope has no body (or one from a newer schema)",
                out->job_id()};
    return {};
}

v1::Envelope make_rejection(const EnvelopeCheck& check) {
    return make_error(check.peer_job_id, check.code, check.message);
}

// ---- request / reply ---------------------------------------------------------------------------

ReplySocket::ReplySocket(ZmqContext& ctx, const std::string& bind_endpoint, int64_t max_message_bytes)
    : sock_(ctx, ZMQ_ROUTER) {
    if (max_message_bytes > 0) sock_.set_int64(ZMQ_MAXMSGSIZE, max_message_bytes);
    sock_.bind(bind_endpoint);
    endpoint_ = sock_.last_endpoint();
}

std::optional<Request> ReplySocket::recv(int timeout_ms) {
    auto frames = sock_.recv_frames(timeout_ms);
    if (!frames) return std::nullopt;
    Request r;
    r.payload = std::move(frames->back());
    frames->pop_back();
    r.route = std::move(*frames);
    return r;
}

bool ReplySocket::reply(const Request& to, const std::string& payload) {
    std::vector<std::string> frames = to.route;
    frames.push_back(payload);
    // A ROUTER never blocks on send: a reply to a peer that went away is dropped by zmq.
    return sock_.send_frames(frames, 0);
}

RequestClient::RequestClient(ZmqContext& ctx, std::string endpoint, std::string job_id)
    : ctx_(ctx), endpoint_(std::move(endpoint)), job_id_(std::move(job_id)) {
    reset_socket();
}

void RequestClient::reset_socket() {
    sock_.reset();
    sock_.emplace(ctx_, ZMQ_REQ);
    // Queue requests only on completed connections: while the server is down a send times out
    // instead of sitting in a pipe and reaching a restarted server long after we gave up on it.
    sock_->set_int(ZMQ_IMMEDIATE, 1);
    sock_->set_int(ZMQ_RECONNECT_IVL, 20);
    sock_->set_int(ZMQ_RECONNECT_IVL_MAX, 500);
    sock_->connect(endpoint_);
}

std::optional<std::string> RequestClient::call_raw(const std::string& payload, int timeout_ms,
                                                   const std::atomic<bool>* stop, int stop_grace_ms) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    bool stopping = false;
    // The time to wait next: all of it without a stop flag, else a short slice; shortened to the
    // grace period the first time the flag is seen set. <= 0: time is up.
    auto next_wait = [&]() -> int {
        if (stop && !stopping && stop->load()) {
            stopping = true;
            deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(stop_grace_ms));
        }
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        return stop ? std::min(left, kStopSliceMs) : left;
    };
    bool sent = false;
    for (int wait = next_wait();; wait = next_wait()) {
        if (sock_->send_frames({payload}, std::max(wait, 0))) {
            sent = true;
            break;
        }
        if (wait <= 0 || Clock::now() >= deadline) break;
    }
    if (!sent) {
        reset_socket();
        return std::nullopt;
    }
    for (int wait = next_wait();; wait = next_wait()) {
        auto frames = sock_->recv_frames(std::max(wait, 0));
        if (frames) return std::move(frames->back());
        if (wait <= 0 || Clock::now() >= deadline) break;
    }
    reset_socket();  // a REQ socket that sent without receiving cannot send again
    return std::nullopt;
}

std::optional<v1::Envelope> RequestClient::call(const v1::Envelope& request, int timeout_ms,
                                                const std::atomic<bool>* stop, int stop_grace_ms) {
    auto bytes = call_raw(encode_envelope(request), timeout_ms, stop, stop_grace_ms);
    if (!bytes) return std::nullopt;
    v1::Envelope reply;
    EnvelopeCheck check = decode_envelope(*bytes, job_id_, &reply);
    if (!check.ok())
        return make_error(job_id_, check.code, "bad reply from " + endpoint_ + ": " + check.message);
    return reply;
}

}  // namespace stride
