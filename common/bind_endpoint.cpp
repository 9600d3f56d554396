// common/bind_endpoint.cpp: see bind_endpoint.h.
#include "common/bind_endpoint.h"

#include <cstdlib>

#include "common/base/error.h"
#include "common/listen_policy.h"

namespace stride {

namespace {

struct TcpParts {
    std::string host, port;
};

// tcp://HOST:PORT split at the last colon (HOST may be a bracketed IPv6 address).
bool split_tcp(const std::string& endpoint, TcpParts* out) {
    if (endpoint.rfind("tcp://", 0) != 0) return false;
    const std::string addr = endpoint.substr(6);
    const size_t colon = addr.rfind(':');
    if (colon == std::string::npos) return false;
    out->host = addr.substr(0, colon);
    out->port = addr.substr(colon + 1);
    return true;
}

bool valid_port(const std::string& port) {
    if (port == "*") return true;
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
        return false;
    const long n = std::strtol(port.c_str(), nullptr, 10);
    return n >= 1 && n <= 65535;
}

}  // namespace

std::string endpoint_shape_error(const std::string& endpoint) {
    if (endpoint.rfind("ipc://", 0) == 0) return endpoint.size() > 6 ? "" : "ipc:// needs a socket path";
    if (endpoint.rfind("inproc://", 0) == 0) return endpoint.size() > 9 ? "" : "inproc:// needs a name";
    TcpParts t;
    if (!split_tcp(endpoint, &t)) return "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME";
    if (t.host.empty()) return "tcp:// needs a host (an address, a name, or * for every interface)";
    if (!valid_port(t.port)) return "port '" + t.port + "' is not a number in 1..65535 or *";
    return "";
}

bool is_wildcard_bind(const std::string& endpoint) {
    TcpParts t;
    if (!split_tcp(endpoint, &t)) return false;
    return t.host == "*" || t.host == "0.0.0.0" || t.host == "[::]" || t.host == "::";
}

bool is_any_port(const std::string& endpoint) {
    TcpParts t;
    return split_tcp(endpoint, &t) && t.port == "*";
}

std::string advertised_endpoint(const std::string& bound, const std::string& host) {
    if (!is_wildcard_bind(bound)) return bound;
    TcpParts t;
    split_tcp(bound, &t);
    const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
    return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + t.port;
}

void check_bind_key(const std::string& key, const std::string& endpoint, bool unauthenticated,
                    const std::string& launcher) {
    if (endpoint.empty()) return;
    const std::string shape = endpoint_shape_error(endpoint);
    STRIDE_CHECK(shape.empty(), key + ": '" + endpoint + "': " + shape);
    const std::string why = listen_exposure(endpoint);
    STRIDE_CHECK(why.empty() || unauthenticated,
                 key + ": '" + endpoint + "' would accept connections from other machines or users: " + why +
                     ". Give the job CURVE keys (network.keys_dir from `stride keys gen DIR`, or "
                     "network.auth=curve), or set network.unauthenticated=true to bind it anyway, only on a "
                     "network where every host is trusted");
    if (launcher != "processes") return;
    STRIDE_CHECK(endpoint.rfind("inproc://", 0) != 0,
                 key + ": inproc:// endpoints cannot cross processes (launcher = processes)");
    STRIDE_CHECK(!is_any_port(endpoint),
                 key + ": '" + endpoint +
                     "': launcher = processes finds every endpoint from the config alone, so it needs a "
                     "port number, not *");
}

}  // namespace stride
