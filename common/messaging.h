// common/messaging.h: ZeroMQ plumbing shared by every role. Roles talk only through Envelope
// messages (proto/stride.proto) over ZeroMQ; this file owns the sockets, the framing and the checks
// that every received envelope passes before a role looks at its body.
//
//   ZmqContext / ZmqSocket   RAII over the C API (zmq.h); multipart send/recv with timeouts. A context
//                            made with the job's CurveKeys puts CURVE on every socket of it that binds
//                            or connects beyond inproc:// and admits only the job's keys (ZapHandler).
//   ReplySocket              server side: a ROUTER that remembers who asked, so replies can be sent
//                            later and to many clients (REQ or DEALER peers).
//   RequestClient            client side: one request in flight, "lazy pirate" retry semantics: after
//                            a timeout the socket is thrown away, so a late reply to an old request
//                            can never be mistaken for the answer to a new one.
//   decode_envelope          bytes -> Envelope, rejecting garbage, other jobs and other schema
//                            versions with the ErrorCode to put in the Error reply.
//
// Tested by tests/proto/test_messaging.cpp over real loopback sockets.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/curve_keys.h"
#include "proto/schema.h"
#include "proto/stride.pb.h"

namespace stride {

class ZapHandler;

class ZmqContext {
   public:
    // curve: the job's key set (common/curve_keys.h); null: plain sockets (no authentication).
    explicit ZmqContext(std::shared_ptr<const CurveKeys> curve = nullptr);
    ~ZmqContext();
    ZmqContext(const ZmqContext&) = delete;
    ZmqContext& operator=(const ZmqContext&) = delete;
    void* get() const { return ctx_; }
    const CurveKeys* curve() const { return curve_.get(); }
    ZapHandler* zap() const { return zap_.get(); }
    // Peers its CURVE sockets refused (0 without keys).
    uint64_t auth_refused() const;

   private:
    void* ctx_;
    std::shared_ptr<const CurveKeys> curve_;
    std::unique_ptr<ZapHandler> zap_;
};

class ZmqSocket {
   public:
    // type: ZMQ_REQ, ZMQ_ROUTER, ... Linger is 0: a closing socket drops what it has not sent, so a
    // role never hangs on exit waiting for a dead peer.
    ZmqSocket(ZmqContext& ctx, int type);
    ~ZmqSocket();
    ZmqSocket(ZmqSocket&& other) noexcept;
    ZmqSocket& operator=(ZmqSocket&& other) noexcept;
    ZmqSocket(const ZmqSocket&) = delete;
    ZmqSocket& operator=(const ZmqSocket&) = delete;

    // Both throw stride::Error naming the endpoint. With the context's keys, beyond inproc://, bind
    // serves with CURVE (peers admitted by the ZAP handler) and connect presents the client key.
    void bind(const std::string& endpoint);
    void connect(const std::string& endpoint);
    void set_int(int option, int value);
    void set_int64(int option, int64_t value);
    // The endpoint actually bound (resolves "tcp://127.0.0.1:*" to the chosen port).
    std::string last_endpoint() const;

    // One multipart message. false: not sendable within timeout_ms (no peer, high-water mark).
    bool send_frames(const std::vector<std::string>& frames, int timeout_ms);
    // One multipart message; nullopt when nothing arrives within timeout_ms (0 = do not wait).
    std::optional<std::vector<std::string>> recv_frames(int timeout_ms);
    void* get() const { return sock_; }

   private:
    void close();
    void set_text(int option, const std::string& value);
    ZmqContext* ctx_ = nullptr;
    void* sock_ = nullptr;
};

// ---- envelopes ----------------------------------------------------------------------------------

// An empty envelope of this job at the current schema version; set one body field and send.
v1::Envelope make_envelope(const std::string& job_id);
v1::Envelope make_error(const std::string& job_id, v1::ErrorCode code, const std::string& message,
                        uint32_t retry_after_ms = 0);
std::string encode_envelope(const v1::Envelope& envelope);

// Why bytes were not accepted; code == ERROR_CODE_UNSPECIFIED means accepted.
struct EnvelopeCheck {
    v1::ErrorCode code = v1::ERROR_CODE_UNSPECIFIED;
    std::string message;  // safe to send back: never names this role's job id
    // The job id the sender claimed, when the envelope parsed at our schema version (empty otherwise).
    std::string peer_job_id;
    bool ok() const { return code == v1::ERROR_CODE_UNSPECIFIED; }
};

// Parses bytes into *out and checks job id, schema version and that a body is set. A check failure
// leaves *out unspecified.
EnvelopeCheck decode_envelope(std::string_view bytes, const std::string& job_id, v1::Envelope* out);

// The Error reply to a request that failed decode_envelope. It carries the sender's own claimed job
// id (empty when the request did not parse), never this role's: the job id is what a peer must know
// to be served, so a wrong-job or malformed request learns nothing from the answer.
v1::Envelope make_rejection(const EnvelopeCheck& check);

// ---- request / reply ----------------------------------------------------------------------------

struct Request {
    std::vector<std::string> route;  // routing frames to echo (peer identity, REQ delimiter)
    std::string payload;             // the last frame
};

class ReplySocket {
   public:
    // max_message_bytes bounds what a peer can make us allocate (ZMQ_MAXMSGSIZE; larger messages
    // drop the connection). 0 = no bound.
    ReplySocket(ZmqContext& ctx, const std::string& bind_endpoint, int64_t max_message_bytes = 0);
    std::optional<Request> recv(int timeout_ms);
    bool reply(const Request& to, const std::string& payload);
    std::string endpoint() const { return endpoint_; }

   private:
    ZmqSocket sock_;
    std::string endpoint_;
};

class RequestClient {
   public:
    RequestClient(ZmqContext& ctx, std::string endpoint, std::string job_id);
    // Sends request and waits for the reply. nullopt on timeout (the socket is then rebuilt, so it
    // is safe to call again). A reply that fails decode_envelope comes back as an Error envelope.
    // With `stop`: once *stop is true the call waits at most stop_grace_ms more (checked every few
    // ms), so a caller that is shutting down is not held for the whole timeout by a dead peer, while a
    // live one still gets to answer.
    std::optional<v1::Envelope> call(const v1::Envelope& request, int timeout_ms,
                                     const std::atomic<bool>* stop = nullptr, int stop_grace_ms = 0);
    // Raw bytes in, raw bytes out: for tests that must send what a well-behaved client never would.
    std::optional<std::string> call_raw(const std::string& payload, int timeout_ms,
                                        const std::atomic<bool>* stop = nullptr, int stop_grace_ms = 0);
    const std::string& job_id() const { return job_id_; }
    const std::string& endpoint() const { return endpoint_; }

   private:
    void reset_socket();
    ZmqContext& ctx_;
    std::string endpoint_;
    std::string job_id_;
    std::optional<ZmqSocket> sock_;
};

}  // namespace stride
