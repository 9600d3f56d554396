#include "model/cli/args.h"

#include <cstdlib>

#include "common/base/error.h"

namespace stride::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& flags, const std::set<std::string>& switches) {
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        STRIDE_CHECK(a.rfind("--", 0) == 0, "unexpected argument '" + a + "' (flags start with --)");
        std::string name = a.substr(2);
        std::string value;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            STRIDE_CHECK(flags.count(name), "unknown flag --" + name);
        } else if (switches.count(name)) {
            value = "1";
        } else {
            STRIDE_CHECK(flags.count(name), "unknown flag --" + name);
            STRIDE_CHECK(i + 1 < argc, "flag --" + name + " needs a value");
            value = argv[++i];
        }
        values_[name] = value;
    }
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
    auto it = values_.find(name);
    STRIDE_CHECK(it != values_.end(), "missing --" + name);
    return it->second;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    return has(name) ? get(name) : fallback;
}

static long long parse_integer(const std::string& name, const std::string& v) {
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    STRIDE_CHECK(!v.empty() && end && *end == '\0', "--" + name + " expects an integer, got '" + v + "'");
    return x;
}

int Args::get_int(const std::string& name) const { return static_cast<int>(parse_integer(name, get(name))); }
int Args::get_int(const std::string& name, int fallback) const { return has(name) ? get_int(name) : fallback; }

uint64_t Args::get_u64(const std::string& name, uint64_t fallback) const {
    return has(name) ? static_cast<uint64_t>(parse_integer(name, get(name))) : fallback;
}

double Args::get_double(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    std::string v = get(name);
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    STRIDE_CHECK(!v.empty() && end && *end == '\0', "--" + name + " expects a number, got '" + v + "'");
    return x;
}

}  // namespace stride::cli
