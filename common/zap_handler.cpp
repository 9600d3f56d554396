// common/zap_handler.cpp: see zap_handler.h.
#include "common/zap_handler.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <cstring>

#include "common/base/error.h"
#include "common/metrics.h"

namespace stride {

namespace {

constexpr int kPollMs = 50;  // how often the thread looks at stop_ and new monitors
constexpr size_t kMaxLoggedPeers = 1024;
constexpr int kHandshakeEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;

// The frames of one message; empty when none is waiting.
std::vector<std::string> recv_all(void* sock) {
    std::vector<std::string> frames;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&msg);
            return frames;
        }
        frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        const bool more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
        if (!more) return frames;
    }
}

void send_all(void* sock, const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i)
        zmq_send(sock, frames[i].data(), frames[i].size(), i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
}

Counter& refusals(const std::string& reason) {
    return MetricsRegistry::global()
        .counter("stride_auth_refused", "peers refused before any message was read (issue #20)", {"reason"})
        .with({reason});
}

}  // namespace

ZapHandler::ZapHandler(void* zmq_ctx, std::shared_ptr<const CurveKeys> keys) : ctx_(zmq_ctx) {
    STRIDE_CHECK(keys != nullptr, "ZapHandler: no key set");
    for (const std::string& z85 : keys->allowed_clients) {
        std::string bin(32, '\0');
        STRIDE_CHECK(zmq_z85_decode(reinterpret_cast<uint8_t*>(bin.data()), z85.c_str()) != nullptr,
                     "ZapHandler: an allowed client key is not Z85");
        allowed_.push_back(bin);
    }
    zap_ = zmq_socket(ctx_, ZMQ_REP);
    STRIDE_CHECK(zap_ != nullptr, std::string("ZAP socket: ") + zmq_strerror(zmq_errno()));
    const int linger = 0;
    zmq_setsockopt(zap_, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(zap_, "inproc://zeromq.zap.01") != 0) {
        const std::string why = zmq_strerror(zmq_errno());
        zmq_close(zap_);
        throw Error("cannot bind the ZAP handler (one per ZeroMQ context): " + why);
    }
    thread_ = std::thread([this] { serve(); });
}

ZapHandler::~ZapHandler() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (void* m : monitors_) zmq_close(m);
    for (void* m : new_monitors_) zmq_close(m);
    zmq_close(zap_);
}

void ZapHandler::watch(void* server_socket) {
    const std::string endpoint = "inproc://stride-auth-monitor-" + std::to_string(next_monitor_++);
    STRIDE_CHECK(zmq_socket_monitor(server_socket, endpoint.c_str(), kHandshakeEvents) == 0,
                 "zmq_socket_monitor: " + std::string(zmq_strerror(zmq_errno())));
    // Connected here, read by the thread: a socket may change threads across a full barrier (mu_).
    void* pair = zmq_socket(ctx_, ZMQ_PAIR);
    STRIDE_CHECK(pair != nullptr, "monitor socket: " + std::string(zmq_strerror(zmq_errno())));
    const int linger = 0;
    zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof(linger));
    STRIDE_CHECK(zmq_connect(pair, endpoint.c_str()) == 0,
                 "monitor connect: " + std::string(zmq_strerror(zmq_errno())));
    std::lock_guard<std::mutex> lock(mu_);
    new_monitors_.push_back(pair);
}

void ZapHandler::serve() {
    while (!stop_) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            monitors_.insert(monitors_.end(), new_monitors_.begin(), new_monitors_.end());
            new_monitors_.clear();
        }
        std::vector<zmq_pollitem_t> items;
        items.push_back({zap_, 0, ZMQ_POLLIN, 0});
        for (void* m : monitors_) items.push_back({m, 0, ZMQ_POLLIN, 0});
        if (zmq_poll(items.data(), static_cast<int>(items.size()), kPollMs) <= 0) continue;
        if (items[0].revents & ZMQ_POLLIN) answer_zap();
        for (size_t i = 1; i < items.size(); ++i)
            if (items[i].revents & ZMQ_POLLIN) read_monitor(monitors_[i - 1]);
    }
}

// RFC 27: version, request id, domain, address, identity, mechanism, credentials...
void ZapHandler::answer_zap() {
    const std::vector<std::string> req = recv_all(zap_);
    if (req.size() < 6) {
        // Not a ZAP request: a REP socket must still answer before it can read the next one.
        send_all(zap_, {"1.0", "", "500", "malformed ZAP request", "", ""});
        return;
    }
    const std::string& address = req[3];
    const std::string& mechanism = req[5];
    bool ok = false;
    if (mechanism == "CURVE" && req.size() >= 7)
        for (const std::string& key : allowed_)
            if (req[6] == key) ok = true;
    if (!ok) refuse(mechanism == "CURVE" ? "key" : "mechanism", address);
    send_all(zap_, {req[0], req[1], ok ? "200" : "400", ok ? "OK" : "not a key of this job", "", ""});
}

// Monitor events: [uint16 event, uint32 value][endpoint].
void ZapHandler::read_monitor(void* monitor) {
    const std::vector<std::string> ev = recv_all(monitor);
    if (ev.size() < 2 || ev[0].size() < 2) return;
    uint16_t event = 0;
    std::memcpy(&event, ev[0].data(), sizeof(event));
    if (event & kHandshakeEvents) refuse("handshake", ev[1]);
}

void ZapHandler::refuse(const std::string& reason, const std::string& peer) {
    ++refused_;
    refusals(reason).inc();
    // Once per peer; a bounded set, so a flood from many addresses cannot grow it without end.
    if (logged_.size() >= kMaxLoggedPeers || !logged_.insert(reason + " " + peer).second) return;
    // A monitor event names our endpoint (libzmq does not say who failed there); ZAP names the peer.
    if (reason == "handshake")
        spdlog::warn(
            "refused a peer connecting to {}: it failed the CURVE handshake (no keys, or another "
            "job's); counted in stride_auth_refused_total, logged once per endpoint",
            peer);
    else
        spdlog::warn(
            "refused a peer at {}: its CURVE key is not one of this job's ({}); counted in "
            "stride_auth_refused_total, logged once per address",
            peer, reason);
}

}  // namespace stride
