// The worker side of the plug-in pool: the only place where plug-in code runs.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "reward/plugin_pool.h"
#include "reward/plugin_protocol.h"
#include "reward/stride_reward.h"

namespace stride {

namespace {

using namespace plugin_wire;
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

int refuse(int fd, const std::string& why) {
    Writer w;
    w.u8(0);
    w.str(why);
    send_frame(fd, w.bytes());
    return 1;
}

}  // namespace

int run_reward_worker(int fd, const PluginSpec& spec, int64_t memory_mb, const std::string& config_json) {
    // The limit counts from what the worker already maps (binary, BLAS buffers), so memory_mb is
    // what the plug-in itself may add, whatever the size of the stride binary.
    if (memory_mb > 0) {
        rlim_t limit = static_cast<rlim_t>(address_space_bytes() + (memory_mb << 20));
        rlimit rl{limit, limit};
        if (setrlimit(RLIMIT_AS, &rl) != 0) return refuse(fd, "setrlimit(RLIMIT_AS) failed");
    }
    void* lib = dlopen(spec.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) return refuse(fd, std::string("dlopen failed: ") + dlerror());
    auto sym = [&](const char* suffix) { return dlsym(lib, (spec.prefix + suffix).c_str()); };
    void* syms[4] = {sym("_abi_version"), sym("_init"), sym("_score"), sym("_free")};
    const char* suffixes[4] = {"_abi_version", "_init", "_score", "_free"};
    for (int i = 0; i < 4; ++i)
        if (!syms[i])
            return refuse(fd,
                          "missing symbol " + spec.prefix + suffixes[i] + " (see reward/stride_reward.h)");
    auto abi = reinterpret_cast<AbiFn>(syms[0]);
    auto init = reinterpret_cast<InitFn>(syms[1]);
    auto score = reinterpret_cast<ScoreFn>(syms[2]);
    auto release = reinterpret_cast<FreeFn>(syms[3]);
    int version = abi();
    if (version != STRIDE_REWARD_ABI_VERSION)
        return refuse(fd, "ABI version " + std::to_string(version) + ", this Stride speaks " +
                              std::to_string(STRIDE_REWARD_ABI_VERSION) +
                              " (rebuild against reward/stride_reward.h)");
    void* state = init(config_json.c_str());
    if (!state) return refuse(fd, spec.prefix + "_init returned NULL");
    {
        Writer hello;
        hello.u8(1);
        hello.str("");
        if (!send_frame(fd, hello.bytes())) return 1;
    }
    std::string frame;
    // Serve until the parent closes its end (pool shutdown) or sends garbage.
    while (recv_frame(fd, frame, 0) == RecvResult::ok) {
        Reader req(frame);
        std::string prompt = req.str(), response = req.str(), label = req.str(), meta = req.str();
        if (!req.ok()) break;
        stride_reward_item item{prompt.c_str(), response.c_str(), label.c_str(), meta.c_str()};
        double s = 0.0;
        char* detail = nullptr;
        int rc = score(state, &item, 1, &s, &detail);
        Writer reply;
        reply.u8(rc == 0 ? 1 : 0);
        reply.f64(s);
        reply.str(detail ? detail : rc == 0 ? "" : spec.prefix + "_score returned " + std::to_string(rc));
        std::free(detail);  // the contract: malloc'd by the plug-in, freed by Stride
        if (!send_frame(fd, reply.bytes())) break;
    }
    release(state);
    return 0;
}

}  // namespace stride
