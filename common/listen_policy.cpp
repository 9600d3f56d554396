// common/listen_policy.cpp: see listen_policy.h.
#include "common/listen_policy.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

bool is_loopback_host(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") return true;
    const std::string h(host);
    in_addr v4{};
    if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}

std::string listen_exposure(const std::string& endpoint) {
    if (endpoint.rfind("inproc://", 0) == 0) return "";
    if (endpoint.rfind("ipc://", 0) == 0) {
        if (endpoint.size() > 6 && endpoint[6] == '@')
            return "an abstract Unix socket (ipc://@...) has no file permissions: any local user can connect";
        return "";
    }
    if (endpoint.rfind("tcp://", 0) != 0)
        return "only tcp:// on a loopback address, ipc:// and inproc:// endpoints are allowed";
    const std::string addr = endpoint.substr(6);
    const size_t colon = addr.rfind(':');
    const std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
    if (is_loopback_host(host)) return "";
    return "'" + host + "' is not a loopback address (127.0.0.1, ::1, localhost)";
}

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& p, const std::string& why) {
    throw Error(what + ": " + p.string() + ": " + why);
}

void make_one(const fs::path& p, const std::string& what) {
    if (::mkdir(p.c_str(), 0700) == 0) {
        if (::chmod(p.c_str(), 0700) != 0) fail(what, p, std::string("chmod 0700: ") + std::strerror(errno));
        return;
    }
    const int err = errno;
    struct stat st;
    if (err != EEXIST && !(::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
        fail(what, p, std::string("cannot create: ") + std::strerror(err));
}

}  // namespace

void make_private_dir(const std::string& path, const std::string& what, bool no_symlink) {
    STRIDE_CHECK(!path.empty(), what + ": empty directory path");
    const fs::path target = fs::path(path).lexically_normal();
    // Parents first: each one this call creates is 0700 too; existing ones are left as they are.
    fs::path prefix;
    for (const auto& part : target) {
        prefix /= part;
        if (part == "/" || part.empty()) continue;
        make_one(prefix, what);
    }
    struct stat st;
    if (no_symlink) {
        if (::lstat(target.c_str(), &st) != 0) fail(what, target, std::strerror(errno));
        if (S_ISLNK(st.st_mode)) fail(what, target, "is a symbolic link; it must be a directory of its own");
    }
    if (::stat(target.c_str(), &st) != 0) fail(what, target, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) fail(what, target, "exists and is not a directory");
    if (st.st_uid != ::geteuid())
        fail(what, target,
             "belongs to another user (uid " + std::to_string(st.st_uid) +
                 "), who could reach what the job "
                 "puts there");
    if ((st.st_mode & 07777) != 0700 && ::chmod(target.c_str(), 0700) != 0)
        fail(what, target, std::string("chmod 0700: ") + std::strerror(errno));
}

}  // namespace stride
