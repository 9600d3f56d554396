// common/network_auth.cpp: see network_auth.h.
#include "common/network_auth.h"

#include "common/base/error.h"

namespace stride {

bool curve_enabled(const NetworkConfig& net) {
    return net.auth == "curve" || (net.auth == "auto" && !net.keys_dir.empty());
}

bool exposure_allowed(const NetworkConfig& net) {
    return net.unauthenticated || curve_enabled(net);
}

std::shared_ptr<const CurveKeys> job_curve_keys(const JobConfig& cfg) {
    if (!curve_enabled(cfg.network)) return nullptr;
    STRIDE_CHECK(!cfg.network.keys_dir.empty(),
                 "network.auth: curve needs network.keys_dir for a role started on its own (make a key "
                 "set with `stride keys gen DIR` and copy it to every machine of the job)");
    STRIDE_CHECK(curve_supported(), "network.auth: this libzmq has no CURVE support; set network.auth=none");
    try {
        return std::make_shared<const CurveKeys>(read_curve_keys(cfg.network.keys_dir));
    } catch (const Error& e) {
        throw Error("network.keys_dir: " + std::string(e.what()));
    }
}

void make_launcher_keys(JobConfig& cfg) {
    if (cfg.network.auth == "none" || !cfg.network.keys_dir.empty()) return;
    const std::string dir = cfg.run_path() + "/keys";
    write_curve_keys(dir, generate_curve_keys());
    cfg.network.keys_dir = dir;
}

}  // namespace stride
