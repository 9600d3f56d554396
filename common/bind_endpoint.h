// common/bind_endpoint.h: the endpoint keys a job binds (buffer.endpoint, network.*_bind), their
// checks at load, and the address a peer connects to once one is bound.
#pragma once
#include <string>

namespace stride {

// Why `endpoint` is not a bindable ZeroMQ endpoint ("" when it is): tcp://HOST:PORT (PORT a number
// in 1..65535 or *), ipc://PATH or inproc://NAME.
std::string endpoint_shape_error(const std::string& endpoint);

// tcp://*:P, tcp://0.0.0.0:P, tcp://[::]:P: bound on every interface, so not an address to connect to.
bool is_wildcard_bind(const std::string& endpoint);
// tcp://HOST:* (the port is chosen when the socket binds).
bool is_any_port(const std::string& endpoint);

// What a peer connects to: `bound` (a socket's last endpoint) with a wildcard host replaced by `host`
// (a name or address of this machine that the peer can reach); other endpoints as they are.
std::string advertised_endpoint(const std::string& bound, const std::string& host);

// The checks of one endpoint key, throwing stride::Error naming `key`: its shape, a bind beyond
// loopback without `unauthenticated` (listen_policy.h), and what cannot cross processes or be found
// from the config alone with `launcher: processes` (inproc://, an any-port tcp://).
void check_bind_key(const std::string& key, const std::string& endpoint, bool unauthenticated,
                    const std::string& launcher);

}  // namespace stride
