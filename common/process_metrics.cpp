// common/process_metrics.cpp: see process_metrics.h.
#include "common/process_metrics.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>

namespace stride {

ProcessSample read_process_sample() {
    ProcessSample s;
    // /proc/self/stat: the command name (field 2) may contain spaces, so parse after its ')'.
    std::ifstream stat("/proc/self/stat");
    std::string line;
    if (std::getline(stat, line)) {
        const size_t close = line.rfind(')');
        if (close != std::string::npos) {
            std::istringstream rest(line.substr(close + 2));
            std::string field;
            double utime = 0, stime = 0;
            // Fields 3.. follow; utime and stime are fields 14 and 15, i.e. the 12th and 13th here.
            for (int i = 3; i <= 15 && rest >> field; ++i) {
                if (i == 14) utime = std::stod(field);
                if (i == 15) stime = std::stod(field);
            }
            s.cpu_seconds = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
        }
    }
    std::ifstream statm("/proc/self/statm");
    double size = 0, resident = 0;
    if (statm >> size >> resident) s.resident_bytes = resident * static_cast<double>(sysconf(_SC_PAGESIZE));
    return s;
}

void register_process_metrics(MetricsRegistry& registry, const std::string& job, const std::string& role,
                              const std::string& worker) {
    static std::once_flag once;
    std::call_once(once, [&] {
        const std::vector<std::string> lv = {job, role, worker};
        Counter& cpu =
            registry
                .counter("stride_process_cpu_seconds", "User and system CPU time of the process", kRoleLabels)
                .with(lv);
        Gauge& rss =
            registry
                .gauge("stride_process_resident_memory_bytes", "Resident memory of the process", kRoleLabels)
                .with(lv);
        registry
            .gauge("stride_process_start_time_seconds", "Start of the metrics exporter, Unix time",
                   kRoleLabels)
            .with(lv)
            .set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
        registry.add_collect_hook([&cpu, &rss] {
            const ProcessSample s = read_process_sample();
            // The counter holds what /proc reported last time; add the difference.
            const double delta = s.cpu_seconds - cpu.value();
            if (delta > 0) cpu.add(delta);
            rss.set(s.resident_bytes);
        });
    });
}

}  // namespace stride
