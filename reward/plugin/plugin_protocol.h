// The link between a reward pool (reward/plugin/plugin_pool.h) and its worker processes: ZeroMQ multipart
// messages on a private ipc:// endpoint, or reward.bind (CURVE with the job's keys, when it has them). The
// pool binds a ROUTER; each worker (`stride reward worker` for C ABI plug-ins, `python3 -m stride_reward
// serve` for Python functions) connects a DEALER. The first frame names the message:
//
//   worker -> pool   hello  PID                   connected; PID tells the pool which child it is
//                    hello  remote                a worker the pool did not start (another host);
//                                                 served only with CURVE and reward.bind
//   pool -> worker   schema DESCRIPTOR CONFIG     proto/stride.proto as a FileDescriptorProto, and
//                                                 the plug-in configuration (a JSON object)
//   worker -> pool   ready                        loaded, initialised, memory capped: send work
//                    failed WHY                   cannot serve (dlopen, import, init); it exits
//   pool -> worker   score  RewardRequest
//   worker -> pool   scores RewardReply           one or more per request (RewardRequest.flush_ms)
//   pool -> worker   stop                         exit cleanly (a C plug-in's <prefix>_free runs)
//
// The schema frame lets the Python worker build its message classes from the descriptors of the
// binary it talks to: no generated Python code to build, install or keep in step with the C++ side.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/stride.pb.h"
#include "reward/reward.h"

namespace stride::reward_wire {

inline constexpr char kHello[] = "hello";
inline constexpr char kSchema[] = "schema";
inline constexpr char kReady[] = "ready";
inline constexpr char kFailed[] = "failed";
inline constexpr char kScore[] = "score";
inline constexpr char kScores[] = "scores";
inline constexpr char kStop[] = "stop";
inline constexpr char kRemote[] = "remote";  // the hello of a worker the pool did not start

// The serialized FileDescriptorProto of proto/stride.proto (the schema frame).
const std::string& schema_descriptor();

void to_item(const RewardInput& in, v1::RewardItem* out);

// What a C ABI plug-in sees as metadata_json: {"response_tokens": N, "truncated": bool,
// "data_source": "...", "extra_info": {...}}.
std::string metadata_json(const v1::RewardItem& item);

// A `scores` frame checked against the request in flight: its request_id, its n_items, and next (the
// first item without a result). The results it carries, in order, or nullopt when it is malformed (no
// RewardReply, another request, not starting at next, lists of unequal length, more results than the
// items left). A failed or non-finite score is status error, its detail prefixed with `name`; a
// score >= 1 is correct. Fuzzed by tests/fuzz/fuzz_reward_reply.cpp.
std::optional<std::vector<RewardResult>> read_scores(const std::string& bytes, uint64_t request_id,
                                                     size_t next, size_t n_items, const std::string& name);

}  // namespace stride::reward_wire
