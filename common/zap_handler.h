// common/zap_handler.h: who may talk to a job's sockets (issue #20). libzmq asks the ZAP handler of a
// context (RFC 27, inproc://zeromq.zap.01) about every peer of a CURVE server socket; without one it
// would admit any key. This one admits mechanism CURVE with a public key the job's key set lists
// (CurveKeys::allowed_clients) and refuses the rest with status 400, before any message is read.
// Peers that fail the handshake before ZAP (no CURVE at all, another server key) are seen through a
// socket monitor on each server socket (watch). Every refusal is counted (refused(), and the metric
// stride_auth_refused_total{reason}) and logged once per peer address, never with a key.
//
// Owned by ZmqContext (common/messaging.h), which creates it when the context has keys.
// Tested by tests/common/test_curve_auth.cpp over real TCP sockets.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/curve_keys.h"

namespace stride {

class ZapHandler {
   public:
    // Binds the context's ZAP endpoint before returning, so no CURVE socket can bind unguarded.
    ZapHandler(void* zmq_ctx, std::shared_ptr<const CurveKeys> keys);
    // Stops the thread and closes its sockets: call before zmq_ctx_term.
    ~ZapHandler();
    ZapHandler(const ZapHandler&) = delete;
    ZapHandler& operator=(const ZapHandler&) = delete;

    // Counts the failed handshakes of a socket that serves with CURVE.
    void watch(void* server_socket);
    // Peers refused so far, for any reason.
    uint64_t refused() const { return refused_; }

   private:
    void serve();
    void answer_zap();
    void read_monitor(void* monitor);
    void refuse(const std::string& reason, const std::string& peer);

    void* ctx_;
    std::vector<std::string> allowed_;  // 32-byte binary public keys
    void* zap_ = nullptr;               // REP, inproc://zeromq.zap.01
    std::mutex mu_;
    std::vector<void*> new_monitors_;  // PAIR sockets connected by watch(), handed to the thread
    std::vector<void*> monitors_;      // thread only
    std::set<std::string> logged_;     // thread only: "reason peer" already logged
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> refused_{0};
    std::atomic<uint64_t> next_monitor_{0};
    std::thread thread_;
};

}  // namespace stride
