#include "common/base/placement.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/base/error.h"

namespace stride {

namespace {

int parse_cpu(const std::string& list, const std::string& part, const std::string& num) {
    const bool digits =
        !num.empty() && num.size() <= 5 &&
        std::all_of(num.begin(), num.end(), [](unsigned char ch) { return std::isdigit(ch); });
    if (!digits) throw Error("cpu list '" + list + "': '" + part + "' is not a CPU number or a range a-b");
    return std::atoi(num.c_str());
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
    std::vector<int> cpus;
    size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        size_t end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        std::string part = text.substr(start, end - start);
        part.erase(
            std::remove_if(part.begin(), part.end(), [](unsigned char ch) { return std::isspace(ch); }),
            part.end());
        const size_t dash = part.find('-');
        if (dash == std::string::npos) {
            cpus.push_back(parse_cpu(text, part, part));
        } else {
            const int lo = parse_cpu(text, part, part.substr(0, dash));
            const int hi = parse_cpu(text, part, part.substr(dash + 1));
            if (hi < lo) throw Error("cpu list '" + text + "': range '" + part + "' runs backwards");
            for (int c = lo; c <= hi; ++c) cpus.push_back(c);
        }
        start = end + 1;
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    if (!cpus.empty() && cpus.back() >= CPU_SETSIZE)
        throw Error("cpu list '" + text + "': CPU " + std::to_string(cpus.back()) + " is beyond " +
                    std::to_string(CPU_SETSIZE - 1));
    return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ",";
        out += std::to_string(cpus[i]);
        if (j > i) out += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

void pin_current_thread(const std::vector<int>& cpus) {
    STRIDE_CHECK(!cpus.empty(), "pin: empty CPU list");
    const std::vector<int> allowed = allowed_cpus();
    for (int c : cpus)
        STRIDE_CHECK(std::binary_search(allowed.begin(), allowed.end(), c),
                     "placement: CPU " + std::to_string(c) +
                         " is not available to this process (allowed: " + format_cpu_list(allowed) + ")");
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) CPU_SET(c, &set);
    // On Linux, sched_setaffinity(0) applies to the calling thread only; threads it starts later
    // (its OpenMP team, created lazily at its first parallel region) inherit the mask.
    STRIDE_CHECK(sched_setaffinity(0, sizeof(set), &set) == 0,
                 "placement: sched_setaffinity(" + format_cpu_list(cpus) + ") failed");
    // nthreads-var is per thread: this role's parallel regions (and OpenBLAS's OpenMP build, which
    // follows omp_get_max_threads() of its caller) use exactly its cores.
    omp_set_num_threads(static_cast<int>(cpus.size()));
}

}  // namespace stride
