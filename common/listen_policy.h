// common/listen_policy.h: what a job may listen on, and directories only its user can enter.
// Until CURVE authentication exists (ARCHITECTURE.md, "Authentication"), every role socket binds
// loopback, a Unix socket in an owner-only directory, or inproc; the config loader refuses the rest
// unless network.unauthenticated says the network is trusted (common/bind_endpoint.h).
#pragma once
#include <string>
#include <string_view>

namespace stride {

// "localhost", an IPv4 address in 127.0.0.0/8, "::1" (bracketed or not) or ::ffff:127.x.y.z.
bool is_loopback_host(std::string_view host);

// Why `endpoint` must not be bound by a job without authentication ("" when it may): a tcp:// address
// that is not loopback (0.0.0.0, *, an interface or host name, another address), an abstract
// ipc://@ socket (no file permissions guard it), or a transport other than tcp, ipc and inproc.
std::string listen_exposure(const std::string& endpoint);

// Creates `path` and any missing parents with mode 0700 (chmod after mkdir: the umask does not
// matter), then makes `path` itself 0700. Throws stride::Error naming `what` and the path when it
// cannot, when `path` belongs to another user, or (no_symlink) when `path` is a symbolic link.
void make_private_dir(const std::string& path, const std::string& what, bool no_symlink = false);

}  // namespace stride
