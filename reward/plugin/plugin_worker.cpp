// The worker side of a C ABI plug-in pool: the only place where plug-in code runs.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "common/messaging.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/plugin/plugin_protocol.h"
#include "reward/stride_reward.h"

namespace stride {

namespace {

namespace wire = reward_wire;
using Clock = std::chrono::steady_clock;
using AbiFn = int (*)();
using InitFn = void* (*)(const char*);
using ScoreFn = int (*)(void*, const stride_reward_item*, size_t, double*, char**);
using FreeFn = void (*)(void*);

int64_t address_space_bytes() {
    long pages = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
        std::fclose(f);
    }
    return static_cast<int64_t>(pages) * sysconf(_SC_PAGESIZE);
}

struct Plugin {
    void* state = nullptr;
    ScoreFn score = nullptr;
    FreeFn release = nullptr;
};

// Loads the plug-in under the memory cap; "" when it is ready, else why not.
std::string load(const PluginSpec& spec, int64_t memory_mb, const std::string& config_json, Plugin& out) {
    // The limit counts from what the worker already maps (binary, BLAS buffers, ZeroMQ threads), so
    // memory_mb is what the plug-in itself may add, whatever the size of the stride binary.
    if (memory_mb > 0) {
        rlim_t limit = static_cast<rlim_t>(address_space_bytes() + (memory_mb << 20));
        rlimit rl{limit, limit};
        if (setrlimit(RLIMIT_AS, &rl) != 0) return "setrlimit(RLIMIT_AS) failed";
    }
    void* lib = dlopen(spec.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) return std::string("dlopen failed: ") + dlerror();
    const char* suffixes[4] = {"_abi_version", "_init", "_score", "_free"};
    void* syms[4];
    for (int i = 0; i < 4; ++i) {
        syms[i] = dlsym(lib, (spec.prefix + suffixes[i]).c_str());
        if (!syms[i]) return "missing symbol " + spec.prefix + suffixes[i] + " (see reward/stride_reward.h)";
    }
    int version = reinterpret_cast<AbiFn>(syms[0])();
    if (version != STRIDE_REWARD_ABI_VERSION)
        return "ABI version " + std::to_string(version) + ", this Stride speaks " +
               std::to_string(STRIDE_REWARD_ABI_VERSION) + " (rebuild against reward/stride_reward.h)";
    out.state = reinterpret_cast<InitFn>(syms[1])(config_json.c_str());
    if (!out.state) return spec.prefix + "_init returned NULL";
    out.score = reinterpret_cast<ScoreFn>(syms[2]);
    out.release = reinterpret_cast<FreeFn>(syms[3]);
    return "";
}

// Scores a request one item per plug-in call, so a failing item fails alone, and reports what is
// done whenever flush_ms has passed (the pool's deadline for a batch counts from the last report).
void serve_request(ZmqSocket& sock, const Plugin& p, const PluginSpec& spec, const v1::RewardRequest& req) {
    v1::RewardReply reply;
    reply.set_request_id(req.request_id());
    auto last = Clock::now();
    const auto flush = std::chrono::milliseconds(req.flush_ms());
    auto send = [&] {
        sock.send_frames({wire::kScores, reply.SerializeAsString()}, INT_MAX);
        reply.set_first(reply.first() + static_cast<uint32_t>(reply.scores_size()));
        reply.clear_scores();
        reply.clear_ok();
        reply.clear_details();
        last = Clock::now();
    };
    for (int i = 0; i < req.items_size(); ++i) {
        const v1::RewardItem& it = req.items(i);
        const std::string meta = wire::metadata_json(it);
        stride_reward_item item{it.prompt().c_str(), it.response().c_str(), it.label().c_str(), meta.c_str()};
        double s = 0.0;
        char* detail = nullptr;
        int rc = p.score(p.state, &item, 1, &s, &detail);
        reply.add_scores(s);
        reply.add_ok(rc == 0);
        reply.add_details(detail    ? detail
                          : rc == 0 ? ""
                                    : spec.prefix + "_score returned " + std::to_string(rc));
        std::free(detail);  // the contract: malloc'd by the plug-in, freed by Stride
        if (req.flush_ms() > 0 && i + 1 < req.items_size() && Clock::now() - last >= flush) send();
    }
    send();
}

}  // namespace

int run_reward_worker(const std::string& endpoint, const PluginSpec& spec, int64_t memory_mb,
                      const std::string& keys_dir) {
    // With the job's keys the bridge is CURVE: connect presents the client pair, checks the server key.
    ZmqContext ctx(keys_dir.empty() ? nullptr : std::make_shared<const CurveKeys>(read_curve_keys(keys_dir)));
    ZmqSocket sock(ctx, ZMQ_DEALER);
    sock.connect(endpoint);
    sock.send_frames({wire::kHello, std::to_string(getpid())}, INT_MAX);
    std::optional<std::vector<std::string>> schema;
    while (!(schema = sock.recv_frames(INT_MAX))) {
    }
    if (schema->size() < 3 || (*schema)[0] != wire::kSchema) return 1;
    Plugin p;
    std::string why = load(spec, memory_mb, (*schema)[2], p);
    if (!why.empty()) {
        sock.send_frames({wire::kFailed, why}, INT_MAX);
        return 1;
    }
    sock.send_frames({wire::kReady}, INT_MAX);
    // Serve until the pool says stop; a pool that dies takes us with it (PR_SET_PDEATHSIG).
    for (;;) {
        auto frames = sock.recv_frames(INT_MAX);
        if (!frames || frames->empty()) continue;
        if ((*frames)[0] == wire::kStop) break;
        v1::RewardRequest req;
        if ((*frames)[0] != wire::kScore || frames->size() < 2 || !req.ParseFromString((*frames)[1]))
            continue;
        serve_request(sock, p, spec, req);
    }
    p.release(p.state);
    return 0;
}

}  // namespace stride
