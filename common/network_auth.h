// common/network_auth.h: which CURVE keys a role's sockets use (issue #20), from network.auth and
// network.keys_dir. A role makes its ZmqContext with job_curve_keys(cfg); the threads and processes
// launchers first give the job a fresh key set of its own (make_launcher_keys).
// Tested by tests/common/test_curve_auth.cpp.
#pragma once
#include <memory>

#include "common/config.h"
#include "common/curve_keys.h"

namespace stride {

// Whether the roles of this config authenticate their peers with CURVE: network.auth = curve, or
// auto with a network.keys_dir (which the launchers on one machine set).
bool curve_enabled(const NetworkConfig& net);

// Whether a bind beyond loopback is allowed: every peer is authenticated (curve, as above), or the
// user said the network is trusted (network.unauthenticated).
bool exposure_allowed(const NetworkConfig& net);

// The key set read from network.keys_dir; null when curve_enabled is false. Throws stride::Error
// naming the key when network.auth = curve has no keys_dir, or a key file is missing or unsafe.
std::shared_ptr<const CurveKeys> job_curve_keys(const JobConfig& cfg);

// The threads and processes launchers: unless network.auth = none or the user named network.keys_dir,
// writes a fresh key set to {run}/keys (a start never reuses an earlier start's keys) and points
// network.keys_dir at it, so every role, in this process or a child reading {run}/config.yaml, finds
// the same set.
void make_launcher_keys(JobConfig& cfg);

}  // namespace stride
