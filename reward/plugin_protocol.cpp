#include "reward/plugin_protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace stride::plugin_wire {

namespace {

// Frames above this are a bug or a corrupt stream, not a sample: refuse rather than allocate.
constexpr uint32_t kMaxFrame = 256u << 20;

using Clock = std::chrono::steady_clock;

// Reads exactly n bytes before the deadline (none when !has_deadline).
RecvResult read_exact(int fd, char* out, size_t n, bool has_deadline, Clock::time_point deadline) {
    while (n > 0) {
        int wait_ms = -1;
        if (has_deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return RecvResult::timeout;
            wait_ms = static_cast<int>(left.count());
        }
        pollfd p{fd, POLLIN, 0};
        int rc = poll(&p, 1, wait_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return RecvResult::closed;
        if (rc == 0) return RecvResult::timeout;
        ssize_t got = read(fd, out, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return RecvResult::closed;
        out += got;
        n -= static_cast<size_t>(got);
    }
    return RecvResult::ok;
}

}  // namespace

void Writer::str(const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    buf_.append(reinterpret_cast<const char*>(&n), sizeof n);
    buf_.append(s);
}

bool Reader::take(void* out, size_t n) {
    if (!ok_ || buf_.size() - pos_ < n) {
        ok_ = false;
        std::memset(out, 0, n);
        return false;
    }
    std::memcpy(out, buf_.data() + pos_, n);
    pos_ += n;
    return true;
}

uint8_t Reader::u8() {
    uint8_t v;
    take(&v, 1);
    return v;
}

double Reader::f64() {
    double v;
    take(&v, sizeof v);
    return v;
}

std::string Reader::str() {
    uint32_t n;
    if (!take(&n, sizeof n) || buf_.size() - pos_ < n) {
        ok_ = false;
        return {};
    }
    std::string s = buf_.substr(pos_, n);
    pos_ += n;
    return s;
}

bool send_frame(int fd, const std::string& payload) {
    uint32_t n = static_cast<uint32_t>(payload.size());
    std::string frame(reinterpret_cast<const char*>(&n), sizeof n);
    frame += payload;
    const char* p = frame.data();
    size_t left = frame.size();
    while (left > 0) {
        // MSG_NOSIGNAL: a dead worker must show up as a failed call, not kill the rollout process.
        ssize_t sent = send(fd, p, left, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        p += sent;
        left -= static_cast<size_t>(sent);
    }
    return true;
}

RecvResult recv_frame(int fd, std::string& payload, double timeout_s) {
    bool has_deadline = timeout_s > 0;
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(has_deadline ? timeout_s : 0));
    uint32_t n = 0;
    RecvResult r = read_exact(fd, reinterpret_cast<char*>(&n), sizeof n, has_deadline, deadline);
    if (r != RecvResult::ok) return r;
    if (n > kMaxFrame) return RecvResult::closed;
    payload.resize(n);
    return read_exact(fd, payload.data(), n, has_deadline, deadline);
}

}  // namespace stride::plugin_wire
