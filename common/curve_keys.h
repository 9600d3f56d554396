// common/curve_keys.h: a job's CURVE key set (issue #20) and its files. One server pair (every role
// that binds serves with it), one client pair (every role that connects presents it) and the list of
// client public keys the ZAP handler admits (common/zap_handler.h). Keys are Z85 text, 40 characters.
//
// On disk, in one directory (0700) of files readable by their owner only (0600):
//   server.key  server.key_secret  client.key  client.key_secret  clients (one public key a line)
// `stride keys gen DIR` writes one; the threads and processes launchers write an ephemeral one to
// {run}/keys at every start (scheduler/job.cpp). Tested by tests/common/test_curve_auth.cpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace stride {

struct CurveKeys {
    std::string server_public, server_secret;
    std::string client_public, client_secret;
    std::vector<std::string> allowed_clients;  // Z85 public keys; holds client_public
};

// Whether this libzmq was built with CURVE (Debian's libzmq5 is, with libsodium).
bool curve_supported();

// A fresh key set (zmq_curve_keypair) whose allowed clients are its own client key.
CurveKeys generate_curve_keys();

// Writes the five files of `keys` to dir (created 0700; files 0600, replaced if present).
void write_curve_keys(const std::string& dir, const CurveKeys& keys);

// Reads a key set; throws stride::Error naming the file when one is missing, readable by group or
// others, or not a 40-character Z85 key, and when `clients` lists no key.
CurveKeys read_curve_keys(const std::string& dir);

// Whether text is a 40-character Z85 key that decodes to 32 bytes.
bool is_z85_key(const std::string& text);

}  // namespace stride
