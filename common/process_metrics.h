// common/process_metrics.h: CPU seconds and resident memory of this process, read from /proc/self at
// every scrape (stride_process_cpu_seconds_total, stride_process_resident_memory_bytes,
// stride_process_start_time_seconds).
#pragma once
#include <string>

#include "common/metrics.h"

namespace stride {

struct ProcessSample {
    double cpu_seconds = 0;  // user + system
    double resident_bytes = 0;
};
// Reads /proc/self/stat and /proc/self/statm; zeros when they cannot be read.
ProcessSample read_process_sample();

// Registers the process gauges with labels {job, role, worker} and a collect hook that refreshes
// them. Call once per process (later calls are ignored).
void register_process_metrics(MetricsRegistry& registry, const std::string& job, const std::string& role,
                              const std::string& worker);

}  // namespace stride
