// tests/fuzz/fuzz_peer.h: what the fuzz targets of the message handlers (buffer, registry, prompt
// dispatcher, weight serve loop) share. Each starts the real server once, on loopback TCP, and sends
// it every input as one request from a peer of its own; then another peer sends a request the server
// must answer (the probe). Whatever the input, the server must go on answering within kAnswerMs, and
// every reply it sends must be an envelope. Anything else is a bug: a std::runtime_error, which the
// harness (tests/fuzz/test_fuzz.cpp, or libFuzzer) reports as a crash of the target.
#pragma once
#include <zmq.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/messaging.h"

namespace stride::fuzz {

inline constexpr int kAnswerMs = 10000;
inline constexpr char kJob[] = "job";  // the job id of the seeds and servers

// A private scratch directory, removed with everything in it when the harness ends.
class ScratchDir {
   public:
    explicit ScratchDir(const std::string& name) {
        const char* tmp = std::getenv("TMPDIR");
        path_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/stride-fuzz-" + name + "-XXXXXX";
        if (!mkdtemp(path_.data())) throw std::runtime_error("fuzz: mkdtemp " + path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

   private:
    std::string path_;
};

class FuzzPeer {
   public:
    explicit FuzzPeer(const std::string& endpoint) : input_(ctx_, ZMQ_DEALER), probe_(ctx_, ZMQ_DEALER) {
        input_.connect(endpoint);
        probe_.connect(endpoint);
    }

    // Sends `input` as it is, then `probe` (an envelope the server answers), and returns the probe's
    // answer. Replies to earlier inputs that have arrived are checked on the way.
    v1::Envelope exchange(std::string_view input, const v1::Envelope& probe) {
        if (!input_.send_frames({std::string(input)}, kAnswerMs))
            throw std::runtime_error("fuzz: the server takes no more requests");
        drain_input_replies();
        if (!probe_.send_frames({encode_envelope(probe)}, kAnswerMs))
            throw std::runtime_error("fuzz: the server takes no probe");
        auto frames = probe_.recv_frames(kAnswerMs);
        if (!frames) throw std::runtime_error("fuzz: the server stopped answering");
        drain_input_replies();
        return parse_reply(*frames);
    }

   private:
    static v1::Envelope parse_reply(const std::vector<std::string>& frames) {
        v1::Envelope env;
        if (frames.empty() || !env.ParseFromString(frames.front()))
            throw std::runtime_error("fuzz: the server replied with something that is not an envelope");
        return env;
    }
    void drain_input_replies() {
        while (auto frames = input_.recv_frames(0)) (void)parse_reply(*frames);
    }

    ZmqContext ctx_;
    ZmqSocket input_, probe_;
};

}  // namespace stride::fuzz
