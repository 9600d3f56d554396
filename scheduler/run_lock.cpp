// scheduler/run_lock.cpp: see run_lock.h.
#include "scheduler/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/base/error.h"

namespace stride {

namespace {

std::string read_small(int fd) {
    char buf[64] = {};
    const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

RunLock::RunLock(const std::string& run_path) {
    const std::string path = run_path + "/job.lock";
    // No O_CLOEXEC: the role processes inherit the descriptor, and with it the lock.
    fd_ = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd_ < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string holder = read_small(fd_);
        close(fd_);
        fd_ = -1;
        if (err != EWOULDBLOCK) throw Error("cannot lock " + path + ": " + std::strerror(err));
        throw Error(run_path + " is in use by another run of this job: stride pid " +
                    (holder.empty() ? std::string("?") : holder) +
                    " (or a role process it started, still finishing) holds " + path +
                    "; stop it first (a role ends when its launcher does)");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
        throw Error("cannot write " + path + ": " + std::strerror(errno));
}

RunLock::~RunLock() {
    if (fd_ >= 0) close(fd_);  // the lock ends with the last process holding the descriptor
}

}  // namespace stride
