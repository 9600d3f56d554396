// Pinning roles to CPU cores. A role (the trainer, each rollout worker, the buffer) may own a set of
// cores, as in the anchors' disaggregated setting: then its compute threads run there and nowhere
// else, and its OpenMP/BLAS thread count equals the size of its set.
#pragma once
#include <string>
#include <vector>

namespace stride {

// "0-3,8,10-11" -> {0,1,2,3,8,10,11} (sorted, unique). Empty text -> empty list. Throws Error naming
// the bad part ("cpu list '0-x': ...").
std::vector<int> parse_cpu_list(const std::string& text);

// "0-3,8" form of a list.
std::string format_cpu_list(const std::vector<int>& cpus);

// Restricts the calling thread (and the threads it creates later, such as its OpenMP team) to
// `cpus`, and sets the calling thread's OpenMP (hence OpenBLAS) thread count to cpus.size().
// Throws Error when a CPU is not available to this process (names it and lists the allowed ones).
void pin_current_thread(const std::vector<int>& cpus);

// CPUs this process may run on (its affinity mask).
std::vector<int> allowed_cpus();

}  // namespace stride
