// common/curve_keys.cpp: see curve_keys.h.
#include "common/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base/error.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

constexpr size_t kZ85KeyChars = 40;

std::string errno_text() {
    return std::strerror(errno);
}

// Creates (or truncates) path with mode 0600 whatever the umask, and writes text.
void write_private_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    STRIDE_CHECK(fd >= 0, "cannot write " + path + ": " + errno_text());
    const bool ok =
        ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const std::string why = errno_text();
    ::close(fd);
    STRIDE_CHECK(ok, "cannot write " + path + ": " + why);
}

// The text of a key file that only its owner may read.
std::string read_private_file(const std::string& path) {
    struct stat st {};
    STRIDE_CHECK(::stat(path.c_str(), &st) == 0, path + ": cannot read the CURVE key file: " + errno_text());
    STRIDE_CHECK(S_ISREG(st.st_mode), path + ": a CURVE key file must be a regular file");
    STRIDE_CHECK((st.st_mode & 077) == 0,
                 path + ": a CURVE key file must be readable by its owner only (chmod 600 it)");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trimmed(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string read_key_file(const std::string& path) {
    const std::string key = trimmed(read_private_file(path));
    STRIDE_CHECK(is_z85_key(key),
                 path + ": not a CURVE key (40 Z85 characters, as `stride keys gen` writes)");
    return key;
}

}  // namespace

bool curve_supported() {
    return zmq_has("curve") == 1;
}

bool is_z85_key(const std::string& text) {
    if (text.size() != kZ85KeyChars) return false;
    uint8_t bytes[32];
    return zmq_z85_decode(bytes, text.c_str()) != nullptr;
}

CurveKeys generate_curve_keys() {
    STRIDE_CHECK(curve_supported(),
                 "this libzmq has no CURVE support (install Debian's libzmq5, built with libsodium)");
    char pub[kZ85KeyChars + 1], sec[kZ85KeyChars + 1];
    CurveKeys keys;
    STRIDE_CHECK(zmq_curve_keypair(pub, sec) == 0, "zmq_curve_keypair failed");
    keys.server_public = pub;
    keys.server_secret = sec;
    STRIDE_CHECK(zmq_curve_keypair(pub, sec) == 0, "zmq_curve_keypair failed");
    keys.client_public = pub;
    keys.client_secret = sec;
    keys.allowed_clients = {keys.client_public};
    return keys;
}

void write_curve_keys(const std::string& dir, const CurveKeys& keys) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    STRIDE_CHECK(!ec, "cannot create the key directory " + dir + ": " + ec.message());
    STRIDE_CHECK(::chmod(dir.c_str(), 0700) == 0, "cannot make " + dir + " owner-only: " + errno_text());
    write_private_file(dir + "/server.key", keys.server_public + "\n");
    write_private_file(dir + "/server.key_secret", keys.server_secret + "\n");
    write_private_file(dir + "/client.key", keys.client_public + "\n");
    write_private_file(dir + "/client.key_secret", keys.client_secret + "\n");
    std::string clients;
    for (const std::string& k : keys.allowed_clients) clients += k + "\n";
    write_private_file(dir + "/clients", clients);
}

CurveKeys read_curve_keys(const std::string& dir) {
    CurveKeys keys;
    keys.server_public = read_key_file(dir + "/server.key");
    keys.server_secret = read_key_file(dir + "/server.key_secret");
    keys.client_public = read_key_file(dir + "/client.key");
    keys.client_secret = read_key_file(dir + "/client.key_secret");
    const std::string path = dir + "/clients";
    std::istringstream lines(read_private_file(path));
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
        line = trimmed(line);
        if (line.empty() || line[0] == '#') continue;
        STRIDE_CHECK(is_z85_key(line), path + ":" + std::to_string(n) + ": not a CURVE public key");
        keys.allowed_clients.push_back(line);
    }
    STRIDE_CHECK(!keys.allowed_clients.empty(), path + ": lists no client key, so no role could connect");
    return keys;
}

}  // namespace stride
